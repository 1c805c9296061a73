"""CMS database → index: the first full import, then incremental syncs.

A sync compares the CMS with what the last sync saw, kept with the index
generation in ``cms-sync.sqlite3`` (per article: its status token, its hash
and whether it is indexed, plus which database it came from). A full
rebuild makes a new generation without that file, so the next sync starts
afresh with a full import.

* New articles: ids the state has not seen.
* Status changes and hard deletions: the reader's cheap status pass
  (``dede_arctiny``: id, arcrank, channel).
* Edits: a per-article MD5 computed in SQL over id ranges (DedeCMS has no
  modification time), or the modification time in the status token.

Changes are applied in batches: delete, then add/replace by id, commit the
index, and only then write the batch's state. A sync killed anywhere redoes
at most the batch it was in, and redoing one is idempotent (delete by id,
replace by id), so the index ends as after an uninterrupted sync. The whole
sync holds the index's one writer lock; readers keep reading (Whoosh commits
in place, a full import publishes a new generation atomically).

Why one module of this size: the full import, the incremental passes (status,
hashes, batches) and resuming after a crash share one state file and one
contract about it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..articles import Article, ArticleError
from ..index import IndexStore
from ..indexing import ReindexReport, delete, reindex
from .base import CmsError, CmsReader, Decoder, Dsn, Options, Skip, connect, grant_warning
from .dedecms import DedeCMS
from .phpcms import PHPCMS
from .wordpress import WordPress

READERS: dict[str, type[CmsReader]] = {r.name: r for r in (DedeCMS, PHPCMS, WordPress)}
STATE = "cms-sync.sqlite3"
BATCH = 500  # changed articles per index commit
FETCH = 500  # rows per query of the full import
HASH_RANGE = 5000  # ids per query of the hash pass
FULL_AT = 5000  # more changed articles than this and a fifth of the site: a full import instead

# indexed column of the state: why an article is or is not in the index
NOT_INDEXED, INDEXED, SKIPPED_ROW = 0, 1, 2

CrashHook = Callable[[str, int], None]


@dataclass
class SyncReport(ReindexReport):
    """A reindex report plus the seconds each pass over the CMS took."""

    passes: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["passes"] = {name: round(seconds, 3) for name, seconds in self.passes.items()}
        return data


class SyncState:
    """What the last sync saw, in the generation directory: id → (token, hash, indexed)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS articles (id INTEGER PRIMARY KEY, token TEXT NOT NULL, "
            "hash TEXT NOT NULL, indexed INTEGER NOT NULL);"
        )

    def info(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM info"))

    def articles(self) -> dict[int, tuple[str, str, int]]:
        return {i: (t, h, x) for i, t, h, x in self.db.execute("SELECT id, token, hash, indexed FROM articles")}

    def write(self, updates: dict[int, tuple[str, str, int] | None], info: dict[str, str]) -> None:
        """Apply one batch's changes in one transaction."""
        with self.db:
            self.db.executemany("DELETE FROM articles WHERE id = ?", [(i,) for i, v in updates.items() if v is None])
            self.db.executemany(
                "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?)",
                [(i, *v) for i, v in updates.items() if v is not None],
            )
            self.db.executemany("INSERT OR REPLACE INTO info VALUES (?, ?)", info.items())

    def close(self) -> None:
        self.db.close()


def sync(
    store: IndexStore,
    dsn: Dsn,
    cms: str,
    options: Options | None = None,
    charset: str = "auto",
    full: bool = False,
    workers: int = 0,
    writer_mb: int = 1024,
    crash_hook: CrashHook | None = None,
) -> SyncReport:
    """Bring the index up to date with the CMS database; see the module docstring."""
    if cms not in READERS:
        raise CmsError(f"unknown CMS {cms!r} (one of {', '.join(READERS)})")
    started = time.perf_counter()
    reader = READERS[cms](options or Options())
    decoder = Decoder(charset)
    conn = connect(dsn)
    identity = {"cms": cms, "host": dsn.unix_socket or f"{dsn.host}:{dsn.port}", "database": dsn.database}
    # what the stored hashes were taken under: another source, charset or address needs a full import
    identity.update(prefix=reader.prefix, charset=charset, site_url=reader.options.site_url)
    try:
        warning = grant_warning(conn, dsn.database, dsn.user)
        with store.write_lock(reentrant=True):
            state_path = store.generation_dir() / STATE if store.exists() else None
            if full or state_path is None or not state_path.exists():
                report = _full_import(store, reader, conn, decoder, str(dsn), identity, workers, writer_mb, crash_hook)
            else:
                state = SyncState(state_path)
                try:
                    seen = {k: state.info().get(k) for k in identity}
                    if seen != identity:
                        raise CmsError(f"the index was synced from {seen}, not {identity}: rebuild it with sync --full")
                    report = _incremental(store, reader, conn, decoder, state, str(dsn), identity, crash_hook)
                finally:
                    state.close()
                if report is None:  # most of the site changed (a type's URL rule, a restore): rebuild instead
                    report = _full_import(
                        store, reader, conn, decoder, str(dsn), identity, workers, writer_mb, crash_hook
                    )
                    report.warnings.append("most articles changed since the last sync: imported everything anew")
    finally:
        conn.close()
    if warning:
        report.warnings.insert(0, warning)
    report.warnings.extend(decoder.problems)
    report.seconds = time.perf_counter() - started
    return report


def _merge(report: SyncReport, part: ReindexReport) -> None:
    report.indexed += part.indexed
    report.updated += part.updated
    report.failed += part.failed
    report.errors += part.errors
    report.warnings += part.warnings
    report.generation = part.generation
    report.doc_count = part.doc_count


def _full_import(
    store: IndexStore,
    reader: CmsReader,
    conn: Any,
    decoder: Decoder,
    source: str,
    identity: dict[str, str],
    workers: int,
    writer_mb: int,
    crash_hook: CrashHook | None,
) -> SyncReport:
    """Read every indexable article into a new generation, its state beside it."""
    report = SyncReport(mode="full")
    clock = time.perf_counter()
    status = reader.status(conn)
    report.passes["status"] = time.perf_counter() - clock
    states: dict[int, tuple[str, str, int] | None] = {}
    wanted = set()
    for aid, token in status.items():
        if reader.indexable(token) is None:
            wanted.add(aid)
        else:
            states[aid] = (token, "", NOT_INDEXED)
            report.skipped += 1

    def articles() -> Iterator[Article]:
        after, done = 0, 0
        while rows := reader.fetch_after(conn, after, FETCH):
            after = int(rows[-1][0])
            for row in rows:
                aid = int(row[0])
                if aid in wanted:
                    article = _map(reader, row, decoder, report, states, status[aid])
                    if article is not None:
                        yield article
            done += len(rows)
            if crash_hook:
                crash_hook("fetched", done)

    def write_state(gen_dir: Path) -> None:
        state = SyncState(gen_dir / STATE)
        try:
            state.write(states, {**identity, "max_id": str(max(status, default=0))})
        finally:
            state.close()

    clock = time.perf_counter()
    part = reindex(
        store,
        [source],
        full=True,
        workers=workers,
        writer_mb=writer_mb,
        articles=articles(),
        before_publish=write_state,
    )
    report.passes["import"] = time.perf_counter() - clock
    _merge(report, part)
    return report


def _map(
    reader: CmsReader,
    row: tuple,
    decoder: Decoder,
    report: ReindexReport,
    states: dict[int, tuple[str, str, int] | None],
    token: str,
) -> Article | None:
    """One fetched row → an article to index, or None (skipped or failed: recorded)."""
    aid = int(row[0])
    digest = row[-1].decode("ascii") if reader.hashed else ""
    try:
        article = reader.article(row, decoder)
    except Skip:
        report.skipped += 1
        states[aid] = (token, digest, SKIPPED_ROW)
        return None
    except ArticleError as exc:  # not recorded: retried, and reported, by every sync until fixed
        report.failed += 1
        report.errors.append(str(exc))
        states.pop(aid, None)
        return None
    states[aid] = (token, digest, INDEXED)
    return article


def _hash_pass(reader: CmsReader, conn: Any, ids: list[int]) -> dict[int, str]:
    """Per-article hashes computed in SQL, one query per range of ``HASH_RANGE`` ids holding any of ``ids``."""
    hashes: dict[int, str] = {}
    ids = sorted(ids)
    i = 0
    while i < len(ids):
        low = ids[i]
        high = low + HASH_RANGE - 1
        hashes.update(reader.hashes(conn, low, high))
        while i < len(ids) and ids[i] <= high:
            i += 1
    return hashes


def _incremental(
    store: IndexStore,
    reader: CmsReader,
    conn: Any,
    decoder: Decoder,
    state: SyncState,
    source: str,
    identity: dict[str, str],
    crash_hook: CrashHook | None,
) -> SyncReport | None:
    """Find what changed since the state was written and apply it in idempotent batches.

    Returns None, having changed nothing, when so much changed that a full import is cheaper.
    """
    report = SyncReport(mode="incremental")
    old = state.articles()
    clock = time.perf_counter()
    status = reader.status(conn)
    report.passes["status"] = time.perf_counter() - clock

    first: dict[int, tuple[str, str, int] | None] = {}  # state-only changes, written with the deletions
    deletions: list[int] = []
    for aid, (_token, _hash, indexed) in old.items():
        if aid not in status:  # hard delete
            first[aid] = None
            if indexed == INDEXED:
                deletions.append(aid)
    candidates: list[int] = []
    for aid, token in status.items():
        prev = old.get(aid)
        if reader.indexable(token) is None:
            candidates.append(aid)
            continue
        if prev is not None and prev[2] == INDEXED:
            deletions.append(aid)
        elif prev is None or prev[0] != token:
            report.skipped += 1
        if prev is None or prev[0] != token or prev[2] != NOT_INDEXED:
            first[aid] = (token, "", NOT_INDEXED)

    clock = time.perf_counter()
    hashes = _hash_pass(reader, conn, candidates) if reader.hashed else {}
    if reader.hashed:
        report.passes["hash"] = time.perf_counter() - clock
    changed = []
    for aid in candidates:
        prev = old.get(aid)
        digest = hashes.get(aid, "")
        if prev is None or prev[0] != status[aid] or prev[1] != digest or prev[2] == NOT_INDEXED:
            changed.append(aid)

    if len(changed) > max(FULL_AT, len(status) // 5):
        return None
    info = {**identity, "max_id": str(max(status, default=0))}
    clock = time.perf_counter()
    batches = [(deletions, first, [])] + [([], {}, changed[i : i + BATCH]) for i in range(0, len(changed), BATCH)]
    for number, (to_delete, updates, to_fetch) in enumerate(batches, 1):
        if not (to_delete or updates or to_fetch) and number > 1:
            continue
        committed = (lambda n=number: crash_hook("committed", n)) if crash_hook else None
        _apply(
            store,
            reader,
            conn,
            decoder,
            state,
            source,
            info,
            report,
            status,
            old,
            to_delete,
            updates,
            to_fetch,
            committed,
        )
    report.passes["apply"] = time.perf_counter() - clock
    if not report.generation:
        report.generation = store.current() or ""
        with store.open().reader() as r:
            report.doc_count = r.doc_count()
    return report


def _apply(
    store: IndexStore,
    reader: CmsReader,
    conn: Any,
    decoder: Decoder,
    state: SyncState,
    source: str,
    info: dict[str, str],
    report: SyncReport,
    status: dict[int, str],
    old: dict[int, tuple[str, str, int]],
    to_delete: list[int],
    updates: dict[int, tuple[str, str, int] | None],
    to_fetch: list[int],
    committed: Callable[[], None] | None = None,
) -> None:
    """One batch: delete, add/replace, commit the index, then record the batch in the state."""
    updates = dict(updates)
    to_delete = list(to_delete)
    articles: list[Article] = []
    rows = {int(row[0]): row for row in reader.fetch(conn, to_fetch)}
    for aid in to_fetch:
        row = rows.get(aid)
        was_indexed = aid in old and old[aid][2] == INDEXED
        if row is None:  # listed by the status pass, gone since
            updates[aid] = None
            if was_indexed:
                to_delete.append(aid)
            continue
        article = _map(reader, row, decoder, report, updates, status[aid])
        if article is not None:
            articles.append(article)
        elif was_indexed and updates.get(aid) is not None:  # now a redirect, a link, protected
            to_delete.append(aid)
        # a failed row is not recorded: the index keeps what it held, the next sync retries
    if to_delete:
        report.deleted += delete(store, [str(aid) for aid in to_delete])

    def write_state(_gen_dir: Path) -> None:
        if committed:  # tests: a crash after the index commit, before the state
            committed()
        state.write(updates, info)

    if articles:
        _merge(report, reindex(store, [source], articles=articles, workers=1, before_publish=write_state))
    elif updates:
        write_state(Path())
