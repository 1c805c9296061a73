"""Real parts the tests start (Chromium, wrk, MariaDB, nginx, rsync, ../shared).

On a developer's machine a missing part skips the tests that need it, saying
why. Under CI (``CI=true``, as ``.ci/run`` runs) a missing part fails the run
with the same reason: a green CI must mean the test ran.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(available: bool, reason: str) -> None:
    """Skip the calling test (or fail it under ``CI=true``) unless ``available``."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (a required part is missing under CI=true; see tests/setup_system.sh)", pytrace=False)
    pytest.skip(reason)


def require_executable(path_or_name: str, package: str) -> str:
    """Return the executable's path, or skip/fail naming the Debian ``package`` that provides it."""
    found = path_or_name if os.access(path_or_name, os.X_OK) else shutil.which(path_or_name)
    require(found is not None, f"{path_or_name} not found (Debian package {package}: bash tests/setup_system.sh)")
    return str(found)
