"""The benchmark's arithmetic: medians of runs, ratios, and issue 18's targets as PASS / MISS."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
bench = sys.modules.setdefault("bench", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(bench)


def system(per_s: float, size: float, rss: float, p50: float, p99: float, plain_p50: float | None = None) -> dict:
    """A system's numbers; ``plain_p50``: its p50 without snippets (ours measured twice; tantivy makes none)."""
    out = {
        "index": {"articles_per_s": per_s, "seconds": 10_000 / per_s, "size_mb": size, "max_rss_mb": rss},
        "queries": {"short": {"n": 200, "p50_ms": p50, "p99_ms": p99}},
    }
    if plain_p50 is not None:
        out["queries_plain"] = {"short": {"n": 200, "p50_ms": plain_p50, "p99_ms": p99}}
    return out


def report(ours: dict, naive: dict, tantivy: dict, articles: int = 19_876, http: dict | None = None) -> dict:
    return {
        "config": {"articles": articles, "http_seconds": 10},
        "query_sets": ["short"],
        "systems": {"ours": ours, "naive": naive, "tantivy": tantivy},
        "http": http or {},
    }


def test_median_report_takes_the_median_of_every_number_and_keeps_the_runs():
    runs = [
        {"systems": {"ours": {"index": {"size_mb": s, "docs": 3}, "index_dir": f"/tmp/run{i}"}}, "notes": [f"n{i}"]}
        for i, s in enumerate((90.0, 120.0, 95.0), 1)
    ]
    merged = bench.median_report(runs)
    assert merged == {
        "systems": {"ours": {"index": {"size_mb": 95.0, "docs": 3}, "index_dir": "/tmp/run1"}},
        "notes": ["n1"],
        "per_run": runs,
    }


def test_targets_pass_and_miss_by_the_issue_s_bounds():
    r = report(
        ours=system(per_s=300, size=90, rss=500, p50=2.0, p99=5.0, plain_p50=1.5),
        naive=system(per_s=100, size=100, rss=300, p50=25.0, p99=40.0),
        tantivy=system(per_s=600, size=40, rss=150, p50=0.25, p99=0.5, plain_p50=0.25),
    )
    rows, verdicts = bench.build_rows(r)
    assert [(v["row"], v["target"], round(v["value"], 4), v["met"]) for v in verdicts] == [
        ("indexing: throughput, articles/s", "≥ 3× naive", 3.0, True),
        ("indexing: index size on disk, MB", "≤ 1× naive", 0.9, True),
        ("indexing: peak RSS, largest process, MB", "≤ 2× naive", 1.6667, True),
        ("short queries: p50, ms", "≤ 0.1× naive", 0.08, True),
        ("short queries: p50 without snippets, ms", "≤ 10× tantivy", 6.0, True),
        ("short queries: p99, ms", "≤ 0.1× naive", 0.125, False),
    ]
    assert bench.target_summary(r) == ("targets (issue 18): 5 of 6 met; MISS: short queries: p99, ms (≤ 0.1× naive)")
    table = bench.table(r).splitlines()
    assert table[0].split() == [
        *("metric", "better", "ours", "naive", "tantivy", "ours/naive", "ours/tantivy", "target", "met"),
    ]
    assert table[2] == "indexing (fresh process per system)"
    assert table[3].split() == [
        *("throughput,", "articles/s", "higher", "300", "100", "600", "3.00×", "0.50×", "≥", "3×", "naive", "PASS"),
    ]
    assert [line.split()[-1] for line in table if "MISS" in line] == ["MISS"]
    assert next(line for line in table if line.startswith("  p50, ms")).split() == [
        *("p50,", "ms", "lower", "2.00", "25.0", "0.250", "0.08×", "8.00×", "≤", "0.1×", "naive", "PASS"),
    ]
    assert next(line for line in table if line.startswith("  p50 without snippets")).split() == [
        *("p50", "without", "snippets,", "ms", "lower", "1.50", "—", "0.250", "—", "6.00×", "≤", "10×", "tantivy"),
        "PASS",
    ]


def test_a_ratio_over_runs_is_the_median_of_each_run_s_own_ratio():
    # Size ours ÷ naive per run: 0.9, 1.2, 1.1875. The median of the runs' sizes (95 ÷ 100)
    # would pass; the median of the runs' own ratios (1.1875) does not.
    runs = [
        report(system(300, ours, 500, 2, 3), system(100, naive, 300, 25, 40), system(600, 40, 150, 0.25, 0.5))
        for ours, naive in ((90, 100), (120, 100), (95, 80))
    ]
    merged = bench.median_report(runs)
    assert merged["systems"]["ours"]["index"]["size_mb"] == 95
    assert merged["systems"]["naive"]["index"]["size_mb"] == 100
    _, verdicts = bench.build_rows(merged)
    size = next(v for v in verdicts if v["row"] == "indexing: index size on disk, MB")
    assert (size["value"], size["met"]) == (1.1875, False)
    assert "1.19×" in next(line for line in bench.table(merged).splitlines() if "index size" in line)


def test_the_million_article_targets_are_checked_only_at_a_million_articles():
    http = {"runs": {"4": {"rps": 40.0, "p50_ms": 60.0, "p99_ms": 180.0, "errors": 0, "requests": 400}}}
    ours = {**system(300, 5_000, 1_500, 20, 90), "update": {"docs": 1000, "seconds": 12.0, "max_rss_mb": 900}}
    ours["index"]["seconds"] = 4_000
    others = system(100, 6_000, 900, 400, 2_000), system(600, 2_000, 300, 3, 9)
    small = {v["target"] for v in bench.build_rows(report(ours, *others, http=http))[1]}
    assert small == {"≥ 3× naive", "≤ 1× naive", "≤ 2× naive", "≤ 0.1× naive", "≤ 10× tantivy"}
    _, verdicts = bench.build_rows(report(ours, *others, articles=1_000_000, http=http))
    absolute = [(v["row"], v["target"], v["value"], v["met"]) for v in verdicts if "×" not in v["target"]]
    assert absolute == [
        ("indexing: build time, s", "< 60 min", 4_000, False),
        ("indexing: index size on disk, MB", "< 6 GB", 5_000, True),
        ("indexing: peak RSS, largest process, MB", "< 2 GB", 1_500, True),
        ("short queries: p99, ms", "< 100 ms", 90, True),
        ("HTTP: c=4: p50 / p99, ms", "p99 < 150 ms", 180.0, False),
        ("update: update time, s", "< 30 s", 12.0, True),
    ]


def test_update_corpus_copies_the_first_articles_with_new_ids(tmp_path):
    corpus = tmp_path / "c.jsonl.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as f:
        for i in range(5):
            f.write(json.dumps({"id": f"a{i}", "title": f"标题{i}", "body": "正文"}, ensure_ascii=False) + "\n")
    path = bench.update_corpus(corpus, tmp_path, 3)
    assert [json.loads(line) for line in path.read_text("utf-8").splitlines()] == [
        {"id": f"a{i}~u", "title": f"标题{i}", "body": "正文"} for i in range(3)
    ]
