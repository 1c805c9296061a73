#!/usr/bin/env bash
# Install the system tools some tests drive; safe to run again and again.
#   bash tests/setup_system.sh [VENV]      (VENV defaults to .venv)
# - Debian's chromium at /usr/bin/chromium and CJK fonts (tests/test_browser.py)
# - Debian's wrk, the HTTP load tool (tests/test_soak.py, benchmarks/bench.py)
#   (apt-get, only when missing and root)
# - Debian's mariadb-server, nginx and rsync (CMS sync and replica tests)
# - the `playwright` Python package inside VENV (only when missing)
# Never runs `playwright install`: the test drives the system Chromium through
# executable_path, and browser downloads are not possible here.
# Never fails: without a tool the tests that need it skip themselves (and fail
# under CI=true, see tests/parts.py).
set -u

VENV="${1:-.venv}"
PY="$VENV/bin/python"
CHROMIUM=/usr/bin/chromium

note() { echo "setup_system: $*"; }

if [ -x "$CHROMIUM" ]; then
    note "chromium present ($CHROMIUM)"
elif [ "$(id -u)" != "0" ]; then
    note "chromium missing and not root: skipping apt (the browser test will skip)"
elif ! command -v apt-get >/dev/null 2>&1; then
    note "chromium missing and apt-get unavailable (the browser test will skip)"
else
    note "installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; then
        note "chromium installed"
    elif apt-get install -y -qq chromium >/dev/null; then
        note "chromium installed (without CJK fonts)"
    else
        note "apt-get could not install chromium (the browser test will skip)"
    fi
fi

if command -v wrk >/dev/null 2>&1; then
    note "wrk present"
elif [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    note "wrk missing and cannot apt-get (the soak test will skip)"
else
    note "installing wrk with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get install -y -qq --no-install-recommends wrk >/dev/null \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }; then
        note "wrk installed"
    else
        note "apt-get could not install wrk (the soak test will skip)"
    fi
fi

# Servers and tools the integration tests start themselves, on loopback, in
# temporary directories: MariaDB (CMS sync), nginx and rsync (replicas).
for pair in mariadbd:mariadb-server nginx:nginx rsync:rsync; do
    tool="${pair%%:*}"; pkg="${pair##*:}"
    if command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ]; then
        note "$tool present"
    elif [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        note "$tool missing and cannot apt-get (tests that need $pkg will skip, or fail under CI=true)"
    else
        note "installing $pkg with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        if apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; }; then
            note "$pkg installed"
            # Debian starts the packaged services; the tests run their own on loopback.
            if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$pkg" >/dev/null 2>&1 || true; fi
            service "$tool" stop >/dev/null 2>&1 || service "$pkg" stop >/dev/null 2>&1 || true
        else
            note "apt-get could not install $pkg"
        fi
    fi
done

if [ ! -x "$PY" ]; then
    note "no virtualenv at $VENV: skipping playwright (the browser test will skip)"
elif "$PY" -c "import playwright.sync_api" >/dev/null 2>&1; then
    note "playwright present in $VENV"
else
    note "installing playwright into $VENV"
    if ! "$PY" -m pip install --quiet playwright; then
        note "pip could not install playwright (the browser test will skip)"
    fi
fi
exit 0
