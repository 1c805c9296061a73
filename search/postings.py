"""Postings tables: the scoring postings as flat arrays beside Whoosh's files.

Scoring reads every posting of about thirty field-terms per query, in every
segment. Through Whoosh that is a hash-table probe of the terms file (several
reads, and two thirds of the probes miss), a matcher with its header, and a
decode per block: a sixth of a millisecond per term and segment, half of a
short query's time. The flush that writes a segment's Whoosh postings also
writes them here (``<segment>.nps``), and a full build merges the segments'
tables into one for the generation (``postings.npt``, global document
numbers; ``merge``). A table is a sorted array of 64-bit term keys held in
memory and, per term, one run of document numbers and one of frequencies,
read with one ``pread`` each. Whoosh's files stay complete and authoritative:
a segment without a table (written by stock Whoosh, or damaged) or a term
whose key two terms share is read through Whoosh, with the same result.

File layout (little-endian): a 32-byte header (magic, version, key count,
posting count, frequency dtype code, length of the description), a JSON
description (the ``fields`` covered; for a merged table the ``segments`` and
their document counts, in order) padded to 8 bytes, keys ``u8[n]`` sorted,
starts ``u4[n]``, counts ``u4[n]`` (``ASK_WHOOSH`` for a key two terms
share), then document numbers ``u4[P]`` and frequencies ``dtype[P]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

EXT = ".nps"
MERGED = "postings.npt"  # the whole generation's table (not a Whoosh file name: Whoosh leaves it alone)
MAGIC = b"NPS1"
VERSION = 2
HEADER = struct.Struct("<4sIQQII")  # magic, version, keys, postings, dtype code, JSON description bytes
ASK_WHOOSH = 0xFFFFFFFF  # count of a key two terms share: that term is read through Whoosh
_DTYPES = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<f4")}
_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
MERGE_CHUNK = 1 << 22  # postings gathered at a time when merging tables


def term_key(fieldname: str, btext: bytes) -> int:
    """A field-term's 64-bit key (stable across processes, unlike ``hash``)."""
    digest = hashlib.blake2b(fieldname.encode("utf-8") + b"\0" + btext, digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _write(
    handle: Any,
    about: dict[str, Any],
    keys: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    code: int,
    postings: int,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
) -> None:
    """Write a table: the key table, then ``postings`` document numbers and frequencies.

    ``chunks`` are (document numbers, frequencies) in table order; each is
    written into its place in both regions, so the postings are gathered once.
    """
    described = json.dumps(about, ensure_ascii=False, sort_keys=True).encode("utf-8")
    handle.write(HEADER.pack(MAGIC, VERSION, len(keys), postings, code, len(described)))
    handle.write(described + b"\0" * (-len(described) % 8))
    for part in (keys.astype("<u8"), starts.astype("<u4"), counts.astype("<u4")):
        handle.write(part.tobytes())
    ids_at = handle.tell()
    tf_dtype = _DTYPES[code]
    tfs_at = ids_at + 4 * postings
    done = 0
    for ids, tfs in chunks:
        handle.seek(ids_at + 4 * done)
        handle.write(ids.astype("<u4").tobytes())
        handle.seek(tfs_at + tf_dtype.itemsize * done)
        handle.write(tfs.astype(tf_dtype).tobytes())
        done += len(ids)


def _mark_shared(keys: np.ndarray, counts: np.ndarray) -> None:
    """Keys (sorted) that two entries share answer ``ASK_WHOOSH``."""
    if len(keys) > 1:
        same = keys[1:] == keys[:-1]
        counts[1:][same] = ASK_WHOOSH
        counts[:-1][same] = ASK_WHOOSH


class TableWriter:
    """Collects one segment's postings, a term at a time, and writes its table at the end."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = frozenset(fields)
        self._field_list = sorted(fields)
        self._keys: list[int] = []
        self._starts = array("Q")
        self._counts = array("Q")
        self._ids = array("I")
        self._tfs = array("f")

    def add(self, fieldname: str, btext: bytes, docnums: list[int], weights: list[float]) -> None:
        """One term's postings, in document order."""
        self._keys.append(term_key(fieldname, btext))
        self._starts.append(len(self._ids))
        self._counts.append(len(docnums))
        self._ids.extend(docnums)
        self._tfs.extend(weights)

    def write(self, storage: Any, segment: Any) -> bool:
        """Write ``<segment>.nps``; False (nothing written) when it would not fit the format."""
        if len(self._ids) >= ASK_WHOOSH:
            return False
        keys = np.array(self._keys, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = np.frombuffer(self._starts, dtype=np.uint64)[order]
        counts = np.frombuffer(self._counts, dtype=np.uint64)[order].astype(np.uint32)
        _mark_shared(keys, counts)
        code = _narrowest(np.frombuffer(self._tfs, dtype=np.float32))
        ids = np.frombuffer(self._ids, dtype=np.uint32)
        tfs = np.frombuffer(self._tfs, dtype=np.float32)
        handle = segment.create_file(storage, EXT)
        try:
            _write(handle, {"fields": self._field_list}, keys, starts, counts, code, len(ids), [(ids, tfs)])
        finally:
            handle.close()
        return True


def _narrowest(tfs: np.ndarray) -> int:
    """The code of the smallest exact dtype for frequencies (they are counts, nearly always small)."""
    if not len(tfs):
        return 1
    if np.all(tfs == np.floor(tfs)) and tfs.min() >= 0:
        top = float(tfs.max())
        if top <= 0xFF:
            return 1
        if top <= 0xFFFF:
            return 2
    return 4


def merge(parts: list[tuple[str | None, str, int, int]], path: str | Path) -> bool:
    """Merge segment tables into one table of the whole generation, with global document numbers.

    ``parts`` are (table path or None, segment id, document offset, document count)
    for every segment in reader order; the table records them, so readers use
    it only while the generation holds exactly those segments first. Writes
    to a temporary name and renames. False (nothing written) when a segment
    has no readable table or the result would not fit the format.
    """
    tables: list[Table] = []
    try:
        for table_path, *_ in parts:
            table = _open(table_path)
            if table is None:
                return False
            tables.append(table)
        if not tables or any(t.meta.get("segments") for t in tables):
            return False
        fields = sorted(set.intersection(*(set(t.fields) for t in tables)))
        which = np.concatenate([np.full(len(t.keys), i, dtype=np.int32) for i, t in enumerate(tables)])
        keys = np.concatenate([t.keys for t in tables])
        order = np.lexsort((which, keys))  # by key, then segment: runs come out in document order
        keys, which = keys[order], which[order]
        starts = np.concatenate([t.starts for t in tables]).astype(np.int64)[order]
        counts = np.concatenate([t.counts for t in tables]).astype(np.int64)[order]
        new = np.ones(len(keys), dtype=bool)
        new[1:] = keys[1:] != keys[:-1]
        group = np.cumsum(new) - 1
        shared = np.zeros(int(new.sum()), dtype=bool)
        shared[group[counts == ASK_WHOOSH]] = True
        counts[shared[group]] = 0  # every segment's entry of a shared key: nothing gathered
        merged_counts = np.bincount(group, weights=counts, minlength=len(shared)).astype(np.int64)
        total = int(merged_counts.sum())
        if total >= ASK_WHOOSH:
            return False
        merged_starts = np.concatenate([[0], np.cumsum(merged_counts)[:-1]]).astype(np.int64)
        merged_counts[shared] = ASK_WHOOSH
        code = max(t.tf_code for t in tables)
        offsets = np.array([offset for _, _, offset, _ in parts], dtype=np.int64)
        ids_of = [t.mapped("ids") for t in tables]
        tfs_of = [t.mapped("tfs") for t in tables]

        def gathered() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            # (global document numbers, frequencies) in merged order, MERGE_CHUNK postings at a time
            ends = np.cumsum(counts)
            first = 0
            while first < len(counts):
                last = int(np.searchsorted(ends, ends[first] - counts[first] + MERGE_CHUNK, side="right"))
                last = max(last, first + 1)
                c, s, w = counts[first:last], starts[first:last], which[first:last]
                n = int(c.sum())
                if n:
                    base = np.repeat(s - (np.cumsum(c) - c), c) + np.arange(n)
                    seg = np.repeat(w, c)
                    ids = np.empty(n, dtype=np.int64)
                    tfs = np.empty(n, dtype=np.float32)
                    for i in np.unique(seg).tolist():
                        mask = seg == i
                        ids[mask] = ids_of[i][base[mask]] + offsets[i]
                        tfs[mask] = tfs_of[i][base[mask]]
                    yield ids, tfs
                first = last

        about = {"fields": fields, "segments": [[segid, count] for _, segid, _, count in parts]}
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as handle:
            _write(
                handle,
                about,
                keys[new],
                merged_starts,
                merged_counts,
                code,
                total,
                gathered(),
            )
        os.replace(tmp, path)
        return True
    finally:
        for t in tables:
            t.close()


class Table:
    """A postings table opened for reading (thread-safe: reads are ``pread``).

    ``meta`` describes it: the ``fields`` it covers and, for a merged table,
    the ``segments`` (id, document count) it covers, in order.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1
        self._fd = os.open(path, os.O_RDONLY)
        try:
            magic, version, n, postings, code, described = HEADER.unpack(os.pread(self._fd, HEADER.size, 0))
            size = os.fstat(self._fd).st_size
            self.tf_code = code
            self._tf_dtype = _DTYPES.get(code)
            keys_at = HEADER.size + described + (-described % 8)
            expected = keys_at + 16 * n + postings * (4 + (self._tf_dtype.itemsize if self._tf_dtype else 0))
            if magic != MAGIC or version != VERSION or self._tf_dtype is None or size != expected:
                raise ValueError(f"{path}: not a complete postings table")
            self.meta = json.loads(os.pread(self._fd, described, HEADER.size).decode("utf-8"))
            self.fields = frozenset(self.meta["fields"])
            head = os.pread(self._fd, 16 * n, keys_at)
            self.keys = np.frombuffer(head, dtype="<u8", count=n)
            self.starts = np.frombuffer(head, dtype="<u4", count=n, offset=8 * n)
            self.counts = np.frombuffer(head, dtype="<u4", count=n, offset=12 * n)
            self._postings = postings
            self._ids_at = keys_at + 16 * n
            self._tfs_at = self._ids_at + 4 * postings
        except BaseException:
            self.close()
            raise

    def mapped(self, part: str) -> np.ndarray:
        """The document numbers (``ids``) or frequencies (``tfs``) of every term, memory-mapped (for merging)."""
        if part == "ids":
            return np.memmap(self.path, dtype="<u4", mode="r", offset=self._ids_at, shape=(self._postings,))
        return np.memmap(self.path, dtype=self._tf_dtype, mode="r", offset=self._tfs_at, shape=(self._postings,))

    @classmethod
    def of_segment(cls, seg: Any) -> Table | None:
        """The table of a Whoosh segment reader, or None when it has none (or an unreadable one)."""
        return _open(table_path(seg, seg.segment().make_filename(EXT)))

    @classmethod
    def merged(cls, reader: Any) -> Table | None:
        """The merged table of the generation ``reader`` reads (check its ``segments`` before use), or None."""
        seg = reader if reader.is_atomic() else reader.readers[0] if reader.readers else None
        table = _open(table_path(seg, MERGED))
        if table is not None and not isinstance(table.meta.get("segments"), list):
            table.close()
            return None
        return table

    def get(self, fieldname: str, key: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(segment-local document numbers, frequencies) of a term, as stored (``u4``, and the table's
        frequency type); None: ask Whoosh.

        ``key`` is ``term_key(fieldname, term)``, computed once for every segment.
        """
        if fieldname not in self.fields:
            return None
        i = int(self.keys.searchsorted(np.uint64(key)))
        if i >= len(self.keys) or int(self.keys[i]) != key:
            return _EMPTY
        count = int(self.counts[i])
        if count == ASK_WHOOSH:
            return None
        start = int(self.starts[i])
        ids = np.frombuffer(os.pread(self._fd, 4 * count, self._ids_at + 4 * start), dtype="<u4")
        size = self._tf_dtype.itemsize
        tfs = np.frombuffer(os.pread(self._fd, size * count, self._tfs_at + size * start), dtype=self._tf_dtype)
        return ids, tfs

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


def table_path(seg: Any, name: str) -> str | None:
    """The path of the file ``name`` beside a Whoosh segment reader's files (None: not a file storage)."""
    fpath = getattr(getattr(seg, "_storage", None), "_fpath", None)
    return fpath(name) if fpath is not None else None


def _open(path: str | None) -> Table | None:
    """A table, or None when there is no path, no file, or not a complete table."""
    if path is None or not os.path.exists(path):
        return None
    try:
        return Table(path)
    except (OSError, ValueError, KeyError, struct.error):
        return None
