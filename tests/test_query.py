"""Query understanding (``search.query``): the search-box string → ``ParsedQuery``, date bounds, bounds on work."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from search.articles import SHANGHAI
from search.query import MAX_CLAUSES, MAX_WORDS, ParsedQuery, bound_query, min_match, parse_date_bound, parse_query


def fields(parsed: ParsedQuery) -> dict:
    """The parts of a parsed query that are set."""
    return {name: value for name, value in vars(parsed).items() if value}


def day(y: int, m: int, d: int, end: bool = False) -> datetime:
    start = datetime(y, m, d, tzinfo=SHANGHAI)
    return start + timedelta(days=1, microseconds=-1) if end else start


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("衡阳 疫情防控", {"text": "衡阳 疫情防控"}),
        ('"石鼓书院" 修缮', {"text": "修缮", "phrases": ["石鼓书院"]}),  # straight quotes: the phrase operator
        ("“一房难求”", {"phrases": ["一房难求"]}),  # typographic quotes that are the whole query: a phrase too
        # … inside a longer query (a pasted headline): emphasis, preferred and never required
        ("城区公交“复工专线”开通", {"text": "城区公交 复工专线 开通", "emphasis": ["复工专线"]}),
        ("-广告 衡阳", {"text": "衡阳", "exclude": ["广告"]}),
        ('-"整版广告" 衡阳', {"text": "衡阳", "exclude": ["整版广告"]}),
        (
            "title:机场 source:衡阳日报 作者:张三 栏目:时政",
            {"title": ["机场"], "source": ["衡阳日报"], "author": ["张三"], "channel": ["时政"]},
        ),
        (
            "after:2020-01-01 before:2021 会议",
            {"text": "会议", "after": day(2020, 1, 1), "before": day(2021, 12, 31, True)},
        ),
        ("after:明天 会议", {"text": "明天 会议"}),  # an unparseable date is text
        ('来源:红网 "未闭合', {"text": "未闭合", "source": ["红网"]}),  # an unbalanced quote is a typo
        ("Chang’e-5", {"text": "Chang'e-5"}),  # a typographic apostrophe between letters: pinyin's separator
        ("foo:bar 衡阳", {"text": "foo:bar 衡阳"}),  # an unknown field is text
        ("标题： 衡阳", {"text": "衡阳"}),  # an empty field (a pasted label) is dropped
        ("- 衡阳 －", {"text": "衡阳"}),  # lone minus signs
        ("", {}),
    ],
)
def test_parse_query(raw, parsed):
    assert fields(parse_query(raw)) == parsed


def test_without_quotes_makes_phrases_preferred_words():
    relaxed = parse_query('"复工快线" 公交').without_quotes()
    assert fields(relaxed) == {"text": "公交 复工快线", "emphasis": ["复工快线"]}


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2020", day(2020, 1, 1), day(2020, 12, 31, True)),
        ("2020-05", day(2020, 5, 1), day(2020, 5, 31, True)),
        ("2020年5月", day(2020, 5, 1), day(2020, 5, 31, True)),
        ("2020-12", day(2020, 12, 1), day(2020, 12, 31, True)),
        ("2020-05-06", day(2020, 5, 6), day(2020, 5, 6, True)),
        ("9999", day(2100, 12, 31, True), day(2100, 12, 31, True)),  # clamped into 1900–2100
        ("abc", None, None),
        ("2020-02-30", None, None),
    ],
)
def test_parse_date_bound(value, start, end):
    assert (parse_date_bound(value), parse_date_bound(value, end=True)) == (start, end)


def test_a_date_before_1900_means_from_the_start():
    assert parse_date_bound("0187-10-28").year == 1900 and parse_date_bound("187") is None


def test_bound_query_cuts_hostile_queries():
    words = " ".join(f"词{i}" for i in range(100))
    parsed = bound_query(ParsedQuery(text=words + " 词1", phrases=["长" * 150] * 3 + [f"p{i}" for i in range(20)]))
    assert parsed.text.split() == [f"词{i}" for i in range(MAX_WORDS)]  # distinct words, the first 64
    assert parsed.phrases == ["长" * 100] + [f"p{i}" for i in range(MAX_CLAUSES - 1)]


def test_min_match():
    assert [min_match(n) for n in range(1, 13)] == [1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9]
