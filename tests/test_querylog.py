import sqlite3
import threading
import time

from search import querylog
from search.querylog import QueryLog


def rows(path, table="searches"):
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


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
