"""Related articles: the array scorer gives Whoosh's BM25F ranking of the key-term query, and the box."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import query as Q

import search
from search.related import candidates, key_terms, related, related_query
from tests.conftest import write_jsonl

LAKE = "洞庭湖汛期水位持续上涨，岳阳市防汛指挥部启动三级应急响应，组织堤防巡查。"
ARTICLES = [
    {"id": "r1", "title": "洞庭湖水位上涨 岳阳启动防汛应急响应", "body": LAKE + "沿湖乡镇转移群众二百余人。"},
    {"id": "r2", "title": "岳阳加固洞庭湖堤防", "body": "岳阳市水利部门连夜加固洞庭湖大堤，防汛物资运抵堤防一线。"},
    {"id": "r3", "title": "湘江防汛形势平稳", "body": "长沙水文站报告湘江水位回落，防汛指挥部将应急响应调至四级。"},
    {"id": "r4", "title": "君山茶园开采明前茶", "body": "岳阳君山岛茶园进入采摘期，明前茶鲜叶收购价格同比上涨。"},
    {
        "id": "r5",
        "title": "常岳九铁路岳阳段开工",
        "body": "常岳九铁路岳阳段今日开工，线路跨越洞庭湖，建成后岳阳至常德车程缩短。",
    },
    {
        "id": "r6",
        "title": "洞庭湖区早稻抢收",
        "body": "汛期来临前，洞庭湖区农民抢收早稻，农机手日夜作业。水位上涨前收割完毕的稻田超过九成。",
    },
    {"id": "r7", "title": "岳阳楼景区游客增多", "body": "暑期岳阳楼景区迎来客流高峰，景区增加讲解员并延长开放时间。"},
    {
        "id": "r8",
        "title": "防汛演练在岳阳举行",
        "body": "岳阳市举行防汛抢险演练，模拟洞庭湖堤防管涌险情处置，应急队伍三百人参加。",
    },
]
MORE = [  # a second segment, and a reprint of r1 (dropped from r1's box)
    {
        "id": "r9",
        "title": "洞庭湖水位逼近警戒线",
        "body": "受上游来水影响，洞庭湖城陵矶站水位逼近警戒线，岳阳防汛进入紧要关头。",
    },
    {"id": "r10", "title": "洞庭湖水位上涨 岳阳启动防汛应急响应（转载）", "body": LAKE + "沿湖乡镇转移群众二百余人。"},
    {"id": "r11", "title": "洞庭湖防汛 志愿者上堤", "body": "岳阳青年志愿者上堤协助巡查，为防汛一线送去饮用水。"},
]


@pytest.fixture(scope="module")
def lake_engine(tmp_path_factory: pytest.TempPathFactory) -> search.SearchEngine:
    """Two segments (a full build, then an update) and a deleted article (r8)."""
    root: Path = tmp_path_factory.mktemp("related")
    store = search.IndexStore(root / "index", search.Analyzer())
    assert search.reindex(store, [write_jsonl(root / "a.jsonl", ARTICLES)], full=True, workers=1).ok
    assert search.reindex(store, [write_jsonl(root / "b.jsonl", MORE)], workers=1).ok
    assert search.delete(store, ["r8"]) == 1
    engine = search.SearchEngine(store)
    yield engine
    store.close()


def test_the_array_scorer_ranks_as_whoosh_scores_the_key_term_query(lake_engine):
    searcher = lake_engine.store.searcher()
    corpus = lake_engine.corpus(searcher)
    assert len(corpus.segments) == 2 and not corpus.live.all()
    for article in ARTICLES + MORE:
        docnum = searcher.document_number(id=article["id"])
        if docnum is None or searcher.reader().is_deleted(docnum):
            continue
        terms = key_terms(lake_engine, searcher, corpus.stored(docnum))
        hits = searcher.search(related_query(terms), limit=6, mask=Q.Term("id", article["id"]))
        whoosh = [(hit.docnum, hit.score) for hit in hits]
        ours = [(docnum, score) for score, docnum in candidates(corpus, terms, docnum, 6)]
        assert [d for d, _ in ours] == [d for d, _ in whoosh], article["id"]
        assert [s for _, s in ours] == pytest.approx([s for _, s in whoosh], rel=1e-12, abs=0), article["id"]


def test_the_box_lists_the_lake_articles_without_the_article_its_reprint_or_a_deleted_one(lake_engine):
    box = related(lake_engine, "r1", 4)
    assert [item["id"] for item in box] == ["r9", "r3", "r2", "r11"]
    assert box[0] == {
        "id": "r9",
        "title": "洞庭湖水位逼近警戒线",
        "summary": "受上游来水影响，洞庭湖城陵矶站水位逼近警戒线，岳阳防汛进入紧要关头。",
        "published": None,
        "url": "",
        "source": "",
        "score": box[0]["score"],
    }
    assert box[0]["score"] > box[1]["score"] > 0
    assert related(lake_engine, "r8", 4) is None and related(lake_engine, "nope", 4) is None
