"""A request's cost is bounded by what it shows (``search.searching``).

Deep pages are the same slice of the collapsed ranking that a full collapse
gives, collapsing reads only the page shown plus one page of look-ahead, a
page past every match ranks nothing, and ``page × size`` past the result
window is a clear error.
"""

from __future__ import annotations

import random

import pytest

import search
from search import searching
from search.web import create_app

from .conftest import write_jsonl

STORIES = 60
COPIES = 3  # each story is reprinted: the collapsed ranking has a third of the hits
DISTINCT = 120


def _story(rng: random.Random, n: int, place: str = "本市") -> str:
    chars = "衡阳城市交通教育医疗文化旅游经济发展建设项目群众服务社区学校医院公园道路工程企业产业科技农业"
    words = ["".join(rng.sample(chars, 2)) for _ in range(40)]
    return f"第{n}号新闻：{place}" + "，".join(words) + "。"


@pytest.fixture(scope="module")
def reprints(tmp_path_factory, analyzer) -> search.SearchEngine:
    """A corpus where every story appears three times (two reprints with a line added)."""
    rng = random.Random(16)
    records = []
    for n in range(STORIES):
        body = _story(rng, n)
        for copy in range(COPIES):
            lead = ["", "记者从现场获悉，", "据红网消息，"][copy]
            records.append(
                {
                    "id": f"s{n:02d}-{copy}",
                    "title": f"本市新闻{n}",
                    "published": f"2023-01-{1 + n % 28:02d} 0{copy}:00:00",
                    "source": ["衡阳日报", "红网", "衡阳新闻网"][copy],
                    "body": lead + body,
                }
            )
    for n in range(DISTINCT):  # stories told once
        records.append({"id": f"u{n:03d}", "title": f"公告{n}", "body": "公告：" + _story(rng, n, "全县")})
    root = tmp_path_factory.mktemp("bounds")
    store = search.IndexStore(root / "index", analyzer)
    report = search.reindex(store, [write_jsonl(root / "r.jsonl", records)], full=True, workers=1)
    assert report.ok, report.errors
    return search.SearchEngine(store)


def _ids(results: search.SearchResults) -> list[str]:
    return [h.id for h in results.hits]


@pytest.mark.parametrize(("page", "size"), [(2, 10), (3, 7), (4, 12), (6, 10)])
def test_deep_page_is_the_same_slice_of_the_fully_collapsed_ranking(reprints, page, size):
    full = reprints.search("本市", size=STORIES * COPIES)  # one page holding every hit: every reprint folded
    assert len(full.hits) == STORIES and full.total == STORIES
    assert _ids(reprints.search("本市", page=page, size=size)) == _ids(full)[(page - 1) * size : page * size]


def test_collapsing_reads_the_page_shown_plus_one_page_of_look_ahead(reprints, monkeypatch):
    compared: list[int] = []
    near_pairs = searching.near_pairs

    def counting(signatures):
        compared.append(len(signatures))
        return near_pairs(signatures)

    monkeypatch.setattr(searching, "near_pairs", counting)
    res = reprints.search("公告", page=5, size=10)
    assert _ids(res) == _ids(reprints.search("公告", page=5, size=10, collapse=False)) and res.total == DISTINCT
    assert compared == [60]  # pages 1-5 and page 6 (was 100: twice the hits up to the page)
    compared.clear()
    assert len(reprints.search("公告", size=10).hits) == 10
    assert compared == [30]  # the first page: 30 hits, as before


def test_a_page_past_every_match_ranks_nothing(reprints, monkeypatch):
    matches = reprints.search("本市", size=10, collapse=False).total

    def no_ranking(*args, **kwargs):
        raise AssertionError("a page past every match was ranked")

    monkeypatch.setattr(search.SearchEngine, "_rank", no_ranking)
    res = reprints.search("本市", page=matches // 5 + 1, size=5)
    assert (res.hits, res.total, res.page) == ([], matches, matches // 5 + 1)


def test_results_beyond_the_window_are_not_paged(reprints):
    assert len(reprints.search("本市", page=10, size=100).hits) == 0  # page × size = 1,000: answered
    with pytest.raises(search.QueryError) as caught:
        reprints.search("本市", page=11, size=100)
    assert caught.value.param == "page"
    assert str(caught.value) == (
        "page: page × size must be at most 1000: results beyond the first 1000 are not paged "
        "(asked for page 11 of size 100)"
    )
    small = search.SearchEngine(reprints.store, max_window=20)
    assert _ids(small.search("本市", page=2, size=10)) == _ids(reprints.search("本市", page=2, size=10))
    with pytest.raises(search.QueryError, match="at most 20"):
        small.search("本市", page=3, size=10)


def test_the_api_answers_a_page_beyond_the_window_with_400(reprints):
    client = create_app({"INDEX": str(reprints.store.root), "TESTING": True, "MAX_RESULT_WINDOW": 50}).test_client()
    assert client.get("/api/search?q=本市&page=5&size=10").status_code == 200
    res = client.get("/api/search?q=本市&page=6&size=10")
    assert res.status_code == 400
    assert res.get_json() == {
        "error": {
            "code": "invalid_parameter",
            "message": "page: page × size must be at most 50: results beyond the first 50 are not paged "
            "(asked for page 6 of size 10)",
        }
    }


def test_the_search_page_offers_no_page_beyond_the_window(reprints):
    client = create_app({"INDEX": str(reprints.store.root), "TESTING": True, "MAX_RESULT_WINDOW": 50}).test_client()
    html = client.get("/search?q=本市&page=5&size=10").get_data(as_text=True)
    assert '<span class="where">第 5 / 5 页</span>' in html  # 60 stories, only 50 results paged
    assert 'rel="next"' not in html
