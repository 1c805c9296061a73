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
Positions are kept only in ``PackedPositions`` fields (the title's bigrams,
whose exact phrases Whoosh lines up); other fields keep weights.

Terms file layout (little-endian): a header (magic, version, term count,
length of the description), then, compressed with zlib (level 1: the file
is read whole, and shrinks to ~40 %), a JSON description (the fields in
order with their first term and term count, and the types of the arrays)
padded to 8 bytes, term lengths, the terms' bytes, document counts and
block ends.

Why one module of this size: it is Whoosh's codec interface (field writer,
per-document writer, readers) for one index format, and the pool that feeds
the field writer hands it arrays the writer alone reads.
"""

from __future__ import annotations

import json
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np
from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Codec, W3Segment

from . import blocks
from .derived import NewsPerDocReader, NewsPerDocWriter
from .formats import PackedPositions
from .terms import HEADER, MAGIC, POSTINGS_EXT, TERMS_EXT, VERSION, NewsTermsReader


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


class GatheredPostings:
    """A new segment's postings as the writer's pool gathers them, in chunks of arrays: per posting its
    field's number, its term's number (numbered in order of arrival, every field's terms in one
    dictionary), document number, weight and count of positions, and the positions of every posting."""

    COLUMNS = ("fields", "terms", "docnums", "weights", "counts", "positions")

    def __init__(self) -> None:
        self.numbers: dict[bytes, int] = {}
        self.field_numbers: dict[str, int] = {}
        self.field_names: list[str] = []
        self.positional: list[bool] = []  # per field number
        self.chunks: dict[str, list[np.ndarray]] = {name: [] for name in self.COLUMNS}

    def add(self, *columns: np.ndarray) -> None:
        """One chunk of postings: an array per name in ``COLUMNS``."""
        for name, values in zip(self.COLUMNS, columns, strict=True):
            self.chunks[name].append(values)

    def field(self, name: str, positional: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One field's postings, in arrival order: term numbers, document numbers, weights, counts and positions
        (the last two empty for a field without positions). Only this field's postings are copied."""
        number = self.field_numbers[name]
        parts: dict[str, list[np.ndarray]] = {key: [] for key in ("terms", "docnums", "weights", "counts", "positions")}
        chunks = self.chunks
        for k, fields in enumerate(chunks["fields"]):
            chosen = fields == number
            if not chosen.any():
                continue
            for key in ("terms", "docnums", "weights"):
                parts[key].append(chunks[key][k][chosen])
            if positional:
                counts = chunks["counts"][k].astype(np.int64)
                parts["counts"].append(counts[chosen])
                parts["positions"].append(chunks["positions"][k][blocks.position_runs(counts, chosen)])
        types = {
            "terms": np.uint32,
            "docnums": np.uint32,
            "weights": np.float64,
            "counts": np.int64,
            "positions": np.uint32,
        }
        return tuple(  # type: ignore[return-value]
            np.concatenate(parts[key]) if parts[key] else np.zeros(0, dtype=types[key]) for key in types
        )


class PooledPostings:
    """A segment's gathered postings, a field at a time in name order, as ``blocks.encode_many`` takes them."""

    def __init__(self, gathered: GatheredPostings, positional: frozenset[str]) -> None:
        self.gathered = gathered
        self.positional = positional

    def fields(
        self,
    ) -> Iterator[tuple[str, list[bytes], np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]]:
        """(field, its terms sorted, their document counts, then the postings in term order — document
        numbers, weights and, in a positions field, counts and positions), documents ascending within a
        term as they arrived."""
        g = self.gathered
        if len(g.field_names) > 0x100:
            raise ValueError("a segment holds at most 256 indexed fields")
        texts = list(g.numbers)
        for name in sorted(g.field_names):
            positional = name in self.positional
            terms, docnums, weights, counts, positions = g.field(name, positional)
            order = sorted(np.unique(terms).tolist(), key=texts.__getitem__)
            rank = np.zeros(len(texts), dtype=np.int64)
            rank[order] = np.arange(len(order))
            keys = rank[terms]
            del terms, rank
            moved = np.argsort(keys, kind="stable")
            dfs = np.bincount(keys, minlength=len(order))
            del keys
            sorted_texts = [texts[i] for i in order]
            if not positional:
                yield name, sorted_texts, dfs, docnums[moved].astype(np.int64), weights[moved], None, None
                continue
            yield (
                name,
                sorted_texts,
                dfs,
                docnums[moved].astype(np.int64),
                weights[moved],
                counts[moved],
                positions[blocks.position_runs(counts, moved)].astype(np.int64),
            )


class NewsFieldWriter(base.FieldWriter):
    """Writes a segment's blocks as terms arrive, and its terms file at the end."""

    def __init__(self, storage: Any, segment: Any) -> None:
        self._storage = storage
        self._segment = segment
        self._postfile = segment.create_file(storage, POSTINGS_EXT)
        self._written = 0
        self._fields: list[list[Any]] = []  # [name, first term, term count]
        # compact arrays, not lists of Python numbers: ~14 bytes a term besides its text, not ~110
        self._lengths = array("Q")
        self._terms = bytearray()
        self._last = b""
        self._dfs = array("Q")
        self._ends = array("Q")
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

    def add_postings(self, schema: Any, lengths: Any, items: Iterable[tuple] | PooledPostings) -> None:
        """Every posting of the segment, sorted by field, term and document: one block per term.

        ``PooledPostings`` (the news segment writer's) are encoded a field at a time.
        """
        if isinstance(items, PooledPostings):
            for name, terms, dfs, docnums, weights, counts, positions in items.fields():
                self.start_field(name, schema[name])
                blob, ends = blocks.encode_many(dfs, docnums, weights, counts, positions)
                self.add_blocks(terms, blob, ends, dfs)
                self.finish_field()
            return
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
        if self._positions:
            block = blocks.encode(docnums, weights, b"".join(values), [len(v) // 4 for v in values])
        else:
            block = blocks.encode(docnums, weights)
        self.add_block(btext, block, len(docnums))

    def add_block(self, btext: bytes, block: bytes, df: int) -> None:
        """Add a term of the current field with its block as ``blocks.encode`` wrote it."""
        self.add_blocks([btext], block, np.array([len(block)]), np.array([df]))

    def add_blocks(self, terms: list[bytes], blob: bytes, ends: np.ndarray, dfs: np.ndarray) -> None:
        """Add sorted ``terms`` of the current field with their blocks, concatenated in ``blob`` and ending at
        ``ends`` (what ``blocks.encode_many`` gives)."""
        if not terms:
            return
        if self._fields[-1][1] < len(self._dfs) and terms[0] <= self._last:
            raise base.OutOfOrderError(f"term {terms[0]!r} after {self._last!r}")
        self._lengths.extend(map(len, terms))
        self._terms += b"".join(terms)
        self._dfs.frombytes(np.asarray(dfs, dtype=np.uint64).tobytes())
        self._ends.frombytes((np.asarray(ends, dtype=np.uint64) + np.uint64(self._written)).tobytes())
        self._written += self._postfile.write(blob)
        self._last = terms[-1]

    def close(self) -> None:
        if self.is_closed:
            return
        self._postfile.close()
        n = len(self._dfs)
        lengths, dfs, ends = (np.frombuffer(a, dtype=np.uint64) for a in (self._lengths, self._dfs, self._ends))
        types = {
            "lengths": _narrowest(int(lengths.max()) if n else 0),
            "dfs": _narrowest(int(dfs.max()) if n else 0),
            "ends": _narrowest(self._written),
        }
        about = json.dumps({"fields": self._fields, "types": types}, ensure_ascii=False).encode("utf-8")
        handle = self._segment.create_file(self._storage, TERMS_EXT)
        try:
            handle.write(HEADER.pack(MAGIC, VERSION, n, len(about)))
            body = [
                about + b"\0" * (-len(about) % 8),
                lengths.astype(types["lengths"]).tobytes(),
                bytes(self._terms),
                dfs.astype(types["dfs"]).tobytes(),
                ends.astype(types["ends"]).tobytes(),
            ]
            handle.write(zlib.compress(b"".join(body), 1))
        finally:
            handle.close()
        self._terms = bytearray()
        self.is_closed = True
