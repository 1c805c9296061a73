"""Reading a segment as arrays: postings, bytes columns and stored fields, sliced from mapped files.

Ranking reads ~35 posting lists, ~75 column values and ~11 stored documents
a query. Through Whoosh's readers each goes through several wrappers and a
shared-file lock; here each is read where the codec put it.
"""

from __future__ import annotations

import pickle
import threading
import zlib
from bisect import bisect_right
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import STORED_COLUMN
from whoosh.columns import CompressedBytesColumn, PickleColumn, VarBytesColumn
from whoosh.reading import TermNotFound

from . import blocks
from .codec import NewsCodec
from .derived import apply_patch, is_patch
from .files import PreadFile
from .terms import NewsTermsReader

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def term_postings(seg: Any, fieldname: str, btext: bytes, lock: threading.Lock) -> tuple[np.ndarray, np.ndarray]:
    """A term's (segment document numbers ``int64``, weights ``float32``) in a Whoosh segment reader.

    Deleted documents may be included: callers mask them. A segment of
    another codec is read through its matcher under ``lock`` (Whoosh's
    readers share file handles).
    """
    terms = getattr(seg, "_terms", None)
    if isinstance(terms, NewsTermsReader):
        return terms.arrays(fieldname, btext) or _EMPTY
    with lock:
        try:
            m = seg.postings(fieldname, btext)
        except TermNotFound:
            return _EMPTY
        ids, tfs = [], []
        while m.is_active():
            ids.append(m.id())
            tfs.append(m.weight())
            m.next()
    return np.asarray(ids, dtype=np.int64), np.asarray(tfs, dtype=np.float32)


def generation_postings(
    segments: list[tuple[Any, int]], fieldname: str, btexts: list[bytes], lock: threading.Lock
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Several terms' postings in a generation's segments (reader, first document number): each term's
    (document numbers ``int64``, weights ``float32``), every segment's in turn, deleted documents included.

    Each segment looks every term up at once (``find_many``) and the blocks
    of every term in every segment are decoded together (``blocks.decode_many``):
    ~15 µs a term in a generation of four segments, against ~60 µs term by
    term. A segment of another codec is read term by term.
    """
    readers = [news_terms(seg) for seg, _ in segments]
    if any(r is None for r in readers):
        out = []
        for btext in btexts:
            read = [term_postings(seg, fieldname, btext, lock) for seg, _ in segments]
            parts = [(ids + offset, tfs) for (_, offset), (ids, tfs) in zip(segments, read, strict=True) if len(ids)]
            out.append(
                (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])) if parts else _EMPTY
            )
        return out
    found = [r.raw_blocks(fieldname, btexts) for r in readers if r is not None]
    raws: list[bytes] = []
    dfs: list[int] = []
    offsets: list[int] = []
    ends = []
    end = 0
    for j in range(len(btexts)):
        for (_, offset), of_segment in zip(segments, found, strict=True):
            block = of_segment[j]
            if block is not None:
                raws.append(block[0])
                dfs.append(block[1])
                offsets.append(offset)
                end += block[1]
        ends.append(end)
    ids, weights = blocks.decode_many(raws, dfs, offsets)
    return [(ids[start:stop], weights[start:stop]) for start, stop in zip([0, *ends], ends, strict=False)]


def generation_doc_frequencies(
    segments: list[tuple[Any, int]], fieldname: str, btexts: list[bytes], lock: threading.Lock
) -> np.ndarray:
    """Several terms' document counts in a generation's segments, deleted documents included: Whoosh's
    ``doc_frequency`` of each, from one lookup a segment (an article's ~100 words in a field of xwlb's four
    segments: ~1 ms, against ~8 ms through Whoosh's reader, term by term).
    """
    total = np.zeros(len(btexts), dtype=np.int64)
    for seg, _ in segments:
        terms = news_terms(seg)
        if terms is not None:
            total += np.asarray(terms.doc_frequencies(fieldname, btexts), dtype=np.int64)
        else:
            with lock:
                total += np.asarray([seg.doc_frequency(fieldname, b) for b in btexts], dtype=np.int64)
    return total


def news_terms(seg: Any) -> NewsTermsReader | None:
    """A segment reader's news terms reader (None: another codec)."""
    terms = getattr(seg, "_terms", None)
    return terms if isinstance(terms, NewsTermsReader) else None


class BytesColumn:
    """One bytes column of every segment, a slice of the mapped file per value.

    Each segment's offsets and lengths are already in memory, so a value is
    one slice of the file's map (``PreadFile.map``: no system call, no lock). A
    segment whose column is of another kind, or not in a plain file, is read
    through Whoosh.
    """

    def __init__(self, segments: list[tuple[Any, int]], name: str, read_lock: threading.Lock) -> None:
        self._starts = [offset for _, offset in segments]
        self._parts: list[Any] = []
        self._read_lock = read_lock
        for seg, _ in segments:
            if not seg.has_column(name):
                self._parts.append(None)
                continue
            column = seg.column_reader(name, translate=False)
            dbfile = getattr(column, "_dbfile", None)
            if isinstance(column, VarBytesColumn.Reader) and isinstance(dbfile, PreadFile):
                self._parts.append((dbfile.map, column._basepos, column._offsets, column._lengths))
            else:
                self._parts.append(column)

    def __getitem__(self, docnum: int) -> bytes:
        i = bisect_right(self._starts, docnum) - 1
        part = self._parts[i]
        local = docnum - self._starts[i]
        if part is None:
            return b""
        if isinstance(part, tuple):
            data, base, offsets, lengths = part
            start = base + int(offsets[local])
            return data[start : start + int(lengths[local])]
        with self._read_lock:  # Whoosh's readers seek and read shared file handles
            return part[local] or b""

    def direct(self) -> list[bool]:
        """Which segments are read directly (not through Whoosh's reader)."""
        return [isinstance(part, tuple) for part in self._parts]


class StoredFields:
    """Every segment's stored fields: a slice of the mapped file, an inflate and an unpickle per document.

    The bytes Whoosh's ``stored_fields`` reads (each document's fields, a
    pickled dict in a zlib-compressed bytes column), without its three
    wrappers and the shared-file lock: ~22 µs a document against ~32 µs.
    Fields the schema no longer has are left out, as Whoosh leaves them out.
    A segment stored another way is read through Whoosh.
    """

    def __init__(self, segments: list[tuple[Any, int]], read_lock: threading.Lock) -> None:
        self._starts = [offset for _, offset in segments]
        self._read_lock = read_lock
        self._names = frozenset(segments[0][0].schema.names()) if segments else frozenset()
        self._parts: list[Any] = []
        codecs = [seg.segment().codec() if hasattr(seg, "segment") else None for seg, _ in segments]
        derived = {n: c for codec in codecs if isinstance(codec, NewsCodec) for n, c in codec.derived.items()}
        self._derived = {name: BytesColumn(segments, column, read_lock) for name, column in derived.items()}
        for seg, _ in segments:
            perdoc = getattr(seg, "_perdoc", None)
            with read_lock:  # Whoosh's own cached reader of the column (opened once, shared)
                column = perdoc._cached_reader("_stored", STORED_COLUMN) if hasattr(perdoc, "_cached_reader") else None
            child = getattr(column, "_child", None)
            dbfile = getattr(child, "_dbfile", None)
            plain = (
                isinstance(column, PickleColumn.Reader)
                and type(child) is CompressedBytesColumn.Reader
                and child._decompress is zlib.decompress
                and isinstance(dbfile, PreadFile)
            )
            self._parts.append((dbfile.map, child._basepos, child._offsets, child._lengths) if plain else seg)

    def __getitem__(self, docnum: int) -> dict[str, Any]:
        i = bisect_right(self._starts, docnum) - 1
        part = self._parts[i]
        local = docnum - self._starts[i]
        if not isinstance(part, tuple):
            with self._read_lock:
                return part.stored_fields(local)
        data, base, offsets, lengths = part
        start, length = base + int(offsets[local]), int(lengths[local])
        fields = pickle.loads(zlib.decompress(data[start : start + length])) if length else None
        out = {k: v for k, v in (fields or {}).items() if k in self._names}
        for name, column in self._derived.items():
            if is_patch(out.get(name)):
                out[name] = apply_patch(column[docnum].decode("utf-8"), out[name])
        return out

    def direct(self) -> list[bool]:
        """Which segments are read directly (not through Whoosh's reader)."""
        return [isinstance(part, tuple) for part in self._parts]
