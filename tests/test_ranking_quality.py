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


@pytest.mark.parametrize(
    "query",
    [
        "公交 “复工快线”",  # the article says 复工专线: the quoted words are emphasis, not a filter
        "城区公交“复工专线”开通",  # quoted words verbatim
        "衡阳公交开通“复工快线” 接送企业员工上下班",  # reworded, partly absent
        "城区公交「复工专线」开通",
    ],
)
def test_quoted_headline_finds_its_article(sample_engine, query):
    res = sample_engine.search(query)
    assert (res.hits[0].id, res.inexact) == ("1053", [])


def test_emphasis_prefers_documents_holding_the_quoted_run(sample_engine):
    # 开通 “复工专线”: 1053 holds it as written; without the quotes the same words, lower
    quoted = sample_engine.search("公交 开通 “复工专线”", explain=True).hits[0]
    plain = sample_engine.search("公交 开通 复工专线", explain=True).hits[0]
    assert quoted.id == plain.id == "1053" and quoted.score == pytest.approx(plain.score * 1.3)


def test_explicit_phrase_without_exact_match_falls_back_and_says_so(sample_engine):
    res = sample_engine.search('"复工快线"')
    assert (res.inexact, res.inexact_total, res.total > 0) == (["复工快线"], 0, True)
    assert "1053" in [h.id for h in res.hits[:3]]
    assert res.inexact_notice == "no exact match for “复工快线”, showing results without quotes"
    assert res.to_json()["inexact"] == ["复工快线"]
    few = sample_engine.search('"周末不打烊"')  # one exact match, many more for its words: it first, then them
    assert (few.hits[0].id, few.inexact, few.inexact_total, few.total > 1) == ("1094", ["周末不打烊"], 1, True)
    exact = sample_engine.search('"一房难求"')
    assert ([h.id for h in exact.hits], exact.inexact) == (["3008"], [])


@pytest.mark.parametrize(
    "query, rewritten",
    [("chang'e", "嫦娥"), ("Chang’e-5", "嫦娥五"), ("CHANG'E WUHAO", "嫦娥 五号"), ("xi'an", "西安")],
)
def test_pinyin_with_separators_capitals_and_digits(sample_engine, query, rewritten):
    res = sample_engine.search(query)
    assert (res.rewritten, res.rewrite_reason) == (rewritten, "pinyin")
    assert res.hits[0].id == ("1102" if rewritten == "西安" else "1101")
    assert not {"1086", "1002"} & {h.id for h in res.hits}  # the PM2.5 articles never come in on the 5


def test_pasted_headline_with_marks_and_numbers_is_a_known_item(sample_engine):
    plain = sample_engine.search("衡阳市城市绿化条例 3月1日起施行 新建小区绿地率不低于30%")
    pasted = sample_engine.search("【法规】《衡阳市城市绿化条例》3月1日起施行：新建小区绿地率不低于30%")
    assert pasted.hits[0].id == plain.hits[0].id == "1103"
