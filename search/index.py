"""Index storage: generations, the CURRENT pointer, metadata and locks.

An index root holds whole Whoosh indexes called generations::

    indexes/default/
        CURRENT                 name of the generation readers use
        gen-20261129T0501-3f2a/ a complete Whoosh index + meta.json
        tmp-20261129T0600-77bc/ a full rebuild in progress (never read)
        write.lock              held by the one writer at a time

A full rebuild writes a ``tmp-`` directory, renames it to ``gen-`` and then
atomically replaces ``CURRENT``: readers see the old generation or the new
one, never a half-built index. Incremental updates write in place through
Whoosh's own commit, which swaps the table of contents last.

Why one module of this size (and ``IndexStore`` over 150 lines): generations,
``CURRENT``, the write lock and the compatibility check are one store's
contract with its readers and writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from .analysis import Analyzer
from .schema import bind_schema, build_schema
from .storage import PreadStorage, sync_directory

CURRENT = "CURRENT"
META = "meta.json"
LOCK = "write.lock"
SCHEMA_VERSION = 9  # 8: the news codec (search.storage); 9: the body's bigrams without positions
STAMP_SETTLE_NS = 1_000_000_000  # file times older than this (longer than any timestamp tick) are trusted
_HELD: dict[str, int] = {}  # index roots whose write lock a thread of this process holds re-entrantly


class IndexError_(Exception):
    """Base class of index errors (named so it does not shadow ``IndexError``)."""


class NoIndexError(IndexError_):
    """The directory holds no built index."""


class IndexMismatchError(IndexError_):
    """The index was built with another analysis than the one in use."""


class IndexBusyError(IndexError_):
    """Another process is writing the index."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    sync_directory(str(path.parent))  # make the rename itself durable


@dataclass(frozen=True)
class _Held:
    """A thread's searcher, with the stamp of the index files it was checked against."""

    name: str
    searcher: Searcher
    stamp: tuple[int, int, int, int] | None
    settled: bool  # the stamp's times are older than any timestamp tick: a later change must alter it


class IndexStore:
    """One index root: its generations, its metadata and its write lock."""

    def __init__(self, root: str | Path, analyzer: Analyzer) -> None:
        self.root = Path(root)
        self.analyzer = analyzer
        # Whoosh searchers share file handles: one per thread, never shared.
        self._local = threading.local()

    # --- generations --------------------------------------------------------

    def current(self) -> str | None:
        """Return the name of the generation readers use, or None."""
        try:
            name = (self.root / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.root / name).is_dir() else None

    def exists(self) -> bool:
        return self.current() is not None

    def generation_dir(self, name: str | None = None) -> Path:
        name = name or self.current()
        if name is None:
            raise NoIndexError(f"no index in {self.root} (build one with: news-search reindex PATH --full)")
        return self.root / name

    def new_generation(self) -> Path:
        """Create an empty Whoosh index in a fresh ``tmp-`` directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        path = self.root / f"tmp-{stamp}-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        whoosh_index.create_in(str(path), build_schema())
        return path

    def publish(self, tmp: Path) -> str:
        """Make a finished ``tmp-`` generation the current one, atomically."""
        name = "gen-" + tmp.name[len("tmp-") :]
        os.rename(tmp, self.root / name)
        write_text_atomic(self.root / CURRENT, name + "\n")
        return name

    def cleanup(self, keep: int = 1) -> list[str]:
        """Remove stale ``tmp-`` builds and all but ``keep`` older generations.

        Call only while holding the write lock. Readers that still have an old
        generation open keep reading it: open files outlive their directory.
        """
        current = self.current()
        removed = []
        gens = sorted((p for p in self.root.glob("gen-*") if p.is_dir() and p.name != current), reverse=True)
        for path in list(self.root.glob("tmp-*")) + gens[keep:]:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        for path in self.root.glob(f".{CURRENT}.*.tmp"):
            path.unlink(missing_ok=True)
        return removed

    # --- metadata ------------------------------------------------------------

    def meta(self, name: str | None = None) -> dict[str, Any]:
        """Return the metadata of a generation (the current one by default)."""
        path = self.generation_dir(name) / META
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NoIndexError(f"{path.parent} has no {META}: not built by this program") from None

    def write_meta(self, gen_dir: Path, **values: Any) -> dict[str, Any]:
        try:
            meta = json.loads((gen_dir / META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            meta = {}
        meta.update(values)
        meta.update(
            schema_version=SCHEMA_VERSION,
            fingerprint=self.analyzer.fingerprint,
            segmenter=self.analyzer.segmenter.engine,
            userdict=self.analyzer.userdict_files,
        )
        write_json_atomic(gen_dir / META, meta)
        return meta

    def check_compatible(self, meta: dict[str, Any]) -> None:
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise IndexMismatchError(
                f"index in {self.root} has schema version {meta.get('schema_version')}, this program "
                f"needs {SCHEMA_VERSION}: rebuild it with reindex --full"
            )
        if meta.get("fingerprint") != self.analyzer.fingerprint:
            raise IndexMismatchError(
                f"index in {self.root} was built with analyzer {meta.get('fingerprint')} but the analyzer in use "
                f"is {self.analyzer.fingerprint} (a different user dictionary or analyzer version): "
                "rebuild it with reindex --full or use the dictionary it was built with"
            )

    # --- reading -------------------------------------------------------------

    def open(self, name: str | None = None, check: bool = True) -> Any:
        """Open a generation as a Whoosh index, with our analyzer bound."""
        gen_dir = self.generation_dir(name)
        if check:
            self.check_compatible(self.meta(gen_dir.name))
        ix = PreadStorage(str(gen_dir)).open_index()
        bind_schema(ix.schema, self.analyzer)
        return ix

    def searcher(self) -> Searcher:
        """Return a shared searcher on the current generation, refreshed when it changes.

        A full rebuild switches generations; an incremental update commits in
        place. Both are picked up here on the next call, without a restart.
        Reading ``CURRENT`` and listing the generation for its newest table of
        contents cost ~0.1 ms a search, so a searcher is reused while two
        ``stat`` calls show neither changed (see ``_stamp``).
        """
        held: _Held | None = getattr(self._local, "searcher", None)
        if held is not None and held.settled and self._stamp(held.name) == held.stamp:
            return held.searcher
        checked = time.time_ns()
        name = self.current()
        if name is None:
            raise NoIndexError(f"no index in {self.root} (build one with: news-search reindex PATH --full)")
        stamp = self._stamp(name)
        if held is not None and held.name == name and held.searcher.up_to_date():
            searcher = held.searcher
        else:
            # Not Searcher.refresh(): it reuses segment readers whose deletions are stale.
            if held is not None:
                held.searcher.close()
            searcher = self.open(name).searcher()
        # A change within the file system's timestamp tick of the last one could keep its
        # stamp: trust stamps only once they are older than any tick.
        settled = stamp is not None and max(stamp[1], stamp[3]) < checked - STAMP_SETTLE_NS
        self._local.searcher = _Held(name, searcher, stamp, settled)
        return searcher

    def generation_of(self, searcher: Searcher) -> str | None:
        """The generation ``searcher`` reads: this thread's searcher's, else the current one."""
        held: _Held | None = getattr(self._local, "searcher", None)
        return held.name if held is not None and held.searcher is searcher else self.current()

    def _stamp(self, name: str) -> tuple[int, int, int, int] | None:
        """What changes when readers must look again: ``CURRENT`` is replaced by a full
        rebuild (a new inode) and Whoosh commits add files to the generation (its
        directory's modification time)."""
        root = str(self.root)
        try:
            current = os.stat(os.path.join(root, CURRENT))
            generation = os.stat(os.path.join(root, name))
        except OSError:
            return None
        return (current.st_ino, current.st_mtime_ns, current.st_size, generation.st_mtime_ns)

    def close(self) -> None:
        held = getattr(self._local, "searcher", None)
        if held is not None:
            held.searcher.close()
            self._local.searcher = None

    # --- writing -------------------------------------------------------------

    @contextlib.contextmanager
    def write_lock(self, reentrant: bool = False) -> Iterator[None]:
        """Hold the one writer lock of this root, or raise ``IndexBusyError``.

        Taken with ``reentrant=True``, the lock lets the same thread take it
        again inside: a CMS sync holds it for the whole sync while it calls
        ``reindex`` and ``delete``, which take it too.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        key = str(self.root.resolve())
        if _HELD.get(key) == threading.get_ident():
            yield
            return
        handle = open(self.root / LOCK, "a+")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusyError(
                    f"index {self.root} is being written by another process; try again when it has finished"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {_now()}\n")
            handle.flush()
            if reentrant:
                _HELD[key] = threading.get_ident()
            try:
                yield
            finally:
                if reentrant:
                    _HELD.pop(key, None)
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
