"""Robustness: broken article files, hostile queries, output safety and path safety.

* Bad articles: one directory with every kind of breakage (and good articles
  around it) through ``search.reindex`` and through the CLI: each problem is
  reported with its file and line (or record), everything good is indexed and
  searchable, and the CLI exits 1.
* Hostile queries (hypothesis): ``parse_query`` never raises, ``engine.search``
  raises nothing but ``QueryError`` and answers within ``TIME_BOUND``, and
  ``GET /api/search`` answers 200 or 400 with the JSON error shape, never 500.
* Output safety: script and img payloads in articles never reach a page or an
  HTML field of the API unescaped.
* Path safety: traversal ids give 404, never a file.

Known bugs are kept as strict xfails; the reason names the bug.
"""

from __future__ import annotations

import gzip
import html
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import search
from cli import cli
from search.web import create_app

from .conftest import ARTICLES, write_jsonl

TIME_BOUND = 2.0  # seconds any single search may take
STATS: Counter[str] = Counter({"unexpected errors seen": 0})  # counts reported at the end of the module


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    capman = request.config.pluginmanager.getplugin("capturemanager")
    line = "robustness counts: " + ", ".join(f"{k} {v}" for k, v in sorted(STATS.items()))
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print("\n" + line)
    else:  # pragma: no cover
        print(line)


# =============================================================================
# Bad articles
# =============================================================================

# Words that occur in exactly one good article each (title and body), so a
# search for the word must find that article.
UNIQUE = [
    "岳屏公园",
    "石鼓书院",
    "回雁峰",
    "耒水大桥",
    "酃湖公园",
    "船山广场",
    "珠晖塔",
    "来雁塔",
    "东洲岛",
    "西渡镇",
]
# The 20 MB body is made of these words only: no character in common with
# anything searched for below (its own title included), so no search has to
# snippet the huge body (see test_search_hit_inside_a_huge_body_answers_in_time).
BIG_VOCAB = ["数据", "表格", "统计", "数值", "记录", "字段", "条目", "列表", "附件", "编码", "格式", "批次"]
BIG_TITLE = "超长篇幅"
BIG_BODY_BYTES = 20 * 1024 * 1024


def big_body() -> str:
    rng = random.Random(20)
    sentences = ["".join(rng.choice(BIG_VOCAB) for _ in range(rng.randint(6, 14))) + "。" for _ in range(400)]
    block = "".join(sentences) + "\n"
    repeat = BIG_BODY_BYTES // len(block.encode("utf-8")) + 1
    return block * repeat


def good(i: int, **extra) -> dict:
    word = UNIQUE[i]
    record = {
        "id": f"good-{i}",
        "title": f"{word}迎来游客高峰",
        "body": f"本报讯 {word}周末接待游客。",
        "published": "2021-05-01 10:00:00",
        "source": "衡阳日报",
    }
    record.update(extra)
    return record


class BadCorpus:
    """The broken corpus and what a correct reindex must report about it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.small = root / "small"  # everything but the 20 MB article (the CLI run)
        self.small.mkdir(parents=True)
        self.errors: list[tuple[str, str]] = []  # (location prefix "file:line", message fragment)
        self.searchable: dict[str, str] = {}  # query -> id it must find
        self.good_ids: set[str] = set()
        self.stored_titles: dict[str, str] = {}

        # -- broken.jsonl: one breakage per line -----------------------------
        broken = self.small / "broken.jsonl"
        lines: list[tuple[str, str | None]] = [
            (json.dumps(good(0), ensure_ascii=False), None),
            ('{"id": "bad-json", "title": "缺少括号"', "invalid JSON"),
            ('{"title": "没有编号的文章", "body": "正文"}', "record has no id"),
            ('{"id": "", "title": "空编号"}', "record has no id"),
            ('{"id": "   ", "title": "空白编号"}', "record has no id"),
            ('{"id": "no-text", "source": "衡阳日报"}', "has neither title nor body"),
            ('{"id": "empty-text", "title": "", "body": ""}', "has neither title nor body"),
            ('{"id": "blank-text", "title": " \\t ", "body": "\\n\\u3000 "}', "has neither title nor body"),
            ('{"id": "ctrl-only", "title": "\\u0000\\u0007", "body": "\\u001b\\u007f"}', "has neither title nor body"),
            ('{"id": "year-0", "title": "零年", "published": "0000-01-01 00:00:00"}', "outside 1900-2100"),
            ('{"id": "year-9999", "title": "远期", "published": "9999-12-31"}', "outside 1900-2100"),
            (
                json.dumps(
                    good(
                        1,
                        title="控制\u0000字符\u0007在\u001b标题里 石鼓书院",
                        body="正文\u0008含有\u000b控制\u007f字符。",
                    )
                ),
                None,
            ),
            ("[1, 2, 3]", "expected a JSON object"),
            ('"just a string"', "expected a JSON object"),
            ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
            (json.dumps(good(2, body=""), ensure_ascii=False), None),  # empty body, title only: fine
            (json.dumps({"id": "good-3", "body": f"只有正文没有标题 {UNIQUE[3]}。"}, ensure_ascii=False), None),
            ('{"id": true, "title": "布尔编号"}', "id must be a string or integer"),
            ('{"id": ["x"], "title": "列表编号"}', "id must be a string or integer"),
            ('{"id": "bad-views", "title": "浏览量", "views": "很多"}', "is not a number"),
            ('{"id": "bad-authors", "title": "作者", "authors": {"a": 1}}', "must be a list of strings"),
            ("", None),  # blank line: skipped silently
            (json.dumps(good(4, title="重复文章旧版 酃湖公园"), ensure_ascii=False), None),
            (json.dumps(good(4, title="重复文章新版 酃湖公园"), ensure_ascii=False), None),
        ]
        broken.write_text("".join(text + "\n" for text, _ in lines), encoding="utf-8")
        for lineno, (_, problem) in enumerate(lines, start=1):
            if problem:
                self.errors.append((f"{broken}:{lineno}", problem))
        self.dup_first, self.dup_last = f"{broken}:{len(lines) - 1}", f"{broken}:{len(lines)}"
        self.stored_titles["good-1"] = "控制字符在标题里 石鼓书院"
        self.stored_titles["good-4"] = "重复文章新版 酃湖公园"
        for i in range(5):
            self.add_good(f"good-{i}", UNIQUE[i])

        # -- mixed-encoding.jsonl: GBK and UTF-8 lines, a BOM, invalid bytes --
        mixed = self.small / "mixed-encoding.jsonl"
        rows = [
            json.dumps(good(5, id="gbk-1"), ensure_ascii=False).encode("gbk"),
            json.dumps(good(6, id="utf8-1"), ensure_ascii=False).encode("utf-8"),
            b"\xef\xbb\xbf" + json.dumps(good(7, id="bom-1"), ensure_ascii=False).encode("utf-8"),
            invalid_bytes_line(),
            json.dumps(good(8, id="gb18030-1", body="本报讯 东洲岛𠀀周末接待游客。"), ensure_ascii=False).encode(
                "gb18030"
            ),
        ]
        mixed.write_bytes(b"\n".join(rows) + b"\n")
        self.mixed = mixed
        self.invalid_bytes_at = f"{mixed}:4"
        for i, article_id in zip((5, 6, 7, 8), ("gbk-1", "utf8-1", "bom-1", "gb18030-1"), strict=True):
            self.add_good(article_id, UNIQUE[i])

        # -- truncated.jsonl.gz: the stream ends mid-way ------------------------
        gz = self.small / "truncated.jsonl.gz"
        payload = "".join(
            json.dumps({"id": f"gz-{i}", "title": f"压缩档案第{i}号", "body": "档案" * 40}, ensure_ascii=False) + "\n"
            for i in range(60)
        ).encode("utf-8")
        whole = gzip.compress(payload)
        gz.write_bytes(whole[: len(whole) // 2])
        self.gz = gz
        partial = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(whole[: len(whole) // 2])
        self.gz_complete = partial.count(b"\n")  # records wholly before the cut
        # -- not-gzip.jsonl.gz: not a gzip stream at all -------------------------
        notgz = self.small / "not-gzip.jsonl.gz"
        notgz.write_bytes(b'{"id": "x", "title": "plain text pretending to be gzip"}\n')
        self.errors.append((f"{notgz}:1", "cannot read further"))

        # -- records.json: an array with bad records (reported as file#record) --
        records = self.small / "records.json"
        records.write_text(
            json.dumps([good(9, id="json-1"), {"id": None, "title": "空"}, "not an object"], ensure_ascii=False),
            encoding="utf-8",
        )
        self.errors.append((f"{records}#2", "record has no id"))
        self.errors.append((f"{records}#3", "expected a JSON object"))
        self.add_good("json-1", UNIQUE[9])

        # -- text pages: an empty one and a good one ------------------------------
        (self.small / "empty.txt").write_bytes(b"")
        self.errors.append((f"{self.small / 'empty.txt'}", "empty page"))
        (self.small / "page-1.txt").write_text(
            "南岳庙会今日开幕\n衡阳晚报\n2022-03-01 08:00\n35\n南岳庙会吸引四方香客。\n相关内容\n别的新闻\n",
            encoding="utf-8",
        )
        self.add_good("page-1", "南岳庙会")

        # -- the 20 MB body ----------------------------------------------------------
        huge = root / "huge"
        huge.mkdir()
        self.big_body = big_body()
        (huge / "big.jsonl").write_text(
            json.dumps({"id": "big", "title": BIG_TITLE, "body": self.big_body}, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        self.big_at = f"{huge / 'big.jsonl'}:1"  # over MAX_RECORD_MB: reported, not indexed
        searched = "".join(self.searchable) + "压缩档案" + BIG_TITLE
        assert not set(searched) & set("".join(BIG_VOCAB)), "the big body must not match any test query"

    def add_good(self, article_id: str, query: str) -> None:
        self.good_ids.add(article_id)
        self.searchable[query] = article_id

    def gz_indexed(self, errors: list[str]) -> int:
        """Records of the truncated gzip file that were readable: those before the reported line."""
        (where,) = [e for e in errors if e.startswith(f"{self.gz}:")]
        match = re.match(rf"{re.escape(str(self.gz))}:(\d+): cannot read further", where)
        assert match, where
        return int(match.group(1)) - 1


def invalid_bytes_line() -> bytes:
    """A UTF-8 line corrupted by one stray byte inside the title (valid neither as UTF-8 nor GB18030)."""
    raw = json.dumps({"id": "bytes-1", "title": "衡阳新闻联播今天开始"}, ensure_ascii=False).encode("utf-8")
    cut = raw.index("今".encode())
    return raw[:cut] + b"\xff" + raw[cut:]


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> BadCorpus:
    return BadCorpus(tmp_path_factory.mktemp("bad-articles"))


@pytest.fixture(scope="module")
def bad_index(bad, tmp_path_factory, analyzer):
    store = search.IndexStore(tmp_path_factory.mktemp("bad-index") / "ix", analyzer)
    started = time.perf_counter()
    report = search.reindex(store, [bad.root], full=True, workers=1)
    seconds = time.perf_counter() - started
    STATS["bad-article reindex seconds (20 MB record reported)"] = round(seconds)
    return store, report


def assert_reported(errors: list[str], bad: BadCorpus) -> None:
    """Each expected problem appears once, with its file and line/record; nothing else is an error."""
    remaining = list(errors)
    for where, fragment in bad.errors:
        found = [e for e in remaining if e.startswith(where + ":") and fragment in e]
        assert len(found) == 1, f"expected one error at {where} mentioning {fragment!r}; errors:\n" + "\n".join(errors)
        remaining.remove(found[0])
    remaining = [e for e in remaining if not e.startswith(f"{bad.gz}:")]
    assert remaining == [], "unexpected errors:\n" + "\n".join(remaining)


def test_bad_articles_library_reindex(bad, bad_index):
    store, report = bad_index
    STATS["bad records"] += len(bad.errors) + 2
    errors = [e for e in report.errors if not e.startswith(bad.big_at + ":")]
    assert_reported(errors, bad)
    gz_count = bad.gz_indexed(errors)
    assert gz_count == bad.gz_complete and 1 <= gz_count < 60  # every complete record before the cut
    # good articles, the readable part of the gzip file and the invalid-bytes line (repaired, warned);
    # not the 20 MB record: over MAX_RECORD_MB, reported with its file and line
    expected_docs = len(bad.good_ids) + gz_count + 1
    expected_failed = len(bad.errors) + 2  # and the end of the truncated gzip stream, and the 20 MB record
    assert (report.mode, report.indexed, report.updated, report.skipped, report.failed) == (
        "full",
        expected_docs,
        0,
        1,
        expected_failed,
    )
    assert report.doc_count == expected_docs and not report.ok
    assert report.warnings == [
        f"duplicate id 'good-4': {bad.dup_last} replaces {bad.dup_first}",
        f"{bad.invalid_bytes_at}: 1 invalid UTF-8 byte sequence(s), first at byte 46, replaced with U+FFFD",
    ]
    assert store.meta()["doc_count"] == expected_docs


def test_bad_articles_good_ones_searchable(bad, bad_index):
    store, report = bad_index
    engine = search.SearchEngine(store)
    for query, article_id in bad.searchable.items():
        res = engine.search(query, size=20)
        STATS["searches"] += 1
        assert article_id in [h.id for h in res.hits], f"{query!r} should find {article_id}"
    for article_id in bad.good_ids:
        assert engine.article(article_id) is not None, article_id
    for article_id, title in bad.stored_titles.items():
        assert engine.article(article_id)["title"] == title
    # the control characters are gone from what is stored, not just from what is indexed
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", engine.article("good-1")["body"])
    # the readable records of the truncated gzip file are all there, in order
    gz_count = bad.gz_indexed(report.errors)
    res = engine.search("压缩档案", size=100, collapse=False)
    assert sorted(h.id for h in res.hits) == sorted(f"gz-{i}" for i in range(gz_count))
    # nothing broken slipped in
    for article_id in (
        "bad-json",
        "no-text",
        "empty-text",
        "blank-text",
        "ctrl-only",
        "year-0",
        "year-9999",
        "bad-views",
    ):
        assert engine.article(article_id) is None, article_id


def test_bad_articles_20mb_record_is_reported_not_indexed(bad, bad_index):
    store, report = bad_index
    engine = search.SearchEngine(store)
    started = time.perf_counter()
    assert "big" not in [h.id for h in engine.search(BIG_TITLE).hits]
    assert time.perf_counter() - started < TIME_BOUND
    assert engine.article("big") is None
    size = len(
        (json.dumps({"id": "big", "title": BIG_TITLE, "body": bad.big_body}, ensure_ascii=False) + "\n").encode()
    )
    assert size >= BIG_BODY_BYTES
    assert f"{bad.big_at}: record is {size} bytes, over the limit of 8 MB (MAX_RECORD_MB)" in report.errors


CHILD_SEARCH = """
import sys, time
from pathlib import Path
import search
engine = search.SearchEngine(search.IndexStore(sys.argv[1], search.Analyzer()))
engine.search(sys.argv[2])  # opens the index and builds the scoring arrays
query = Path(sys.argv[3]).read_text(encoding="utf-8")
print("ready", flush=True)
started = time.perf_counter()
try:
    engine.search(query)
except search.QueryError:
    pass
print("done %.3f" % (time.perf_counter() - started), flush=True)
"""


def child_search_seconds(index: Path, query: str, warm: str, tmp_path: Path) -> float | None:
    """Time one search in a child process; None when it has not answered within the time bound.

    For searches known to run for minutes: the child is killed at the bound instead of waited out.
    """
    query_file = tmp_path / "query.txt"
    query_file.write_text(query, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_SEARCH, str(index), warm, str(query_file)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready and proc.stdout.readline().strip() == "ready"
        try:
            out, _ = proc.communicate(timeout=TIME_BOUND + 1)
        except subprocess.TimeoutExpired:
            return None
        assert out.startswith("done"), out
        return float(out.split()[1])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def test_search_hit_inside_a_huge_body_answers_in_time(tmp_path, analyzer):
    unit = "衡阳市雁峰区疫情防控工作有序开展，市民生活秩序良好。"
    body = unit * (2 * 1024 * 1024 // len(unit.encode("utf-8")))
    records = [
        {"id": "long", "title": "长篇报道", "body": body},
        {"id": "short", "title": "短讯", "body": "短讯正文。"},
    ]
    store = search.IndexStore(tmp_path / "ix", analyzer)
    assert search.reindex(store, [write_jsonl(tmp_path / "long.jsonl", records)], full=True, workers=1).ok
    seconds = child_search_seconds(store.root, "衡阳", "短讯", tmp_path)
    assert seconds is not None and seconds < TIME_BOUND, f"{seconds} s for a query that hits a 2 MB body"


def test_invalid_bytes_are_reported_not_garbled(bad, bad_index):
    store, report = bad_index
    reported = [m for m in report.errors + report.warnings if m.startswith(bad.invalid_bytes_at + ":")]
    stored = search.SearchEngine(store).article("bytes-1")
    assert reported == [
        f"{bad.invalid_bytes_at}: 1 invalid UTF-8 byte sequence(s), first at byte 46, replaced with U+FFFD"
    ]
    assert stored is not None and stored["title"] == "衡阳新闻联播\ufffd今天开始"


def test_bad_articles_cli(bad, tmp_path):
    index = tmp_path / "cli-ix"
    result = CliRunner().invoke(cli, ["--index", str(index), "reindex", str(bad.small), "--full"])
    STATS["cli runs"] += 1
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line[len("error: ") :] for line in result.output.splitlines() if line.startswith("error: ")]
    assert_reported(errors, bad)
    gz_count = bad.gz_indexed(errors)
    docs = len(bad.good_ids) + gz_count + 1
    failed = len(bad.errors) + 1
    assert f"warning: {bad.invalid_bytes_at}: 1 invalid UTF-8 byte sequence(s)" in result.output
    assert f"warning: duplicate id 'good-4': {bad.dup_last} replaces {bad.dup_first}" in result.output
    assert f"full reindex: {docs} indexed, 0 updated, 1 skipped, {failed} failed; {docs} articles in gen-" in (
        result.output
    )
    engine = search.SearchEngine(search.IndexStore(index, search.Analyzer()))
    for query, article_id in bad.searchable.items():
        assert article_id in [h.id for h in engine.search(query, size=20).hits], query
    for article_id, title in bad.stored_titles.items():
        assert engine.article(article_id)["title"] == title


def test_incremental_duplicate_ids_replace_the_right_documents(tmp_path, analyzer):
    base = write_jsonl(tmp_path / "base.jsonl", [{"id": k, "title": f"{k}号新闻"} for k in ("a", "b", "c")])
    update = write_jsonl(tmp_path / "update.jsonl", [{"id": "b", "title": "b号旧版"}, {"id": "b", "title": "b号新版"}])
    store = search.IndexStore(tmp_path / "ix", analyzer)
    search.reindex(store, [base], full=True, workers=1)
    report = search.reindex(store, [update], workers=1)
    assert (report.mode, report.updated, report.skipped, report.doc_count) == ("incremental", 1, 1, 3)
    with store.open().searcher() as searcher:
        live = sorted((f["id"], f["title"]) for f in searcher.all_stored_fields())
    assert live == [("a", "a号新闻"), ("b", "b号新版"), ("c", "c号新闻")]


# =============================================================================
# Hostile queries
# =============================================================================

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PAYLOADS = (SCRIPT, IMG)

XSS_ARTICLES = [
    {
        "id": "xss-1",
        "title": f"衡阳晚报{SCRIPT}疫情防控",
        "lead": f"核心{SCRIPT}提示",
        "body": f"衡阳市召开疫情防控会议{IMG}。会上{SCRIPT}强调联防联控。\n第二段{IMG}衡阳。",
        "source": f"来源{IMG}",
        "channel": f"栏目{SCRIPT}",
        "authors": [f"记者 {SCRIPT}"],
        "tags": [IMG],
        "published": "2022-01-01 09:00:00",
        "views": 5000,
    },
    {
        "id": "xss-2",
        "title": f"衡阳疫情防控{IMG}新进展",
        "body": f"衡阳疫情防控工作会议{SCRIPT}召开。衡阳市民{IMG}积极配合。",
        "published": "2022-01-02 09:00:00",
        "views": 4000,
    },
    {
        "id": SCRIPT,
        "title": f"衡阳疫情防控编号注入{IMG}",
        "body": "衡阳疫情防控，编号里有脚本。",
        "published": "2022-01-03 09:00:00",
        "views": 3000,
    },
    {
        "id": "js-url",
        "title": "衡阳疫情防控外链报道",
        "url": "javascript:alert(1)",
        "body": "衡阳疫情防控工作会议召开，外链报道。",
        "published": "2022-01-04 09:00:00",
    },
]


class Site:
    def __init__(self, root: Path, analyzer: search.Analyzer) -> None:
        corpus = write_jsonl(root / "site.jsonl", ARTICLES + XSS_ARTICLES)
        self.store = search.IndexStore(root / "ix", analyzer)
        report = search.reindex(self.store, [corpus], full=True, workers=1)
        assert report.ok, report.errors
        self.engine = search.SearchEngine(self.store)
        self.app = create_app({"INDEX": str(root / "ix"), "TESTING": True})
        self.client = self.app.test_client()


@pytest.fixture(scope="module")
def site(tmp_path_factory, analyzer) -> Site:
    return Site(tmp_path_factory.mktemp("site"), analyzer)


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


def assert_safe_html(fragment: str) -> None:
    """An HTML field of a result: escaped text, with only <mark> tags."""
    rest = re.sub(r"</?mark>", "", fragment)
    assert "<" not in rest and ">" not in rest, fragment
    for payload in PAYLOADS:
        assert payload not in fragment


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


# =============================================================================
# Output safety
# =============================================================================


def assert_no_payload(text: str, where: str) -> None:
    for payload in PAYLOADS:
        assert payload not in text, f"{payload} unescaped in {where}"
    assert "onerror=alert(1)>" not in text and "<script>alert" not in text, where


@pytest.mark.parametrize(
    "url",
    [
        "/search?q=衡阳",
        "/search?q=疫情防控",
        "/search?q=衡阳&sort=date",
        "/search?q=" + quote(SCRIPT),
        "/search?q=" + quote(IMG),
        "/search?q=" + quote(SCRIPT + "长" * 300),  # the 400 page echoes the query
        "/search?q=衡阳&channel=" + quote(SCRIPT),
        "/search?q=衡阳&page=0&sort=" + quote(IMG),
    ],
)
def test_search_page_escapes(site, url):
    response = site.client.get(url)
    assert response.status_code in (200, 400)
    assert_no_payload(response.get_data(as_text=True), url)


def test_search_page_shows_payload_as_text(site):
    page = site.client.get("/search?q=衡阳疫情防控").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<mark>" in page


@pytest.mark.parametrize("article_id", ["xss-1", "xss-2", "a1", SCRIPT])
def test_article_page_and_related_box_escape(site, article_id):
    response = site.client.get("/articles/" + quote(article_id, safe=""))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert_no_payload(page, f"/articles/{article_id}")
    box = re.search(r'<section class="related-box".*?</section>', page, re.S)
    assert box is not None


def test_related_box_lists_the_hostile_titles_escaped(site):
    # xss-2's related box holds xss-1 and the injected id: the test is not vacuous
    page = site.client.get("/articles/xss-2").get_data(as_text=True)
    box = re.search(r'<section class="related-box".*?</section>', page, re.S).group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in box
    assert_no_payload(box, "related box")
    article = site.client.get("/articles/xss-1").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in article


@pytest.mark.parametrize(
    "url",
    [
        "/api/search?q=衡阳",
        "/api/search?q=疫情防控",
        "/api/search?q=" + quote(SCRIPT),
        "/api/search?q=" + quote("alert(1)"),
        "/api/search?q=" + quote("script"),
        "/api/search?q=" + quote("onerror"),
        "/api/search?q=" + quote("<mark>衡阳</mark>"),
    ],
)
def test_api_html_fields_escape(site, url):
    response = site.client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    for hit in data["hits"]:
        assert_safe_html(hit["snippet"])
        assert_safe_html(hit["title_html"])
        # the HTML field shows exactly the plain title
        assert html.unescape(re.sub(r"</?mark>", "", hit["title_html"])) == hit["title"]
        for dup in hit.get("duplicates", []):
            assert isinstance(dup["title"], str)


def test_api_article_and_related_are_json_text(site):
    response = site.client.get("/api/articles/xss-1")
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["title"] == XSS_ARTICLES[0]["title"]  # plain text fields stay plain text
    related = site.client.get("/api/articles/xss-2/related").get_json()["related"]
    assert related and all(isinstance(r["title"], str) for r in related)


def test_related_api_never_offers_script_urls(site):
    urls = []
    for article_id in ("xss-1", "xss-2", "a1", "a3"):
        urls += [r["url"] for r in site.client.get(f"/api/articles/{article_id}/related?size=50").get_json()["related"]]
    urls += [h["url"] for h in site.client.get("/api/search?q=" + quote("外链报道")).get_json()["hits"]]
    assert urls
    assert not [u for u in urls if u.strip().lower().startswith(("javascript:", "data:", "vbscript:"))]


# =============================================================================
# Path safety
# =============================================================================

TRAVERSALS = [
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e%252fetc%252fpasswd",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "..%5c..%5ccli.py",
    "..\\..\\cli.py",
    "C:\\Windows\\win.ini",
    "file:///etc/passwd",
    "../../../../../../../../proc/self/environ",
    "/proc/self/environ",
    "../cli.py",
    "../../pyproject.toml",
    "..",
    "%2e%2e",
    ".",
    "~root",
    "%00",
    "a1%00.txt",
    "a1/../a2",
]
FILE_MARKERS = ("root:x:", "root:*:", "[fonts]", "PATH=", "import click", "[project]", "HOME=")


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_api_article_paths_are_ids_not_files(site, raw):
    for url in (f"/api/articles/{raw}", f"/api/articles/{raw}/related"):
        response = site.client.get(url, follow_redirects=True)
        body = response.get_data(as_text=True)
        assert not any(m in body for m in FILE_MARKERS), url
        assert response.status_code == 404, (url, response.status_code, body[:200])
        data = response.get_json()
        assert set(data) == {"error"} and data["error"]["code"] == "not_found", (url, data)


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_article_page_paths_are_ids_not_files(site, raw):
    url = f"/articles/{raw}"
    response = site.client.get(url, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert not any(m in body for m in FILE_MARKERS), url
    assert response.status_code == 404, (url, response.status_code)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("raw", ["../cli.py", "%2e%2e/cli.py", "..%2fcli.py", "%2e%2e%2f%2e%2e%2fpyproject.toml"])
def test_static_paths_do_not_escape(site, raw):
    response = site.client.get(f"/static/{raw}", follow_redirects=True)
    assert response.status_code == 404
    assert not any(m in response.get_data(as_text=True) for m in FILE_MARKERS)
