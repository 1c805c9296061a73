"""Postings tables: each segment's scoring postings as flat arrays beside Whoosh's files.

Scoring reads every posting of about thirty field-terms per query, in every
segment. Through Whoosh that is a hash-table probe of the terms file (several
reads, and two thirds of the probes miss), a matcher with its header, and a
decode per block: a sixth of a millisecond per term and segment, half of a
short query's time. The flush that writes a segment's Whoosh postings also
writes them here (``<segment>.nps``): a sorted table of 64-bit term keys held
in memory, and per term one run of document numbers and one of frequencies,
read with one ``pread`` each. Whoosh's files stay complete and authoritative:
a segment without a table (written by stock Whoosh, e.g. merged on delete)
or a term whose key collides is read through Whoosh, with the same result.

File layout (little-endian): a 32-byte header (magic, version, key count,
posting count, frequency dtype code, length of the field list), the fields
the table covers (UTF-8, newline-separated, padded to 8 bytes), keys ``u8[n]`` sorted, starts
``u4[n]``, counts ``u4[n]`` (``ASK_WHOOSH`` for a key two terms share), then
document numbers ``u4[P]`` and frequencies ``dtype[P]``.
"""

from __future__ import annotations

import hashlib
import os
import struct
from array import array
from typing import Any

import numpy as np

EXT = ".nps"
MAGIC = b"NPS1"
VERSION = 1
HEADER = struct.Struct("<4sIQQII")  # magic, version, keys, postings, dtype code, field-list bytes
ASK_WHOOSH = 0xFFFFFFFF  # count of a key two terms share: that term is read through Whoosh
_DTYPES = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<f4")}
_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def term_key(fieldname: str, btext: bytes) -> int:
    """A field-term's 64-bit key (stable across processes, unlike ``hash``)."""
    digest = hashlib.blake2b(fieldname.encode("utf-8") + b"\0" + btext, digest_size=8).digest()
    return int.from_bytes(digest, "little")


class TableWriter:
    """Collects one segment's postings, a term at a time, and writes its table at the end."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = frozenset(fields)
        self._field_list = "\n".join(fields).encode("utf-8")
        self._keys: list[int] = []
        self._starts = array("Q")
        self._counts = array("Q")
        self._ids = array("I")
        self._tfs = array("f")
        self._start = 0

    def extend(self, docnums: list[int], weights: list[float]) -> None:
        """Postings of the current term, in document order (called per chunk)."""
        self._ids.extend(docnums)
        self._tfs.extend(weights)

    def finish_term(self, fieldname: str, btext: bytes) -> None:
        end = len(self._ids)
        self._keys.append(term_key(fieldname, btext))
        self._starts.append(self._start)
        self._counts.append(end - self._start)
        self._start = end

    def write(self, storage: Any, segment: Any) -> bool:
        """Write ``<segment>.nps``; False (nothing written) when it would not fit the format."""
        postings = len(self._ids)
        if postings >= 2**32 - 1:
            return False
        keys = np.array(self._keys, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = np.frombuffer(self._starts, dtype=np.uint64)[order].astype(np.uint32)
        counts = np.frombuffer(self._counts, dtype=np.uint64)[order].astype(np.uint32)
        shared = np.zeros(len(keys), dtype=bool)
        if len(keys) > 1:
            same = keys[1:] == keys[:-1]
            shared[1:] |= same
            shared[:-1] |= same
        counts[shared] = ASK_WHOOSH
        tfs = np.frombuffer(self._tfs, dtype=np.float32)
        code, tfs = _narrow(tfs)
        handle = segment.create_file(storage, EXT)
        try:
            handle.write(HEADER.pack(MAGIC, VERSION, len(keys), postings, code, len(self._field_list)))
            handle.write(self._field_list + b"\0" * (-len(self._field_list) % 8))
            for part in (keys.astype("<u8"), starts.astype("<u4"), counts.astype("<u4")):
                handle.write(part.tobytes())
            handle.write(np.frombuffer(self._ids, dtype=np.uint32).astype("<u4").tobytes())
            handle.write(tfs.tobytes())
        finally:
            handle.close()
        return True


def _narrow(tfs: np.ndarray) -> tuple[int, np.ndarray]:
    """The smallest exact dtype for a segment's frequencies (they are counts, nearly always small)."""
    if not len(tfs) or (np.all(tfs == np.floor(tfs)) and tfs.min() >= 0):
        top = float(tfs.max()) if len(tfs) else 0.0
        if top <= 0xFF:
            return 1, tfs.astype("<u1")
        if top <= 0xFFFF:
            return 2, tfs.astype("<u2")
    return 4, tfs.astype("<f4")


class Table:
    """One segment's postings table, opened for reading (thread-safe: reads are ``pread``)."""

    def __init__(self, path: str) -> None:
        self._fd = -1
        self._fd = os.open(path, os.O_RDONLY)
        try:
            magic, version, n, postings, code, names = HEADER.unpack(os.pread(self._fd, HEADER.size, 0))
            size = os.fstat(self._fd).st_size
            self._tf_dtype = _DTYPES.get(code)
            keys_at = HEADER.size + names + (-names % 8)
            expected = keys_at + 16 * n + postings * (4 + (self._tf_dtype.itemsize if self._tf_dtype else 0))
            if magic != MAGIC or version != VERSION or self._tf_dtype is None or size != expected:
                raise ValueError(f"{path}: not a complete postings table")
            self.fields = frozenset(os.pread(self._fd, names, HEADER.size).decode("utf-8").split("\n"))
            head = os.pread(self._fd, 16 * n, keys_at)
            if len(head) != 16 * n:
                raise ValueError(f"{path}: truncated")
            self.keys = np.frombuffer(head, dtype="<u8", count=n)
            self.starts = np.frombuffer(head, dtype="<u4", count=n, offset=8 * n)
            self.counts = np.frombuffer(head, dtype="<u4", count=n, offset=12 * n)
            self._ids_at = keys_at + 16 * n
            self._tfs_at = self._ids_at + 4 * postings
        except BaseException:
            self.close()
            raise

    @classmethod
    def of_segment(cls, seg: Any) -> Table | None:
        """The table of a Whoosh segment reader, or None when it has none (or an unreadable one)."""
        storage = getattr(seg, "_storage", None)
        segment = getattr(seg, "_segment", None)
        fpath = getattr(storage, "_fpath", None)
        if segment is None or fpath is None:
            return None
        path = fpath(segment.make_filename(EXT))
        if not os.path.exists(path):
            return None
        try:
            return cls(path)
        except (OSError, ValueError, struct.error):
            return None

    def get(self, fieldname: str, key: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(segment-local document numbers, frequencies) of a term; None: ask Whoosh.

        ``key`` is ``term_key(fieldname, term)``, computed once for every segment.
        """
        if fieldname not in self.fields:
            return None
        i = int(np.searchsorted(self.keys, np.uint64(key)))
        if i >= len(self.keys) or int(self.keys[i]) != key:
            return _EMPTY
        count = int(self.counts[i])
        if count == ASK_WHOOSH:
            return None
        start = int(self.starts[i])
        ids = np.frombuffer(os.pread(self._fd, 4 * count, self._ids_at + 4 * start), dtype="<u4")
        size = self._tf_dtype.itemsize
        tfs = np.frombuffer(os.pread(self._fd, size * count, self._tfs_at + size * start), dtype=self._tf_dtype)
        return ids.astype(np.int64), tfs.astype(np.float32)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
