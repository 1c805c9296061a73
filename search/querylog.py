"""The query log: what readers searched and clicked, in SQLite, nothing personal.

Rows hold the query, its result count, latency and (for clicks) the article
id — never IP addresses, cookies or user agents. A search only appends its
row to a list; a background thread writes what has gathered in one
transaction at most ``flush_seconds`` later, so a search neither waits for
the disk nor wakes a thread (waking the writer for every row, which then
took the GIL while the answer was being sent, cost a search request ~0.2
ms over HTTP). The table is rotated to ``max_rows``. The log feeds hot
searches, hot articles (clicks) and the zero-result report.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    query TEXT NOT NULL,
    results INTEGER NOT NULL,
    took_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS searches_ts ON searches (ts);
CREATE TABLE IF NOT EXISTS clicks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    query TEXT NOT NULL,
    article_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clicks_ts ON clicks (ts);
"""
ROTATE_EVERY = 500  # rows written between rotations
FLUSH_SECONDS = 1.0  # the writer writes what has gathered at least this often
MAX_PENDING = 10_000  # rows waiting beyond this are dropped: a flood must not slow searches or fill memory


class QueryLog:
    """Append-only log with a writer thread; reads open their own connection."""

    def __init__(
        self, path: str | Path, max_rows: int = 200_000, report_ttl: float = 30.0, flush_seconds: float = FLUSH_SECONDS
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        # Hot searches and click counts aggregate the whole recent log: computed at most
        # every ``report_ttl`` seconds per process, not on every page view.
        self.report_ttl = report_ttl
        self._reports: dict[tuple, tuple[float, Any]] = {}
        self._reports_lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)
        self.flush_seconds = flush_seconds
        self._pending: list[tuple[str, tuple]] = []
        self._cond = threading.Condition()
        self._asked = self._done = 0  # flushes asked for, and written
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="querylog-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    # --- writing (never blocks a request) ------------------------------------

    def search(self, query: str, results: int, took_ms: float) -> None:
        self._put(
            "INSERT INTO searches (ts, query, results, took_ms) VALUES (?, ?, ?, ?)",
            (time.time(), query[:200], results, took_ms),
        )

    def click(self, query: str, article_id: str) -> None:
        self._put(
            "INSERT INTO clicks (ts, query, article_id) VALUES (?, ?, ?)", (time.time(), query[:200], article_id[:200])
        )

    def _put(self, sql: str, args: tuple) -> None:
        with self._cond:  # no notify: the writer comes by on its own
            if len(self._pending) < MAX_PENDING:
                self._pending.append((sql, args))

    def _write_loop(self) -> None:
        db = self._connect()
        written = 0
        while True:
            with self._cond:
                deadline = time.monotonic() + self.flush_seconds
                while self._asked == self._done and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch, self._pending = self._pending, []
                asked, closing = self._asked, self._closing
            if batch:
                written = self._write(db, batch, written)
            with self._cond:
                self._done = asked
                self._cond.notify_all()
            if closing:
                break
        db.close()

    def _write(self, db: sqlite3.Connection, batch: list[tuple[str, tuple]], written: int) -> int:
        """Write a batch in one transaction (a row that cannot be written is skipped); return rows written so far."""
        try:
            db.execute("BEGIN")
            for sql, args in batch:
                try:
                    db.execute(sql, args)
                except (sqlite3.Error, ValueError):
                    continue
            db.execute("COMMIT")
            if (written + len(batch)) // ROTATE_EVERY > written // ROTATE_EVERY:
                self.rotate(db)
        except sqlite3.Error:  # the log is best effort (a locked file): search must go on
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
        return written + len(batch)

    def rotate(self, db: sqlite3.Connection | None = None) -> None:
        """Keep the newest ``max_rows`` rows of each table."""
        conn = db or self._connect()
        for table in ("searches", "clicks"):
            conn.execute(f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?", (self.max_rows,))
        if db is None:
            conn.close()

    def flush(self) -> None:
        """Write every row logged so far and wait for it (tests, shutdown); reports are recomputed after."""
        with self._cond:
            self._asked += 1
            target = self._asked
            self._cond.notify_all()
            while self._done < target and self._writer.is_alive():
                self._cond.wait(1.0)
        with self._reports_lock:
            self._reports.clear()

    def _report(self, key: tuple, compute: Any) -> Any:
        now = time.monotonic()
        with self._reports_lock:
            hit = self._reports.get(key)
            if hit is not None and now - hit[0] < self.report_ttl:
                return hit[1]
        value = compute()
        with self._reports_lock:
            self._reports[key] = (now, value)
        return value

    def close(self) -> None:
        """Write what is left and stop the writer."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join(timeout=5)

    # --- reading ---------------------------------------------------------------

    def hot_searches(self, limit: int = 10, days: float = 7.0) -> list[dict[str, Any]]:
        return self._report(("hot", limit, days), lambda: self._hot_searches(limit, days))

    def _hot_searches(self, limit: int, days: float) -> list[dict[str, Any]]:
        since = time.time() - days * 86400
        with self._connect() as db:
            rows = db.execute(
                "SELECT query, COUNT(*) AS n FROM searches WHERE ts >= ? AND results > 0 AND query != '' "
                "GROUP BY query ORDER BY n DESC, query LIMIT ?",
                (since, limit),
            ).fetchall()
        return [{"query": q, "count": n} for q, n in rows]

    def clicks_by_article(self, days: float = 7.0) -> dict[str, int]:
        return self._report(("clicks", days), lambda: self._clicks_by_article(days))

    def _clicks_by_article(self, days: float) -> dict[str, int]:
        since = time.time() - days * 86400
        with self._connect() as db:
            rows = db.execute(
                "SELECT article_id, COUNT(*) FROM clicks WHERE ts >= ? GROUP BY article_id", (since,)
            ).fetchall()
        return dict(rows)

    def zero_results(self, limit: int = 50, days: float = 30.0) -> list[dict[str, Any]]:
        since = time.time() - days * 86400
        with self._connect() as db:
            rows = db.execute(
                "SELECT query, COUNT(*) AS n, MAX(ts) FROM searches WHERE ts >= ? AND results = 0 AND query != '' "
                "GROUP BY query ORDER BY n DESC, query LIMIT ?",
                (since, limit),
            ).fetchall()
            total = db.execute("SELECT COUNT(*), SUM(results = 0) FROM searches WHERE ts >= ?", (since,)).fetchone()
        return [
            {
                "query": q,
                "count": n,
                "last_seen": time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)),
                "share_of_searches": round(n / max(total[0], 1), 4),
            }
            for q, n, ts in rows
        ]
