"""schemathesis against ``/api/openapi.json``: every operation, generated inputs, all default checks.

The app is served in-process (WSGI) over an index of the project's sample
corpus. Checks include: no 5xx, status codes and content types documented,
responses matching their schemas, documented-invalid input rejected with a
4xx, valid input accepted.
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode

from search.web import create_app

SEEN: Counter[str] = Counter()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, sample_index, request):
    root = tmp_path_factory.mktemp("schema") / "ix"
    shutil.copytree(sample_index, root)  # a copy: the app writes its query log beside the index
    app = create_app({"INDEX": str(root), "TESTING": True})
    yield schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    capman = request.config.pluginmanager.getplugin("capturemanager")
    line = "schemathesis: " + ", ".join(f"{k} {v}" for k, v in sorted(SEEN.items()))
    with capman.global_and_fixture_disabled():
        print("\n" + line)


def operations() -> list:
    """(operation, generation mode): valid input for all, invalid input where a query parameter can be wrong."""
    from search.web.openapi import openapi_document

    cases = []
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            cases.append(pytest.param(label, GenerationMode.POSITIVE, id=f"{label} valid"))
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                cases.append(pytest.param(label, GenerationMode.NEGATIVE, id=f"{label} invalid"))
    return cases


@pytest.mark.parametrize(("label", "mode"), operations())
def test_api_conforms_to_its_schema(api_schema, label, mode):
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case) -> None:
        if mode == GenerationMode.POSITIVE and path == "/api/search":
            # A joint bound OpenAPI cannot state: page × size within MAX_RESULT_WINDOW (else a 400).
            query = case.query or {}
            page, size = query.get("page"), query.get("size")
            size = size if isinstance(size, int) else 10  # absent or empty: the default page size
            assume(not (isinstance(page, int) and page * size > 1000))
        response = case.call_and_validate()
        SEEN["requests"] += 1
        SEEN[f"status {response.status_code}"] += 1
        assert response.status_code < 500

    check()
