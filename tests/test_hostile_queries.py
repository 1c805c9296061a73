"""Hostile queries (hypothesis): nothing a reader types breaks the engine or the API.

``parse_query`` never raises, ``engine.search`` raises nothing but
``QueryError`` and answers within ``TIME_BOUND``, and ``GET /api/search``
answers 200 or 400 with the JSON error shape, never 500.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import search

from .hostile import (
    IMG,
    SCRIPT,
    TIME_BOUND,
    assert_safe_html,
    child_search_seconds,
    report_counts,
)

STATS: Counter[str] = Counter({"unexpected errors seen": 0})  # reported at the end of the module


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    report_counts(request, "hostile queries", STATS)


HOSTILE_CHARS = list("\"“”「」『』＂'`-－+*:：()（）[]【】{}<>\\/|&^~!?！？%#@$，。、；;=_.,") + [
    "\u200f",  # RLM
    "\u200e",  # LRM
    "\u202e",  # RLO
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200b",  # zero width space
    "\u200d",  # ZWJ
    "\ufeff",
    "\u00ad",
    "\x00",
    "\x01",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\t",
    "\n",
    "\r",
    "\u2028",
    "\u2029",
    "\u0301",  # combining acute
    "\u20dd",
    "😀",
    "👨‍👩‍👧‍👦",
    "🇨🇳",
    "\U000e0001",
    "\uffff",
    "\ufffd",
    "\U0010ffff",
    "ﬁ",
    "Ⅻ",
    "①",
    "ｱ",
    "Ａ",
    "衡",
    "陽",
    "𠀀",
    "\u3000",
    " ",
    "İ",
    "ß",
    "ǅ",
]
SYNTAX = [
    "title:",
    "标题:",
    "source:",
    "来源：",
    "author:",
    "作者:",
    "channel:",
    "栏目:",
    "频道:",
    "after:",
    "before:",
    "from:",
    "to:",
    "-",
    "－",
    '"',
    "“",
    "」",
    "『",
    "after:2020",
    "before:2021-12-31",
    "after:2020-02-30",
    "before:1899",
    "after:2100-12-31",
    "before:2020年5月",
    "衡阳",
    "疫情防控",
    "的",
    "了",
    "和",
    "c919",
    "COVID-19",
    "大学生",
    "hengyang",
    "AND",
    "OR",
    "NOT",
    "*",
    "?",
    "~2",
    "^3",
    "(",
    ")",
    "\\",
    SCRIPT,
    IMG,
    "&amp;",
    "%00",
    "'; DROP TABLE articles; --",
]
NESTING = [
    ('"', '"'),
    ("(", ")"),
    ("[", "]"),
    ("{", "}"),
    ("“", "”"),
    ("「", "」"),
    ('"(', ')"'),
    ("-", ""),
    ('-"', '"'),
    ("title:", ""),
    ("title:-", ""),
    ("-title:", ""),
]
date_token = st.builds(
    lambda field, value: field + value,
    st.sampled_from(["after:", "before:", "from:", "to:", "after：", "before:"]),
    st.from_regex(r"\A\d{1,5}([-/.年]\d{1,3}([-/.月]\d{1,3}日?( \d{1,2}:\d{1,2}(:\d{1,2})?)?)?)?\Z"),
)
queries = st.one_of(
    st.text(),
    st.lists(st.sampled_from(HOSTILE_CHARS), max_size=300).map("".join),
    st.lists(st.one_of(st.sampled_from(SYNTAX), date_token, st.text(max_size=8)), max_size=40).map(" ".join),
    st.lists(st.one_of(st.sampled_from(SYNTAX + HOSTILE_CHARS), date_token), max_size=80).map("".join),
    st.builds(
        lambda depth, pair, inner: pair[0] * depth + inner + pair[1] * depth,
        st.integers(1, 5000),
        st.sampled_from(NESTING),
        st.sampled_from(["衡阳", "", "疫情 防控", SCRIPT, '"']),
    ),
)


@settings(max_examples=1000, deadline=None)
@given(q=queries)
def test_parse_query_never_raises(q):
    STATS["parse_query inputs"] += 1
    parsed = search.parse_query(q)
    assert isinstance(parsed, search.ParsedQuery)
    assert isinstance(parsed.positive_text, str)
    parsed.is_empty()


@pytest.mark.parametrize("q, text", [("before:0000", ""), ("衡阳 to:0000", "衡阳"), ("before:0000-12", "")])
def test_year_zero_date_bound_parse_query(q, text):
    # a well-formed date before 1900 is clamped to 1900 (query.parse_date_bound), not dropped or an error
    parsed = search.parse_query(q)
    assert (parsed.text, parsed.after, parsed.before) == (
        text,
        None,
        datetime(1900, 1, 1, tzinfo=search.query.SHANGHAI),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    q=queries,
    page=st.integers(1, 3) | st.integers(-2, 1200),
    size=st.integers(1, 20) | st.integers(-2, 150),
    sort=st.sampled_from(["relevance"] * 5 + ["date"] * 3 + ["views", "", "RELEVANCE"]),
)
def test_engine_search_never_raises(site, q, page, size, sort):
    STATS["engine inputs"] += 1
    started = time.perf_counter()
    try:
        res = site.engine.search(q, page=page, size=size, sort=sort, facets=True)
    except search.QueryError as exc:
        assert page < 1 or size < 1 or sort not in ("relevance", "date") or page * size > 1000, exc
        return
    except Exception:
        STATS["unexpected errors seen"] += 1
        raise
    elapsed = time.perf_counter() - started
    assert page >= 1 and size >= 1 and sort in ("relevance", "date")
    assert elapsed < TIME_BOUND, f"{elapsed:.2f} s for {q[:80]!r}"
    assert 0 <= len(res.hits) <= size and res.total >= 0
    for hit in res.hits:
        assert_safe_html(hit.snippet)
        assert_safe_html(hit.title_html)


def timed_search(engine: search.SearchEngine, q: str) -> float:
    started = time.perf_counter()
    try:
        res = engine.search(q)
    except search.QueryError:
        return time.perf_counter() - started
    for hit in res.hits:
        assert_safe_html(hit.snippet)
    return time.perf_counter() - started


def long_queries() -> dict[str, str]:
    rng = random.Random(100)
    n = 100_000

    def fit(unit: str) -> str:
        return (unit * (n // len(unit) + 1))[:n]

    words = [chr(0x4E00 + rng.randrange(20_000)) + chr(0x4E00 + rng.randrange(20_000)) for _ in range(1000)]
    return {
        "1000 distinct words": " ".join(words),
        "1000 terms from the corpus": " ".join(
            rng.choice(["衡阳", "疫情", "防控", "大学生", "c919", "会议", "的", "了"]) for _ in range(1000)
        ),
        "1000 negated terms": " ".join(f"-{w}" for w in words),
        "1000 phrases": " ".join(f'"{w}衡阳"' for w in words),
        "100k news text": fit(
            "衡阳市雁峰区疫情防控工作有序开展，市民生活秩序良好。南华大学迎来新生，C919首次飞抵南岳机场。"
        ),
        "100k one word": fit("衡阳 "),
        "100k no spaces one char": "衡" * n,
        "100k ascii letter": "a" * n,
        "100k quotes": '"' * n,
        "100k brackets": "(" * (n // 2) + ")" * (n // 2),
        "100k punctuation": fit("，。！？、；：“”（）《》…—"),
        "100k stop words": fit("的了和"),
        "100k emoji": fit("😀👨‍👩‍👧‍👦🇨🇳"),
        "100k control and RTL": fit("\u202e\u200f\x07\x1b\u200b衡阳\u2028"),
        "100k colons": fit("title:"),
        "100k dashes": fit("- "),
        "100k random cjk phrases": " ".join(
            '"' + "".join(chr(0x4E00 + rng.randrange(20_000)) for _ in range(3)) + '"' for _ in range(n // 6)
        ),
    }


LONG = long_queries()
UNBOUNDED = "100k random cjk phrases"


@pytest.mark.parametrize("kind", [k for k in LONG if k != UNBOUNDED])
def test_engine_long_queries_answer_in_time(site, kind):
    q = LONG[kind]
    site.engine.search("衡阳")  # warm
    elapsed = timed_search(site.engine, q)
    STATS["long queries"] += 1
    assert elapsed < TIME_BOUND, f"{kind}: {elapsed:.2f} s"


def test_engine_unbounded_long_query_answers_in_time(site, tmp_path):
    STATS["long queries"] += 1
    seconds = child_search_seconds(site.store.root, LONG[UNBOUNDED], "衡阳", tmp_path)
    assert seconds is not None and seconds < TIME_BOUND, f"{UNBOUNDED}: {seconds} s"


def test_many_repeated_filters_do_not_recurse(site):
    q = "author:李华 " * 1200
    assert (
        [h.id for h in site.engine.search(q).hits] == ["a1"] == [h.id for h in site.engine.search("author:李华").hits]
    )


def test_year_one_date_bound_engine(site):
    # clamped to 1900: "from the start", the same results as no bound
    plain = [h.id for h in site.engine.search("衡阳").hits]
    assert [h.id for h in site.engine.search("衡阳 after:0001").hits] == plain and len(plain) >= 3
    assert site.engine.search("衡阳 before:0000").total == 0  # clamped to before 1900: nothing


@pytest.mark.parametrize(
    "query",
    ["q=after:0001", "q=%E8%A1%A1%E9%98%B3&from=0001", "q=after:0001-01", "q=before:0000", "q=%E8%A1%A1&to=0000"],
)
def test_year_one_date_bound_api(site, query):
    # query.parse_date_bound clamps a well-formed date outside 1900–2100: a 200, never a 400
    response = site.client.get("/api/search?" + query)
    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    if "0000" in query:  # before 1900: nothing
        assert (got["total"], got["hits"]) == (0, [])
    else:  # from 1900: everything, as the same query from 1900 says
        expected = site.client.get("/api/search?" + query.replace("0001", "1900")).get_json()
        assert [h["id"] for h in got["hits"]] == [h["id"] for h in expected["hits"]] and got["total"] >= 3


def check_api(response, raw: str = "") -> str:
    """A /api/search answer: 200 with results or 400 with the error shape; returns the status kind."""
    body_text = response.get_data(as_text=True)
    STATS["unexpected errors seen"] += response.status_code not in (200, 400)
    assert response.status_code in (200, 400), f"{response.status_code} for {raw[:100]!r}: {body_text[:300]}"
    assert response.mimetype == "application/json"
    body = response.get_json()
    if response.status_code == 400:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
        return "400"
    assert {"query", "total", "page", "size", "hits"} <= set(body)
    for hit in body["hits"]:
        assert_safe_html(hit["snippet"])
        assert_safe_html(hit["title_html"])
    return "200"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=queries, extra=st.sampled_from(["", "&sort=date", "&page=2", "&size=1", "&channel=时政", "&author=李华"]))
def test_api_search_arbitrary_unicode(site, q, extra):
    STATS["api inputs"] += 1
    raw = "/api/search?q=" + quote(q, safe="") + extra
    STATS["api " + check_api(site.client.get(raw), q)] += 1


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=80),
    param=st.sampled_from(["q", "page", "size", "sort", "from", "to", "channel", "source", "author"]),
)
def test_api_search_arbitrary_bytes(site, data, param):
    """Any bytes, percent-encoded: invalid UTF-8, lone surrogates, overlong forms, NULs."""
    encoded = "".join(f"%{b:02X}" for b in data)
    STATS["api inputs"] += 1
    raw = f"/api/search?q=%E8%A1%A1%E9%98%B3&{param}={encoded}" if param != "q" else f"/api/search?q={encoded}"
    STATS["api " + check_api(site.client.get(raw), raw)] += 1


TERMS = "衡阳 疫情 防控 大学生 志愿者 机场 会议 新生 c919 covid-19 5g".split()
SPECIAL_QUERIES = {
    "lone high surrogate": "%ED%A0%80",
    "lone low surrogate": "%ED%B0%80",
    "CESU-8 pair": "%ED%A0%BD%ED%B8%80",
    "overlong slash": "%C0%AF",
    "overlong dot": "%C0%AE%C0%AE",
    "invalid start bytes": "%FF%FE%FD",
    "truncated sequence": "%E8%A1",
    "NUL": "%00",
    "NUL inside": "%E8%A1%A1%00%E9%98%B3",
    "100 KB": quote("衡阳疫情防控" * 17_000),
    "100 KB ascii": "a" * 100_000,
    "only punctuation": quote("，。！？、；：“”（）《》…—·!@#$%^&*()_+-=[]{}|;':\",./<>?"),
    "only stop words": quote("的了和"),
    "many stop words": quote("的 了 和 " * 40),
    "thousands of terms": quote(" ".join(TERMS[i % len(TERMS)] for i in range(3000))),
    "terms at the limit": quote(" ".join("衡" for _ in range(128))),
    "rtl override": quote("\u202e衡阳\u202c疫情"),
    "emoji": quote("😀🇨🇳👨‍👩‍👧‍👦衡阳"),
    "plus as space": "%E8%A1%A1%E9%98%B3+%E7%96%AB%E6%83%85",
    "percent literal": "100%25",
    "bad percent": "%zz%E8%A1",
    "empty": "",
    "script": quote(SCRIPT),
}


@pytest.mark.parametrize("name", list(SPECIAL_QUERIES))
def test_api_search_special_inputs(site, name):
    STATS["api inputs"] += 1
    raw = "/api/search?q=" + SPECIAL_QUERIES[name]
    STATS["api " + check_api(site.client.get(raw), raw)] += 1


@pytest.mark.parametrize(
    "params",
    [
        "page=1e309",
        "page=-0",
        "page=１",
        "page=99999999999999999999999",
        "size=0x10",
        "size=%00",
        "size=" + "9" * 5000,
        "sort=%3Cscript%3E",
        "from=9999-99-99",
        "from=2020-02-30",
        "to=" + quote("二〇二〇年"),
        "channel=" + quote(SCRIPT),
        "q=a&q=b&q=c",
    ],
)
def test_api_search_hostile_parameters(site, params):
    STATS["api inputs"] += 1
    raw = "/api/search?q=%E8%A1%A1&" + params
    check_api(site.client.get(raw), raw)
