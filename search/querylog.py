"""The query log: what readers searched and clicked, in SQLite, nothing personal.

Rows hold the query (control characters stripped; phone, ID-card, e-mail and
long digit runs masked by ``mask_personal`` before anything is written), its
result count, whether the answer was a relaxed (any-word) one, latency, the
article id of a click, and a client key: an HMAC of IP address and User-Agent
under a random salt that changes every UTC day (``client_id``). The day's
salt is the only secret kept, and the previous one is deleted when a day
begins, so a key cannot be tied back to an address after its day. Never the
address, a cookie or the User-Agent itself. The file and its -wal/-shm are
created 0600.

A search only appends its row to a list; a background thread writes what has
gathered in one transaction at most ``flush_seconds`` later, so a search
neither waits for the disk nor wakes a thread (waking the writer for every
row, which then took the GIL while the answer was being sent, cost a search
request ~0.2 ms over HTTP). The table is rotated to ``max_rows``.

The log feeds hot searches, hot articles (clicks) and the zero-result report.
Hot lists count a query or an article once per client per ``window`` seconds,
want ``min_clients`` distinct clients for a hot search and a real match (not a
relaxed answer), and pass through a ``Denylist``.

Why one module of this size (and ``QueryLog`` over 150 lines): the log's
writer thread, its privacy rules (salted client ids, rotation) and the hot
lists it feeds share one SQLite connection and its lock, so they are one
class.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .screening import MASK_MARKS, Denylist, mask_personal

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS salt (day TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
# Columns added after the first release: (table, column, definition); old logs gain them on open.
COLUMNS = (
    ("searches", "client", "TEXT NOT NULL DEFAULT ''"),
    ("searches", "relaxed", "INTEGER NOT NULL DEFAULT 0"),
    ("clicks", "client", "TEXT NOT NULL DEFAULT ''"),
)
ROTATE_EVERY = 500  # rows written between rotations
FLUSH_SECONDS = 1.0  # the writer writes what has gathered at least this often
MAX_PENDING = 10_000  # rows waiting beyond this are dropped: a flood must not slow searches or fill memory
MAX_SEEN = 50_000  # hashes of (client, query) pairs remembered per window (~4 MB) to skip repeats before queueing
WINDOW_SECONDS = 3600.0
MIN_CLIENTS = 3


def query_log_path(settings: Mapping[str, Any]) -> Path:
    """Where the query log is: the ``QUERY_LOG`` setting, else ``querylog.sqlite3`` in the index directory."""
    return Path(settings["QUERY_LOG"] or Path(settings["INDEX"]) / "querylog.sqlite3")


class QueryLog:
    """Append-only log with a writer thread; reads open their own connection."""

    def __init__(
        self,
        path: str | Path,
        max_rows: int = 200_000,
        report_ttl: float = 30.0,
        flush_seconds: float = FLUSH_SECONDS,
        *,
        window: float = WINDOW_SECONDS,
        min_clients: int = MIN_CLIENTS,
        denylist: Denylist | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        # Hot searches and click counts aggregate the whole recent log: computed at most
        # every ``report_ttl`` seconds per process, not on every page view.
        self.report_ttl = report_ttl
        self.window = max(float(window), 1.0)
        self.min_clients = max(int(min_clients), 1)
        self.denylist = denylist if denylist is not None else Denylist.load()
        self._reports: dict[tuple, tuple[float, Any]] = {}
        self._reports_lock = threading.Lock()
        self._private()
        with contextlib.closing(self._connect()) as db:
            db.executescript(SCHEMA)
            for table, column, definition in COLUMNS:
                if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        self._private()
        self._salt: tuple[str, bytes] | None = None
        self._salt_lock = threading.Lock()
        self._seen: set[int] = set()
        self._seen_window = -1
        self.flush_seconds = flush_seconds
        self._pending: list[tuple[str, tuple]] = []
        self._cond = threading.Condition()
        self._asked = self._done = 0  # flushes asked for, and written
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="querylog-writer", daemon=True)
        self._writer.start()

    def _private(self) -> None:
        """Create the log file 0600 and keep it, its -wal and -shm that way (SQLite gives them the file's mode).

        An existing file is never opened here: closing any descriptor of a database drops every POSIX
        lock this process holds on it (SQLite's "close() breaks locks"). With two workers starting at
        once, one then took the other for gone, checkpointed and deleted the WAL under it, and the log
        became "file is not a database" (a soak run saw 327 failed pages).
        """
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{self.path}{suffix}", 0o600)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    # --- who is asking ------------------------------------------------------------

    def client_id(self, address: str, user_agent: str) -> str:
        """A key for one client today: HMAC-SHA256 of address and User-Agent under the day's salt, 16 hex digits."""
        return hmac.new(self._day_salt(), f"{address}\n{user_agent}".encode(), hashlib.sha256).hexdigest()[:16]

    def _day_salt(self) -> bytes:
        """Today's (UTC) random salt, shared through the log file by every worker; yesterday's is deleted."""
        day = time.strftime("%Y-%m-%d", time.gmtime())
        with self._salt_lock:
            if self._salt is None or self._salt[0] != day:
                try:
                    with contextlib.closing(self._connect()) as db:
                        db.execute("PRAGMA secure_delete=ON")  # a deleted salt is overwritten, not left in a free page
                        db.execute(
                            "INSERT OR IGNORE INTO salt (day, value) VALUES (?, ?)", (day, secrets.token_bytes(32))
                        )
                        db.execute("DELETE FROM salt WHERE day != ?", (day,))
                        self._salt = (day, db.execute("SELECT value FROM salt WHERE day = ?", (day,)).fetchone()[0])
                except sqlite3.Error:  # a locked or broken log must not fail a search: this process's own salt
                    self._salt = (day, secrets.token_bytes(32))
            return self._salt[1]

    def _first_in_window(self, *key: Any) -> bool:
        """True the first time ``key`` is seen in this window by this process (repeats are not even queued)."""
        window = int(time.time() // self.window)
        with self._cond:
            if window != self._seen_window or len(self._seen) >= MAX_SEEN:
                self._seen.clear()
                self._seen_window = window
            digest = hash(key)  # an int, not the strings: a flood of distinct queries stays small
            if digest in self._seen:
                return False
            self._seen.add(digest)
            return True

    # --- writing (never blocks a request) ------------------------------------

    def search(self, query: str, results: int, took_ms: float, client: str = "", relaxed: bool = False) -> None:
        """Log a search (masked); a client's repeat of the same query within the window is not logged again."""
        query = mask_personal(query[:400])[:200]
        if client and not self._first_in_window("search", client, query):
            return
        self._put(
            "INSERT INTO searches (ts, query, results, took_ms, client, relaxed) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), query, results, took_ms, client, int(relaxed)),
        )

    def click(self, query: str, article_id: str, client: str = "") -> None:
        """Log a click on a result (query masked); a client's repeat within the window is not logged again."""
        query = mask_personal(query[:400])[:200]
        if client and not self._first_in_window("click", client, article_id):
            return
        self._put(
            "INSERT INTO clicks (ts, query, article_id, client) VALUES (?, ?, ?, ?)",
            (time.time(), query, article_id[:200], client),
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
        try:
            value = compute()
        except sqlite3.Error as exc:  # a locked or damaged log must not fail the page that shows a report
            log.warning("query log %s: %s", self.path, exc)
            return [] if key[0] != "clicks" else {}
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
        """The most searched queries: ``count`` is distinct (client, window) pairs; see the module docstring."""
        return self._report(("hot", limit, days), lambda: self._hot_searches(limit, days))

    def _hot_searches(self, limit: int, days: float) -> list[dict[str, Any]]:
        since = time.time() - days * 86400
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                "SELECT query, COUNT(DISTINCT client || ':' || CAST(ts / ? AS INTEGER)) AS n FROM searches "
                "WHERE ts >= ? AND results > 0 AND relaxed = 0 AND query != '' AND client != '' "
                "GROUP BY query HAVING COUNT(DISTINCT client) >= ? ORDER BY n DESC, query",
                (self.window, since, self.min_clients),
            )
            hot = []
            for query, n in rows:
                if not any(mark in query for mark in MASK_MARKS) and not self.denylist.blocks(query):
                    hot.append({"query": query, "count": n})
                    if len(hot) == limit:
                        break
        return hot

    def clicks_by_article(self, days: float = 7.0) -> dict[str, int]:
        """Clicks per article id, each client counted once per window."""
        return self._report(("clicks", days), lambda: self._clicks_by_article(days))

    def _clicks_by_article(self, days: float) -> dict[str, int]:
        since = time.time() - days * 86400
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                "SELECT article_id, COUNT(DISTINCT client || ':' || CAST(ts / ? AS INTEGER)) FROM clicks "
                "WHERE ts >= ? AND client != '' GROUP BY article_id",
                (self.window, since),
            ).fetchall()
        return dict(rows)

    def zero_results(self, limit: int = 50, days: float = 30.0) -> list[dict[str, Any]]:
        since = time.time() - days * 86400
        with contextlib.closing(self._connect()) as db:
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
