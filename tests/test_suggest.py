"""Autocomplete: ranked by searches and articles, without function words for pinyin prefixes."""

from __future__ import annotations

from pathlib import Path

import pytest

import search
from search.suggest import suggest
from search.wordclass import function_words

from .conftest import write_jsonl


def story(n: int, title: str) -> dict:
    return {"id": f"s{n}", "title": title, "published": f"2022-03-{n:02d} 08:00:00", "body": title + "。"}


# 疫情 and 疫情防控 in many titles; 以前, 一起, 一期 (function words and numerals that
# share the pinyin prefix yiq) and 一企一策 (in one title: the far tail) as well.
STORIES = [
    story(1, "全市疫情防控工作会议召开"),
    story(2, "疫情防控不放松"),
    story(3, "疫情防控志愿者在行动"),
    story(4, "疫情期间的菜篮子"),
    story(5, "疫情之后客流回升"),
    story(6, "疫情通报"),
    story(7, "疫情下的春运"),
    story(8, "疫情监测"),
    story(9, "疫情与就业"),
    story(10, "以前的老街换新颜"),
    story(11, "一起看油菜花"),
    story(12, "一期工程完工"),
    story(13, "一企一策帮扶企业"),
]


@pytest.fixture
def engine(tmp_path: Path, analyzer: search.Analyzer) -> search.SearchEngine:
    store = search.IndexStore(tmp_path / "index", analyzer)
    report = search.reindex(store, [write_jsonl(tmp_path / "s.jsonl", STORIES)], full=True, workers=1)
    assert report.ok, report.errors
    return search.SearchEngine(store)


def texts(items: list[dict]) -> list[tuple[str, str]]:
    return [(i["text"], i["kind"]) for i in items]


def test_pinyin_prefix_offers_content_words_only(engine: search.SearchEngine) -> None:
    assert {"以前", "一起", "一期"} <= function_words() and "疫情" not in function_words()
    assert texts(suggest(engine, "yiq")) == [("疫情", "pinyin"), ("疫情防控", "pinyin")]


def test_readers_searches_rank_and_admit_words(engine: search.SearchEngine) -> None:
    # Searched often enough, even a function word is offered; more searches rank higher.
    searched = {"一起": 3, "疫情防控": 4}
    assert texts(suggest(engine, "yiq", searched=searched)) == [
        ("疫情防控", "pinyin"),
        ("一起", "pinyin"),
        ("疫情", "pinyin"),
    ]
    # Once or twice is not enough to bring back a function word.
    assert "一起" not in [i["text"] for i in suggest(engine, "yiq", searched={"一起": 2})]


def test_chinese_prefix_words_then_titles(engine: search.SearchEngine) -> None:
    assert texts(suggest(engine, "疫情", limit=5)) == [
        ("疫情", "word"),
        ("疫情防控", "word"),
        ("疫情通报", "title"),  # titles as search ranks them: short ones first
        ("疫情监测", "title"),
        ("疫情与就业", "title"),
    ]
    # A searched query that starts with the text is offered with the words, ranked by its searches.
    assert texts(suggest(engine, "疫情", limit=3, searched={"疫情防控志愿者": 3})) == [
        ("疫情", "word"),
        ("疫情防控志愿者", "word"),
        ("疫情防控", "word"),
    ]


def test_nothing_for_a_weak_answer(engine: search.SearchEngine) -> None:
    assert suggest(engine, "xyzzy") == [] and suggest(engine, "  ") == []
