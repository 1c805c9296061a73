"""The news codec's terms reader: lookups, Whoosh matchers and cursors over a segment's terms and blocks.

``NewsTermsReader`` holds a segment's terms file in memory (see ``codec``
for the layout) and reads a term's block with one ``pread``: as arrays for
the scorer (``arrays``), as a ``ListMatcher`` for Whoosh's searcher.

Why one module of this size: ``NewsTermsReader`` implements Whoosh's
``TermsReader`` contract (lookups, term statistics, matchers, cursors, prefix
walks) over one file; that contract is what makes the class long (over 150
lines), and splitting it would put one file format's reader in several places.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import weakref
import zlib
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

import numpy as np
from whoosh import formats
from whoosh.codec import base
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3PerDocReader
from whoosh.matching import ListMatcher
from whoosh.reading import TermInfo, TermNotFound
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length

from . import blocks
from .files import close_map, map_file
from .formats import PackedPositions

TERMS_EXT = ".ntx"
POSTINGS_EXT = ".npo"

FEW_TERMS = 2  # find_many looks up up to this many terms one by one (its numpy calls cost more)
MAGIC = b"NTX1"
VERSION = 1
HEADER = struct.Struct("<4sIQI")  # magic, version, terms, description bytes


class MissingTerm(TermNotFound, KeyError):
    """A term the segment does not have (Whoosh's readers catch either kind)."""


def _prefix_keys(blob: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each term's first eight bytes as a big-endian number (zero-padded): sorted as the terms are."""
    keys = np.zeros(len(starts), dtype=np.uint64)
    padded = np.concatenate([blob, np.zeros(8, dtype=np.uint8)])
    for k in range(8):
        byte = np.where(lengths > k, padded[starts + k], 0).astype(np.uint64)
        keys |= byte << np.uint64(56 - 8 * k)
    return keys


def _compact(offsets: np.ndarray) -> np.ndarray:
    """Ascending offsets in ``u4`` when they fit."""
    return offsets.astype(np.uint32 if not len(offsets) or offsets[-1] < 0x100000000 else np.int64)


def _prefix_key(btext: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(btext[:8].ljust(8, b"\0"), "big"))


class _TermTable:
    """A segment's terms as arrays, decoded from its terms file: ~18 bytes a term besides the terms themselves
    (offsets i and i + 1 bound term i's bytes and its block)."""

    def __init__(self, storage: Any, name: str) -> None:
        handle = storage.open_file(name)
        try:
            raw = handle.read()
        finally:
            handle.close()
        magic, version, n, described = HEADER.unpack_from(raw.ljust(HEADER.size, b"\0"))
        if magic != MAGIC or version != VERSION:
            raise ValueError(f"{name}: not a news terms file")
        try:
            raw = raw[: HEADER.size] + zlib.decompress(raw[HEADER.size :])
            about = json.loads(raw[HEADER.size : HEADER.size + described])
            at = HEADER.size + described + (-described % 8)
            types = {k: np.dtype(v) for k, v in about["types"].items()}
            lengths = np.frombuffer(raw, dtype=types["lengths"], count=n, offset=at).astype(np.int64)
            at += n * types["lengths"].itemsize
            total = int(lengths.sum())
            self.blob = raw[at : at + total]
            at += total
            self.dfs = np.frombuffer(raw, dtype=types["dfs"], count=n, offset=at).copy()
            at += n * types["dfs"].itemsize
            ends = np.frombuffer(raw, dtype=types["ends"], count=n, offset=at).astype(np.int64)
            if at + n * types["ends"].itemsize != len(raw):
                raise ValueError("trailing bytes")
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise ValueError(f"{name}: not a complete news terms file ({exc})") from None
        self.offsets = _compact(np.concatenate([[0], ends]))
        text_ends = np.cumsum(lengths)
        self.keys = _prefix_keys(np.frombuffer(self.blob, dtype=np.uint8), text_ends - lengths, lengths)
        self.text_offsets = _compact(np.concatenate([[0], text_ends]))
        self.fields = {name: (first, first + count) for name, first, count in about["fields"]}
        self.order = [name for name, _, _ in about["fields"]]


_TABLES: weakref.WeakValueDictionary[tuple, _TermTable] = weakref.WeakValueDictionary()
_TABLES_LOCK = threading.Lock()


def _shared_table(storage: Any, name: str) -> _TermTable:
    """A segment's term table, decoded once a process while a reader holds it.

    Every thread's searcher opens readers of its own: with a table each, eight
    threads of a server held eight copies (~60 MB each on xwlb). A segment's
    files never change under their name; its size and time are in the key all the same.
    """
    folder = getattr(storage, "folder", None)
    if folder is None:  # a storage in memory (tests)
        return _TermTable(storage, name)
    path = os.path.realpath(os.path.join(folder, name))
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _TABLES_LOCK:
        table = _TABLES.get(key)
        if table is None:
            table = _TABLES[key] = _TermTable(storage, name)
    return table


class NewsTermsReader(base.TermsReader):
    """A segment's terms (in memory, shared by the process's readers of it) and blocks (one ``pread`` each)."""

    def __init__(self, storage: Any, segment: Any) -> None:
        table = self._table = _shared_table(storage, segment.make_filename(TERMS_EXT))  # held while this reader is
        self._blob, self._dfs, self._offsets, self._keys = table.blob, table.dfs, table.offsets, table.keys
        self._text_offsets, self._fields, self._order = table.text_offsets, table.fields, table.order
        self._postfile = segment.open_file(storage, POSTINGS_EXT)
        self._fd = self._postfile.fileno()
        # blocks for the scorer are sliced from a read-only map (no system call a block); Whoosh's matchers pread
        self._map = map_file(self._fd)
        self._storage = storage
        self._segment = segment
        self._length_bytes: dict[str, np.ndarray] = {}

    # --- lookups -------------------------------------------------------------

    def _text(self, i: int) -> bytes:
        return self._blob[int(self._text_offsets[i]) : int(self._text_offsets[i + 1])]

    def _lower_bound(self, fieldname: str, btext: bytes) -> int:
        """The first term of the field not below ``btext`` (the field's end when none)."""
        lo, hi = self._fields[fieldname]
        keys, key = self._keys[lo:hi], _prefix_key(btext)
        start, end = lo + int(np.searchsorted(keys, key)), lo + int(np.searchsorted(keys, key, side="right"))
        # the terms of one key are bisected, not walked: every id of a site shares its first 8 bytes (xwlb-202…)
        return start + bisect_left(range(start, end), btext, key=self._text)

    def find(self, fieldname: str, btext: bytes) -> int:
        """The number of a term, or -1."""
        if fieldname not in self._fields:
            return -1
        i = self._lower_bound(fieldname, btext)
        return i if i < self._fields[fieldname][1] and self._text(i) == btext else -1

    def find_many(self, fieldname: str, btexts: list[bytes]) -> list[int]:
        """``find`` of several terms of a field at once: one ``searchsorted`` for all (-1: absent).

        The first term of a key is the one asked for when it has its length
        and is up to eight bytes long (the key is then the whole term: two-character
        CJK words and every bigram); else the terms of that key are compared byte by byte.
        """
        if fieldname not in self._fields or not btexts:
            return [-1] * len(btexts)
        if len(btexts) <= FEW_TERMS:
            return [self.find(fieldname, btext) for btext in btexts]
        lo, hi = self._fields[fieldname]
        wanted = np.fromiter(
            (int.from_bytes(b[:8].ljust(8, b"\0"), "big") for b in btexts), dtype=np.uint64, count=len(btexts)
        )
        at = lo + np.searchsorted(self._keys[lo:hi], wanted)
        after = lo + np.searchsorted(self._keys[lo:hi], wanted, side="right")  # the end of each one's key
        inside = np.minimum(at, len(self._keys) - 1)
        lengths = np.fromiter((len(b) for b in btexts), dtype=np.int64, count=len(btexts))
        keyed = (at < hi) & (self._keys[inside] == wanted)
        # a key is the whole term only up to eight bytes: 中共中国 and 中共中央 share theirs and their length
        short = keyed & (lengths <= 8)
        short &= self._text_offsets[inside + 1].astype(np.int64) - self._text_offsets[inside] == lengths
        out = np.where(short, at, -1).tolist()
        text = self._text
        for j in np.flatnonzero(keyed & ~short).tolist():  # longer terms, and a term whose key a shorter one has
            start, end, btext = int(at[j]), int(after[j]), btexts[j]
            i = start + bisect_left(range(start, end), btext, key=text)  # the terms of its key, bisected
            out[j] = i if i < end and text(i) == btext else -1
        return out

    def doc_frequencies(self, fieldname: str, btexts: list[bytes]) -> list[int]:
        """``doc_frequency`` of several terms of a field at once (0: absent), deleted documents included."""
        dfs = self._dfs
        return [int(dfs[i]) if i >= 0 else 0 for i in self.find_many(fieldname, btexts)]

    def arrays_many(self, fieldname: str, btexts: list[bytes]) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """``arrays`` of several terms of a field: one lookup for all, then a ``pread`` each."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        offsets, dfs, fd = self._offsets, self._dfs, self._fd
        for i in self.find_many(fieldname, btexts):
            if i < 0:
                out.append(None)
                continue
            start = int(offsets[i])
            out.append(blocks.decode_arrays(os.pread(fd, int(offsets[i + 1]) - start, start), int(dfs[i])))
        return out

    def raw_blocks(self, fieldname: str, btexts: list[bytes]) -> list[tuple[bytes, int] | None]:
        """Several terms' blocks as stored, with their document counts (None: absent), for ``blocks.decode_many``."""
        out: list[tuple[bytes, int] | None] = []
        offsets, dfs, block_map = self._offsets, self._dfs, self._map
        for i in self.find_many(fieldname, btexts):
            if i < 0:
                out.append(None)
                continue
            out.append((block_map[int(offsets[i]) : int(offsets[i + 1])], int(dfs[i])))
        return out

    def block(self, i: int) -> blocks.Block:
        """Term ``i``'s decoded block."""
        start = int(self._offsets[i])
        raw = os.pread(self._fd, int(self._offsets[i + 1]) - start, start)
        return blocks.decode(raw, int(self._dfs[i]))

    def arrays(self, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """A term's (document numbers ``int64``, weights ``float32``), deleted documents included; None when absent."""
        return self.arrays_many(fieldname, [btext])[0]

    def _index(self, fieldname: str, btext: bytes) -> int:
        i = self.find(fieldname, btext)
        if i < 0:
            raise MissingTerm(f"No term {fieldname}:{btext!r}")
        return i

    # --- Whoosh's TermsReader ------------------------------------------------

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        return self.find(*term) >= 0

    def indexed_field_names(self) -> list[str]:
        return list(self._order)

    def cursor(self, fieldname: str, fieldobj: Any) -> FieldCursor:
        return FieldCursor(self, fieldname, fieldobj)

    def _from(self, i: int) -> Iterator[tuple[str, bytes]]:
        for name in self._order:
            lo, hi = self._fields[name]
            for j in range(max(lo, i), hi):
                yield name, self._text(j)

    def terms(self) -> Iterator[tuple[str, bytes]]:
        return self._from(0)

    def terms_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[str, bytes]]:
        return self._from(self._start_of(fieldname, prefix))

    def _start_of(self, fieldname: str, prefix: bytes) -> int:
        if fieldname in self._fields:
            return self._lower_bound(fieldname, prefix)
        later = [self._fields[name][0] for name in self._order if name > fieldname]
        return later[0] if later else len(self._dfs)

    def items(self) -> Iterator[tuple[tuple[str, bytes], TermInfo]]:
        return self.items_from("", b"")

    def items_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[tuple[str, bytes], TermInfo]]:
        for term in self.terms_from(fieldname, prefix):
            yield term, self.term_info(*term)

    def term_info(self, fieldname: str, btext: bytes) -> TermInfo:
        i = self._index(fieldname, btext)
        return _TermInfo(self, fieldname, i, int(self._dfs[i]))

    def _stats(self, fieldname: str, i: int) -> dict[str, Any]:
        """A term's statistics as Whoosh's ``TermInfo`` keeps them (0: no length known)."""
        found = self.block(i)
        w = found.weights
        coded = self._lengths_of(fieldname)[found.ids]
        coded = coded[coded > 0]
        return {
            "_weight": float(w.sum(dtype=np.float64)),
            "_minlength": byte_to_length(int(coded.min())) if len(coded) else 0,
            "_maxlength": byte_to_length(int(coded.max())) if len(coded) else 0,
            "_maxweight": float(w.max()),
            "_minid": int(found.ids[0]),
            "_maxid": int(found.ids[-1]),
        }

    def _lengths_of(self, fieldname: str) -> np.ndarray:
        """Every document's field length as W3 stores it (one byte each), read once per field."""
        coded = self._length_bytes.get(fieldname)
        if coded is None:
            perdoc = W3PerDocReader(self._storage, self._segment)
            try:
                name = f"_{fieldname}_len"  # W3's length column of the field
                n = self._segment.doc_count_all()
                if perdoc.has_column(name):
                    column = perdoc.column_reader(name, LENGTHS_COLUMN)
                    coded = np.fromiter((column[d] for d in range(n)), dtype=np.uint8, count=n)
                else:
                    coded = np.zeros(n, dtype=np.uint8)
            finally:
                perdoc.close()
            self._length_bytes[fieldname] = coded
        return coded

    def frequency(self, fieldname: str, btext: bytes) -> float:
        return float(self.block(self._index(fieldname, btext)).weights.sum(dtype=np.float64))

    def doc_frequency(self, fieldname: str, btext: bytes) -> int:
        return int(self._dfs[self._index(fieldname, btext)])

    def matcher(self, fieldname: str, btext: bytes, format_: Any, scorer: Any = None) -> PostingsMatcher:
        i = self._index(fieldname, btext)
        found = self.block(i)
        return PostingsMatcher(
            found.ids.tolist(),
            found.weights.tolist(),
            _Values(found, format_),
            format_,
            scorer=scorer,
            term=(fieldname, btext),
            terminfo=_TermInfo(self, fieldname, i, int(self._dfs[i])),  # what Whoosh's matcher API may ask
        )

    def close(self) -> None:
        close_map(self._map)
        self._postfile.close()


class _TermInfo(TermInfo):
    """A term's statistics: the document count at once, the rest (a block read) when first asked.

    Walking a field's terms (``iter_field``) asks for the document count only.
    """

    _LAZY = frozenset(("_weight", "_minlength", "_maxlength", "_maxweight", "_minid", "_maxid"))

    def __init__(self, terms: NewsTermsReader, fieldname: str, i: int, df: int) -> None:
        self._df = df
        self._source = (terms, fieldname, i)

    def __getattr__(self, name: str) -> Any:
        if name in _TermInfo._LAZY:
            terms, fieldname, i = self.__dict__["_source"]
            for key, value in terms._stats(fieldname, i).items():
                self.__dict__.setdefault(key, value)  # keep what a caller already set
            return self.__dict__[name]
        raise AttributeError(name)


class _Values:
    """A block's posting values as the field's format encodes them, made when asked for."""

    def __init__(self, found: blocks.Block, format_: Any) -> None:
        self._found = found
        self._format = format_
        self._positions: list[bytes] | None = None

    def __len__(self) -> int:
        return len(self._found.ids)

    def __getitem__(self, i: int) -> bytes:
        if isinstance(self._format, PackedPositions):
            if self._positions is None:
                poses = self._found.positions().astype("<u4")
                ends = np.cumsum(self._found.counts)
                self._positions = [p.tobytes() for p in np.split(poses, ends[:-1])]
            return self._positions[i]
        if isinstance(self._format, formats.Frequency):
            return pack_uint(int(self._found.weights[i]))
        return b""


class PostingsMatcher(ListMatcher):
    """Whoosh's list matcher over a decoded block (no block-quality skipping: one block per term)."""

    def supports_block_quality(self) -> bool:
        return False

    # Whoosh's collectors still ask for max quality to prune what cannot reach the top N; without
    # per-block bounds the honest answer is "anything": nothing is pruned and every match is scored.
    def max_quality(self) -> float:
        return float("inf")

    def block_quality(self) -> float:
        return float("inf")


class FieldCursor(base.FieldCursor):
    """Walks one field's terms in order (Whoosh's fuzzy and automaton queries use it)."""

    def __init__(self, terms: NewsTermsReader, fieldname: str, fieldobj: Any) -> None:
        self._terms = terms
        self._fieldname = fieldname
        self._fieldobj = fieldobj
        self._lo, self._hi = terms._fields.get(fieldname, (0, 0))
        self._i = self._lo - 1
        self._current: Any = None
        self.next()

    def first(self) -> Any:
        self._i = self._lo - 1
        return self.next()

    def find(self, term: Any) -> Any:
        btext = term if isinstance(term, bytes) else self._fieldobj.to_bytes(term)
        self._i = (self._terms._lower_bound(self._fieldname, btext) if self._hi > self._lo else self._lo) - 1
        return self.next()

    def next(self) -> Any:
        self._i += 1
        self._current = self._fieldobj.from_bytes(self._terms._text(self._i)) if self._i < self._hi else None
        return self._current

    def text(self) -> Any:
        return self._current

    def term_info(self) -> TermInfo | None:
        return self._terms.term_info(self._fieldname, self._terms._text(self._i)) if self.is_valid() else None

    def is_valid(self) -> bool:
        return self._current is not None
