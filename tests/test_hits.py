"""Hits (``search.hits``): a stored article projected as the API lists it, and a search's results as JSON."""

from datetime import datetime

from search.hits import Hit, SearchResults, brief, iso, lead_of


def test_published_is_a_shanghai_iso_string():
    assert iso(datetime(2020, 2, 1, 16, 30)) == "2020-02-02T00:30:00+08:00"  # stored as UTC
    assert iso(None) is None


def test_brief_projects_the_listed_fields():
    doc = {"id": "a1", "title": "衡阳新闻", "published": datetime(2021, 3, 4, 1, 0), "url": "/a1", "body": "正文"}
    assert brief(doc) == {
        "id": "a1",
        "title": "衡阳新闻",
        "published": "2021-03-04T09:00:00+08:00",
        "source": "",
        "url": "/a1",
    }
    assert brief(doc, ("id", "title")) == {"id": "a1", "title": "衡阳新闻"}


def test_the_lead_or_the_opening_derived_at_index_time():
    assert lead_of({"lead": "核心提示", "extra": {"derived_lead": "开头"}}) == "核心提示"
    assert lead_of({"lead": "", "extra": {"derived_lead": "开头"}}) == "开头"
    assert lead_of({}) == ""


def test_results_as_json_say_what_was_done_to_the_query():
    hit = Hit("a1", "标题", "/a1", None, "红网", "时政", 1.23456, snippet="…")
    results = SearchResults(
        '"C919大飞机"', 1, 1, 10, [hit], took_ms=1.234, inexact=["C919大飞机"], inexact_total=1, missing=["xyzzy"]
    )
    assert results.inexact_notice == "only 1 exact match for “C919大飞机”, also showing results without quotes"
    assert results.to_json() == {
        "query": '"C919大飞机"',
        "missing": ["xyzzy"],
        "inexact": ["C919大飞机"],
        "inexact_total": 1,
        "total": 1,
        "page": 1,
        "size": 10,
        "hits": [
            {
                "id": "a1",
                "title": "标题",
                "url": "/a1",
                "published": None,
                "source": "红网",
                "channel": "时政",
                "score": 1.2346,
                "snippet": "…",
                "title_html": "",
            }
        ],
        "took_ms": 1.23,
    }
