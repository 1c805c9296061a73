"""What the robustness tests share: the hostile site (articles carrying script and img payloads) and the counts report."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import search
from search.web import create_app

from .conftest import ARTICLES, write_jsonl

TIME_BOUND = 2.0  # seconds any single search may take


def report_counts(request, label: str, stats: Counter[str]) -> None:
    """Print a module's counts after its tests, past pytest's capture."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    line = f"{label} counts: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items()))
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print("\n" + line)
    else:  # pragma: no cover
        print(line)


SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PAYLOADS = (SCRIPT, IMG)

XSS_ARTICLES = [
    {
        "id": "xss-1",
        "title": f"衡阳晚报{SCRIPT}疫情防控",
        "lead": f"核心{SCRIPT}提示",
        "body": f"衡阳市召开疫情防控会议{IMG}。会上{SCRIPT}强调联防联控。\n第二段{IMG}衡阳。",
        "source": f"来源{IMG}",
        "channel": f"栏目{SCRIPT}",
        "authors": [f"记者 {SCRIPT}"],
        "tags": [IMG],
        "published": "2022-01-01 09:00:00",
        "views": 5000,
    },
    {
        "id": "xss-2",
        "title": f"衡阳疫情防控{IMG}新进展",
        "body": f"衡阳疫情防控工作会议{SCRIPT}召开。衡阳市民{IMG}积极配合。",
        "published": "2022-01-02 09:00:00",
        "views": 4000,
    },
    {
        "id": SCRIPT,
        "title": f"衡阳疫情防控编号注入{IMG}",
        "body": "衡阳疫情防控，编号里有脚本。",
        "published": "2022-01-03 09:00:00",
        "views": 3000,
    },
    {
        "id": "js-url",
        "title": "衡阳疫情防控外链报道",
        "url": "javascript:alert(1)",
        "body": "衡阳疫情防控工作会议召开，外链报道。",
        "published": "2022-01-04 09:00:00",
    },
]


class Site:
    def __init__(self, root: Path, analyzer: search.Analyzer) -> None:
        corpus = write_jsonl(root / "site.jsonl", ARTICLES + XSS_ARTICLES)
        self.store = search.IndexStore(root / "ix", analyzer)
        report = search.reindex(self.store, [corpus], full=True, workers=1)
        assert report.ok, report.errors
        self.engine = search.SearchEngine(self.store)
        self.app = create_app({"INDEX": str(root / "ix"), "TESTING": True})
        self.client = self.app.test_client()


CHILD_SEARCH = """
import sys, time
from pathlib import Path
import search
engine = search.SearchEngine(search.IndexStore(sys.argv[1], search.Analyzer()))
engine.search(sys.argv[2])  # opens the index and builds the scoring arrays
query = Path(sys.argv[3]).read_text(encoding="utf-8")
print("ready", flush=True)
started = time.perf_counter()
try:
    engine.search(query)
except search.QueryError:
    pass
print("done %.3f" % (time.perf_counter() - started), flush=True)
"""


def child_search_seconds(index: Path, query: str, warm: str, tmp_path: Path) -> float | None:
    """Time one search in a child process; None when it has not answered within the time bound.

    For searches known to run for minutes: the child is killed at the bound instead of waited out.
    """
    query_file = tmp_path / "query.txt"
    query_file.write_text(query, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_SEARCH, str(index), warm, str(query_file)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready and proc.stdout.readline().strip() == "ready"
        try:
            out, _ = proc.communicate(timeout=TIME_BOUND + 1)
        except subprocess.TimeoutExpired:
            return None
        assert out.startswith("done"), out
        return float(out.split()[1])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def assert_safe_html(fragment: str) -> None:
    """An HTML field of a result: escaped text, with only <mark> tags."""
    rest = re.sub(r"</?mark>", "", fragment)
    assert "<" not in rest and ">" not in rest, fragment
    for payload in PAYLOADS:
        assert payload not in fragment
