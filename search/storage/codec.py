"""The news codec: Whoosh's codec interface over compact, numpy-packed postings.

Whoosh writes and reads an index through a codec (``whoosh.codec.base``):
a field writer gets every posting of a new segment, a terms reader answers
term lookups and gives matchers. ``NewsCodec`` keeps W3's per-document files
(stored fields, lengths, columns) and replaces its inverted index:

* ``<segment>.ntx``, the terms: every field's terms sorted, with each term's
  document count and where its block ends in the postings file; read whole
  into memory when a segment is opened (lookups are a ``searchsorted`` over
  the terms' first eight bytes);
* ``<segment>.npo``, the postings: one block per term (``blocks``), read
  with one ``pread``.

Whoosh's searcher reads blocks through ordinary matchers (queries, phrases,
``more_like``); the scorer reads them as arrays (``NewsTermsReader.arrays``).
Positions are kept only in ``PackedPositions`` fields (the bigram fields,
for exact phrases); other fields keep weights.

Terms file layout (little-endian): a header (magic, version, term count,
length of the description), then, compressed with zlib (level 1: the file
is read whole, and shrinks to ~40 %), a JSON description (the fields in
order with their first term and term count, and the types of the arrays)
padded to 8 bytes, term lengths, the terms' bytes, document counts and
block ends.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np
from whoosh import formats
from whoosh.codec import base
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3PerDocReader, W3PerDocWriter, W3Segment
from whoosh.columns import VarBytesColumn
from whoosh.matching import ListMatcher
from whoosh.reading import TermInfo, TermNotFound
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length

from . import blocks
from .derived import apply_patch, is_patch, make_patch
from .formats import PackedPositions

TERMS_EXT = ".ntx"
POSTINGS_EXT = ".npo"
MAGIC = b"NTX1"
VERSION = 1
HEADER = struct.Struct("<4sIQI")  # magic, version, terms, description bytes


class MissingTerm(TermNotFound, KeyError):
    """A term the segment does not have (Whoosh's readers catch either kind)."""


def _narrowest(top: int) -> str:
    return "<u1" if top < 0x100 else "<u2" if top < 0x10000 else "<u4" if top < 0x100000000 else "<u8"


class NewsCodec(W3Codec):
    """W3's per-document files with the news inverted index (see the module docstring).

    ``derived`` maps a stored text field to the bytes column that holds its
    normalized form: the field is stored as a patch on the column (``derived``).
    """

    length_stats = False  # blocks keep no length bounds: the flush needs no lengths

    def __init__(self, derived: dict[str, str] | None = None) -> None:
        # W3's settings for what it still writes: uncompressed, never compound
        super().__init__(compression=0)
        self.derived = dict(derived or {})

    def per_document_writer(self, storage: Any, segment: Any) -> NewsPerDocWriter:
        return NewsPerDocWriter(self, storage, segment)

    def per_document_reader(self, storage: Any, segment: Any) -> NewsPerDocReader:
        return NewsPerDocReader(storage, segment, self.derived)

    def field_writer(self, storage: Any, segment: Any) -> NewsFieldWriter:
        return NewsFieldWriter(storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> NewsTermsReader:
        return NewsTermsReader(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        return W3Segment(self, indexname)


class NewsPerDocWriter(W3PerDocWriter):
    """W3's per-document writer; a derived stored text is written as a patch on its column."""

    def __init__(self, codec: NewsCodec, storage: Any, segment: Any) -> None:
        super().__init__(codec, storage, segment)
        self._derived = codec.derived
        self._columns = set(codec.derived.values())
        self._column_values: dict[str, bytes] = {}

    def add_column_value(self, fieldname: str, columnobj: Any, value: Any) -> None:
        if fieldname in self._columns:
            self._column_values[fieldname] = value
        super().add_column_value(fieldname, columnobj, value)

    def finish_doc(self) -> None:
        stored = self._storedfields or {}  # W3's close() finishes a document even when none was started
        for name, column in self._derived.items():
            text, normalized = stored.get(name), self._column_values.get(column)
            if isinstance(text, str) and normalized is not None:
                patch = make_patch(text, normalized.decode("utf-8"))
                if patch is not None:
                    stored[name] = patch
        self._column_values.clear()
        super().finish_doc()


class NewsPerDocReader(W3PerDocReader):
    """W3's per-document reader; a derived stored text is rebuilt from its column."""

    def __init__(self, storage: Any, segment: Any, derived: dict[str, str]) -> None:
        super().__init__(storage, segment)
        self._derived = derived

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        fields = super().stored_fields(docnum)
        for name, column in self._derived.items():
            if is_patch(fields.get(name)):
                reader = self._cached_reader(column, VarBytesColumn())
                fields[name] = apply_patch((reader[docnum] or b"").decode("utf-8"), fields[name])
        return fields


class NewsFieldWriter(base.FieldWriter):
    """Writes a segment's blocks as terms arrive, and its terms file at the end."""

    def __init__(self, storage: Any, segment: Any) -> None:
        self._storage = storage
        self._segment = segment
        self._postfile = segment.create_file(storage, POSTINGS_EXT)
        self._written = 0
        self._fields: list[list[Any]] = []  # [name, first term, term count]
        self._lengths: list[int] = []
        self._terms: list[bytes] = []
        self._dfs: list[int] = []
        self._ends: list[int] = []
        self._positions = False
        self._term: bytes | None = None
        self._pending: list[tuple[int, float, bytes]] = []
        self.is_closed = False

    # --- Whoosh's posting-at-a-time protocol ---------------------------------

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        fmt = fieldobj.format
        self._positions = isinstance(fmt, PackedPositions)
        if not self._positions and fmt.supports("positions"):
            raise ValueError(f"field {fieldname!r}: the news codec keeps positions only in PackedPositions fields")
        if self._fields and fieldname <= self._fields[-1][0]:
            raise base.OutOfOrderError(f"field {fieldname!r} after {self._fields[-1][0]!r}")
        self._fields.append([fieldname, len(self._dfs), 0])

    def start_term(self, text: bytes) -> None:
        self._term = text
        self._pending = []

    def add(self, docnum: int, weight: float, vbytes: bytes, length: int | None) -> None:
        self._pending.append((docnum, weight, vbytes))

    def finish_term(self) -> None:
        pending = self._pending
        self._add_term(self._term or b"", [p[0] for p in pending], [p[1] for p in pending], [p[2] for p in pending])

    def finish_field(self) -> None:
        self._fields[-1][2] = len(self._dfs) - self._fields[-1][1]

    # --- a term at a time ----------------------------------------------------

    def add_postings(self, schema: Any, lengths: Any, items: Iterable[tuple]) -> None:
        """Every posting of the segment, sorted by field, term and document: one block per term."""
        current = None
        for (fieldname, btext), group in groupby(items, key=itemgetter(0, 1)):
            if fieldname != current:
                if current is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                current = fieldname
            postings = list(group)
            if postings[0][2] < 0:  # docnum -1 (sorted first): Whoosh's spelling entries, not kept
                postings = [p for p in postings if p[2] >= 0]
            if postings:
                _, _, docnums, weights, values = zip(*postings, strict=True)
                self._add_term(btext, docnums, weights, values)
        if current is not None:
            self.finish_field()

    def _add_term(self, btext: bytes, docnums: Sequence[int], weights: Sequence[float], values: Sequence[Any]) -> None:
        if self._terms and self._fields[-1][1] < len(self._dfs) and btext <= self._terms[-1]:
            raise base.OutOfOrderError(f"term {btext!r} after {self._terms[-1]!r}")
        if self._positions:
            block = blocks.encode(docnums, weights, b"".join(values), [len(v) // 4 for v in values])
        else:
            block = blocks.encode(docnums, weights)
        self._written += self._postfile.write(block)
        self._lengths.append(len(btext))
        self._terms.append(btext)
        self._dfs.append(len(docnums))
        self._ends.append(self._written)

    def close(self) -> None:
        if self.is_closed:
            return
        self._postfile.close()
        n = len(self._dfs)
        types = {
            "lengths": _narrowest(max(self._lengths, default=0)),
            "dfs": _narrowest(max(self._dfs, default=0)),
            "ends": _narrowest(self._written),
        }
        about = json.dumps({"fields": self._fields, "types": types}, ensure_ascii=False).encode("utf-8")
        handle = self._segment.create_file(self._storage, TERMS_EXT)
        try:
            handle.write(HEADER.pack(MAGIC, VERSION, n, len(about)))
            body = [
                about + b"\0" * (-len(about) % 8),
                np.asarray(self._lengths, dtype=types["lengths"]).tobytes(),
                b"".join(self._terms),
                np.asarray(self._dfs, dtype=types["dfs"]).tobytes(),
                np.asarray(self._ends, dtype=types["ends"]).tobytes(),
            ]
            handle.write(zlib.compress(b"".join(body), 1))
        finally:
            handle.close()
        self._terms = []
        self.is_closed = True


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


class NewsTermsReader(base.TermsReader):
    """A segment's terms (in memory) and blocks (one ``pread`` each)."""

    def __init__(self, storage: Any, segment: Any) -> None:
        name = segment.make_filename(TERMS_EXT)
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
            self._blob = raw[at : at + total]
            at += total
            self._dfs = np.frombuffer(raw, dtype=types["dfs"], count=n, offset=at).copy()
            at += n * types["dfs"].itemsize
            ends = np.frombuffer(raw, dtype=types["ends"], count=n, offset=at).astype(np.int64)
            if at + n * types["ends"].itemsize != len(raw):
                raise ValueError("trailing bytes")
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise ValueError(f"{name}: not a complete news terms file ({exc})") from None
        # held for the life of the reader, ~18 bytes a term besides the terms themselves:
        # offsets i and i + 1 bound term i's bytes and its block
        self._offsets = _compact(np.concatenate([[0], ends]))
        text_ends = np.cumsum(lengths)
        self._keys = _prefix_keys(np.frombuffer(self._blob, dtype=np.uint8), text_ends - lengths, lengths)
        self._text_offsets = _compact(np.concatenate([[0], text_ends]))
        self._fields = {name: (first, first + count) for name, first, count in about["fields"]}
        self._order = [name for name, _, _ in about["fields"]]
        self._postfile = segment.open_file(storage, POSTINGS_EXT)
        self._fd = self._postfile.fileno()
        self._storage = storage
        self._segment = segment
        self._length_bytes: dict[str, np.ndarray] = {}

    # --- lookups -------------------------------------------------------------

    def _text(self, i: int) -> bytes:
        return self._blob[int(self._text_offsets[i]) : int(self._text_offsets[i + 1])]

    def _lower_bound(self, fieldname: str, btext: bytes) -> int:
        """The first term of the field not below ``btext`` (the field's end when none)."""
        lo, hi = self._fields[fieldname]
        i = lo + int(np.searchsorted(self._keys[lo:hi], _prefix_key(btext)))
        while i < hi and self._text(i) < btext:
            i += 1
        return i

    def find(self, fieldname: str, btext: bytes) -> int:
        """The number of a term, or -1."""
        if fieldname not in self._fields:
            return -1
        i = self._lower_bound(fieldname, btext)
        return i if i < self._fields[fieldname][1] and self._text(i) == btext else -1

    def block(self, i: int) -> blocks.Block:
        """Term ``i``'s decoded block."""
        start = int(self._offsets[i])
        raw = os.pread(self._fd, int(self._offsets[i + 1]) - start, start)
        return blocks.decode(raw, int(self._dfs[i]))

    def arrays(self, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """A term's (document numbers ``int64``, weights ``float32``), deleted documents included; None when absent."""
        i = self.find(fieldname, btext)
        if i < 0:
            return None
        found = self.block(i)
        return found.ids, found.weights

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
        found = self.block(self._index(fieldname, btext))
        w = found.weights
        coded = self._lengths_of(fieldname)[found.ids]
        coded = coded[coded > 0]
        return TermInfo(
            weight=float(w.sum(dtype=np.float64)),
            df=len(found.ids),
            minlength=byte_to_length(int(coded.min())) if len(coded) else None,
            maxlength=byte_to_length(int(coded.max())) if len(coded) else 0,
            maxweight=float(w.max()),
            minid=int(found.ids[0]),
            maxid=int(found.ids[-1]),
        )

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
        found = self.block(self._index(fieldname, btext))
        return PostingsMatcher(
            found.ids.tolist(),
            found.weights.tolist(),
            _Values(found, format_),
            format_,
            scorer=scorer,
            term=(fieldname, btext),
        )

    def close(self) -> None:
        self._postfile.close()


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
