"""Ranking quality is data: judged queries, metrics, floors and pinned sentinels.

The project's own collection (tests/data/judged, written for the sample corpus)
always runs. The shared dev tasks run when ../shared/data/relevance exists (and
fail under CI=true when it does not) and must beat the best baseline listed in
../shared/data/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import search
from search.evaluation import evaluate, read_qrels, read_queries, run_queries, score_run

from .conftest import SHARED
from .parts import require

ROOT = Path(__file__).resolve().parents[1]
JUDGED = Path(__file__).parent / "data" / "judged"

# Floors for our own collection: measured values minus a small margin.
OWN_FLOORS = {"ndcg@10": 0.95, "mrr@10": 0.97, "recall@100": 0.95}

# nDCG@10 floors on the dev tasks: the targets of the ranking issue, i.e. the best
# baseline in ../shared/data/README.md plus 0.04 (xwlb) / 0.02 (qbqtc), and no worse
# than the best baseline on the saturated tasks. Reached (python cli.py eval TASK):
# xwlb 0.6587, qbqtc 0.8154, news-topics 0.9514, cmrc2018 0.9940.
DEV_FLOORS = {
    "xwlb-title-dev": 0.6454,  # best baseline 0.6054 + 0.04
    "qbqtc-dev": 0.8096,  # best baseline 0.7896 + 0.02
    "news-topics-dev": 0.9405,  # best baseline 0.9405
    "cmrc2018-dev": 0.9926,  # best baseline 0.9926
}


@pytest.fixture(scope="module")
def sample_engine(sample_index, analyzer) -> search.SearchEngine:
    return search.SearchEngine(search.IndexStore(sample_index, analyzer))


def test_judged_collection_floors(sample_engine):
    queries = read_queries(JUDGED / "queries.tsv")
    run, _ = run_queries(sample_engine, queries)
    metrics = score_run(read_qrels(JUDGED / "qrels.txt"), run)
    print(json.dumps(metrics))
    for name, floor in OWN_FLOORS.items():
        assert metrics[name] >= floor, (name, metrics)


SENTINELS = [
    line.split("\t")[:2] for line in (JUDGED / "sentinels.tsv").read_text(encoding="utf-8").splitlines() if line.strip()
]


@pytest.mark.parametrize("query, expected", SENTINELS)
def test_sentinel_top_hit(sample_engine, query, expected):
    assert sample_engine.search(query).hits[0].id == expected


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(DEV_FLOORS))
def test_dev_task_beats_best_baseline(task, built_index):
    task_dir = SHARED / "relevance" / task
    require(task_dir.exists(), f"{task_dir} is not on this machine")
    index = built_index(task_dir / "corpus.jsonl.gz")  # news-topics-dev's corpus is news/xwlb: one build (the soak's)
    result = evaluate(
        task_dir,
        lambda root: search.open_engine(search.load_settings(overrides={"INDEX": str(root)})),
        index_dir=index,
    )
    print(json.dumps(result))
    assert result["ndcg@10"] >= DEV_FLOORS[task], result
