"""Bad articles: one directory with every kind of breakage (and good articles around it).

Through ``search.reindex`` and through the CLI: each problem is reported with
its file and line (or record), everything good is indexed and searchable, and
the CLI exits 1. Known bugs are kept as strict xfails; the reason names the bug.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import search
from cli import cli

from .conftest import write_jsonl
from .hostile import TIME_BOUND, child_search_seconds, report_counts

STATS: Counter[str] = Counter({"unexpected errors seen": 0})  # reported at the end of the module


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    report_counts(request, "bad articles", STATS)


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
