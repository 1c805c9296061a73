"""A request's cost is bounded by what it shows (``search.searching``, ``search.collapse``).

Pages within the head (the first ``COLLAPSE_HEAD`` hits) are the same slice
of the collapsed ranking that a full collapse gives, deeper pages fold the
reprints they hold and every hit is on one page, collapsing reads only the head and the page shown, a page
past every match ranks nothing, and ``page × size`` past the result window is
a clear error.
"""

from __future__ import annotations

import random

import pytest

import search
from search import collapse
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


def _story_of(article_id: str) -> str:
    return article_id.split("-")[0]


def _head_stories(engine: search.SearchEngine, q: str, size: int) -> int:
    """Stories among the hits collapsed across pages (``collapse.collapse_head``)."""
    ranked = engine.search(q, size=collapse.collapse_head(size), collapse=False)
    return len({_story_of(h.id) for h in ranked.hits})


@pytest.mark.parametrize(("page", "size"), [(1, 10), (2, 7), (3, 5), (1, 16)])
def test_pages_within_the_head_are_slices_of_the_fully_collapsed_ranking(reprints, page, size):
    full = reprints.search("本市", size=STORIES * COPIES)  # one page holding every hit: every reprint folded
    assert len(full.hits) == STORIES and full.total == STORIES
    assert page * size <= _head_stories(reprints, "本市", size)
    shown = reprints.search("本市", page=page, size=size)
    assert _ids(shown) == _ids(full)[(page - 1) * size : page * size]
    assert all(_story_of(d["id"]) == _story_of(h.id) for h in shown.hits for d in h.duplicates)


@pytest.mark.parametrize("size", [10, 7])
def test_every_hit_is_on_one_page_and_no_page_shows_a_story_twice(reprints, size):
    seen: list[str] = []
    pages = []
    page = 1
    while hits := reprints.search("本市", page=page, size=size).hits:
        pages.append(hits)
        seen += [h.id for h in hits] + [d["id"] for h in hits for d in h.duplicates]
        page += 1
    assert sorted(seen) == sorted(f"s{n:02d}-{c}" for n in range(STORIES) for c in range(COPIES))
    assert all(len({_story_of(h.id) for h in hits}) == len(hits) for hits in pages)  # reprints folded within a page
    head = [_story_of(h.id) for hits in pages[: _head_stories(reprints, "本市", size) // size] for h in hits]
    assert len(set(head)) == len(head)  # and across the pages of the head (deeper, a page folds its own reprints)
    first = reprints.search("本市", size=size)
    assert first.total == STORIES * COPIES - (collapse.collapse_head(size) - _head_stories(reprints, "本市", size))


def test_collapsing_reads_the_head_and_the_page_shown(reprints, monkeypatch):
    compared: list[int] = []
    near_pairs = collapse.near_pairs

    def counting(signatures):
        compared.append(len(signatures))
        return near_pairs(signatures)

    monkeypatch.setattr(collapse, "near_pairs", counting)
    assert len(reprints.search("公告", size=10).hits) == 10
    assert compared == [collapse.COLLAPSE_HEAD]  # the first page: the head (was 30)
    compared.clear()
    res = reprints.search("公告", page=9, size=10)
    assert _ids(res) == _ids(reprints.search("公告", page=9, size=10, collapse=False)) and res.total == DISTINCT
    assert compared == [collapse.COLLAPSE_HEAD, 10]  # the head, then page 9 alone (was 100: twice the hits up to it)
    compared.clear()
    assert len(reprints.search("公告", page=2, size=100).hits) == DISTINCT - 100
    assert compared == [DISTINCT]  # a head of two pages of 100 holds every match
    compared.clear()
    assert reprints.search("公告", page=3, size=100).hits == [] and compared == []  # past every match: nothing


def test_a_page_past_every_match_ranks_nothing(reprints, monkeypatch):
    matches = reprints.search("本市", size=10, collapse=False).total

    def no_ranking(*args, **kwargs):
        raise AssertionError("a page past every match was ranked")

    monkeypatch.setattr(search.ordering, "rank", no_ranking)
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
