import json
import os
import re
import sqlite3
import stat
import threading
import time

import pytest
from click.testing import CliRunner

from cli import cli
from search import querylog
from search.querylog import QueryLog
from search.screening import mask_personal

COLUMNS = {"searches": "id, ts, query, results, took_ms", "clicks": "id, ts, query, article_id"}


def rows(path, table="searches"):
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT {COLUMNS[table]} FROM {table} ORDER BY id").fetchall()


def test_rows_wait_for_the_writer_and_a_flush_writes_them(tmp_path):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60)
    woken = []
    real_notify = log._cond.notify  # notify_all calls notify: every wake-up of the writer passes here
    log._cond.notify = lambda n=1: woken.append(n) or real_notify(n)
    log.search("疫情", 3, 1.5)
    log.click("疫情", "a1")
    # a search only appends to a list: nothing woke the writer, which sleeps for flush_seconds
    assert (woken, len(log._pending), rows(log.path)) == ([], 2, [])
    log.flush()
    assert woken  # a flush does wake it
    assert [(q, n, ms) for _, _, q, n, ms in rows(log.path)] == [("疫情", 3, 1.5)]
    assert [(q, a) for _, _, q, a in rows(log.path, "clicks")] == [("疫情", "a1")]
    log.close()


def test_the_writer_comes_by_on_its_own(tmp_path):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=0.05)
    log.search("大学生", 0, 2.0)
    deadline = time.monotonic() + 5
    while not rows(log.path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(q, n) for _, _, q, n, _ in rows(log.path)] == [("大学生", 0)]
    assert log.zero_results()[0]["query"] == "大学生"
    log.close()


def test_rows_logged_while_flushing_from_many_threads_are_all_written(tmp_path):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=0.01)

    def search(i):
        for j in range(50):
            log.search(f"q{i}-{j}", 1, 1.0)
            if j % 10 == 0:
                log.flush()

    threads = [threading.Thread(target=search, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.flush()
    assert sorted(q for _, _, q, _, _ in rows(log.path)) == sorted(f"q{i}-{j}" for i in range(4) for j in range(50))
    log.close()


def test_rotation_keeps_the_newest_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(querylog, "ROTATE_EVERY", 10)
    log = QueryLog(tmp_path / "log.sqlite3", max_rows=5, flush_seconds=60)
    for i in range(12):
        log.search(f"q{i}", 1, 1.0)
    log.flush()
    assert [q for _, _, q, _, _ in rows(log.path)] == ["q7", "q8", "q9", "q10", "q11"]
    log.close()


def test_a_flood_drops_rows_instead_of_slowing_searches(tmp_path, monkeypatch):
    monkeypatch.setattr(querylog, "MAX_PENDING", 3)
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60)
    for i in range(5):
        log.search(f"q{i}", 1, 1.0)
    log.flush()
    assert [q for _, _, q, _, _ in rows(log.path)] == ["q0", "q1", "q2"]
    log.close()


def test_close_writes_what_is_left(tmp_path):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60)
    log.search("最后", 1, 1.0)
    log.close()
    assert not log._writer.is_alive()
    assert [q for _, _, q, _, _ in rows(log.path)] == ["最后"]


def test_a_row_that_cannot_be_written_is_skipped_not_its_batch(tmp_path):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60)
    log.search("前", 1, 1.0)
    log._put("INSERT INTO nowhere VALUES (?)", (1,))  # no such table
    log.search("后", 1, 1.0)
    log.flush()
    assert [q for _, _, q, _, _ in rows(log.path)] == ["前", "后"]
    assert log._writer.is_alive()
    log.close()


PERSONAL = [
    ("张三 13812345678", "张三 [phone]"),
    ("138-1234-5678 衡阳", "[phone] 衡阳"),
    ("+86 138 1234 5678", "[phone]"),
    ("１３８１２３４５６７８", "[phone]"),  # full-width digits
    ("衡阳 0734-8123456", "衡阳 [phone]"),
    ("(0734)8123456", "[phone]"),
    ("身份证43010219900101123X", "身份证[id]"),
    ("430102 19900101 123x", "[id]"),
    ("zhang.san+news@example.com.cn 投诉", "[email] 投诉"),
    ("投诉邮箱zs@qq.com", "投诉邮箱[email]"),
    ("联系 Zhang_San@Example.COM", "联系 [email]"),
    ("卡号 6222021234567890123", "卡号 [number]"),
    ("订单1234567", "订单[number]"),
    ("6222 0212 3456 7890", "[number]"),
    ("C919 2023年 疫情防控", "C919 2023年 疫情防控"),
    ("2020-01-01 衡阳", "2020-01-01 衡阳"),
    ("编号 123456", "编号 123456"),
]


@pytest.mark.parametrize(("typed", "kept"), PERSONAL)
def test_personal_data_is_masked(typed, kept):
    assert mask_personal(typed) == kept


def test_the_log_writes_no_personal_data_and_no_control_characters(tmp_path):
    log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60)
    log.search("张三 13812345678 身份证43010219900101123X zs@qq.com", 0, 1.0)
    log.search("\x1b]0;pwned\x07\x1b[2J衡阳\x9b31m\u202e新闻\r\n", 0, 1.0)
    log.click("找 0734-8123456", "a1")
    log.flush()
    assert [q for _, _, q, _, _ in rows(log.path)] == ["张三 [phone] 身份证[id] [email]", "]0;pwned [2J衡阳 31m 新闻"]
    assert [q for _, _, q, _ in rows(log.path, "clicks")] == ["找 [phone]"]
    log.close()


def test_the_log_file_is_private(tmp_path):
    old = os.umask(0o022)
    try:
        log = QueryLog(tmp_path / "log.sqlite3", flush_seconds=60)
        log.search("衡阳", 1, 1.0)
        log.flush()
        made = sorted(p.name for p in tmp_path.iterdir())
        assert made == ["log.sqlite3", "log.sqlite3-shm", "log.sqlite3-wal"]
        assert {name: oct(stat.S_IMODE((tmp_path / name).stat().st_mode)) for name in made} == dict.fromkeys(
            made, "0o600"
        )
        log.close()
        (tmp_path / "log.sqlite3").chmod(0o644)  # a log made by an older version is made private when opened
        QueryLog(tmp_path / "log.sqlite3", flush_seconds=60).close()
        assert stat.S_IMODE((tmp_path / "log.sqlite3").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_an_old_log_gains_the_new_columns(tmp_path):
    path = tmp_path / "log.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE searches (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, query TEXT NOT NULL, "
            "results INTEGER NOT NULL, took_ms REAL NOT NULL);"
            "CREATE TABLE clicks (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, query TEXT NOT NULL, "
            "article_id TEXT NOT NULL);"
        )
        db.execute("INSERT INTO searches (ts, query, results, took_ms) VALUES (?, '衡阳', 3, 1.0)", (time.time(),))
    log = QueryLog(path, flush_seconds=60, min_clients=1)
    log.search("衡阳", 3, 1.0, client="c1")
    log.flush()
    assert log.hot_searches() == [{"query": "衡阳", "count": 1}]  # the old row has no client: it does not count
    log.close()


def test_report_zero_results_never_prints_escape_codes(tmp_path):
    path = tmp_path / "querylog.sqlite3"
    QueryLog(path, flush_seconds=60).close()
    hostile = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e衡阳"
    with sqlite3.connect(path) as db:  # as a log written before queries were cleaned holds it
        db.execute("INSERT INTO searches (ts, query, results, took_ms) VALUES (?, ?, 0, 1.0)", (time.time(), hostile))
    runner = CliRunner()
    text = runner.invoke(cli, ["--index", str(tmp_path), "report", "zero-results"])
    assert text.exit_code == 0, text.output
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e]", text.output.replace("\n", ""))
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e衡阳" in text.output
    as_json = runner.invoke(cli, ["--index", str(tmp_path), "report", "zero-results", "--json"])
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e]", as_json.output.replace("\n", ""))
    assert json.loads(as_json.output)[0]["query"] == "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e衡阳"


def test_an_existing_log_is_never_opened_outside_sqlite(tmp_path, monkeypatch):
    # Closing any descriptor of a database drops this process's POSIX locks on it: a worker that
    # opened and closed the log while its own connection was open let another worker delete the WAL
    # under it ("file is not a database" in a soak run). Only a new file is created by hand.
    from search import querylog

    path = tmp_path / "log.sqlite3"
    querylog.QueryLog(path).close()
    opened: list[str] = []
    real_open = querylog.os.open

    def recording_open(p, *args, **kwargs):
        fd = real_open(p, *args, **kwargs)  # an O_EXCL attempt on the existing file raises here: nothing opened
        opened.append(str(p))
        return fd

    monkeypatch.setattr(querylog.os, "open", recording_open)
    again = querylog.QueryLog(path)
    again.close()
    assert str(path) not in opened
