"""Scoring: BM25F over Whoosh postings, term at a time, with numpy.

Whoosh's matcher tree walks every posting of every clause in Python, so a
ten-word query over six fields costs hundreds of milliseconds. Here each
query word is scored in one pass over whole posting blocks: its evidence
from every field (and its bigrams and synonyms) is combined into one
length-normalised term frequency, saturated once (true BM25F, Robertson &
Zaragoza), and added to a score array covering every document. The same
pass counts how many query words each document matched, which is what
minimum-should-match needs.

``Corpus`` holds what scoring needs of one index version: per-field length
arrays, column arrays for sorting and facets, the live-document mask, and a
bounded cache of decoded posting lists (not of results).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from whoosh.reading import TermNotFound

from .dedup import Sketch
from .postings import Table, term_key
from .ranking import K1, bm25f_saturate, field_b, idf

POSTINGS_CACHE_ITEMS = 4_000_000  # decoded postings kept (about 8 bytes each)
DOC_CACHE_ITEMS = 2_000  # decoded stored documents kept (ranking, collapsing and snippets read the same top hits)
PREFIX_EXPANSION_LIMIT = 400


@dataclass(frozen=True)
class Source:
    """One place a query word's evidence comes from.

    ``terms`` of one item is a term; several items are the bigrams of a word,
    all of which must occur (their smallest frequency counts).
    """

    field: str
    terms: tuple[str, ...]
    weight: float
    prefix: bool = False
    partial: bool = False  # evidence of part of the word: scores, but does not make the word "matched"


@dataclass
class WordPlan:
    word: str
    sources: list[Source] = field(default_factory=list)
    counts: bool = True  # False: ranking evidence only, not a word that must match


class Corpus:
    """Arrays and cached postings for one index version (one Whoosh reader)."""

    def __init__(self, searcher: Any) -> None:
        reader = searcher.reader()
        self.reader = reader
        self.n = reader.doc_count_all()
        if reader.is_atomic():
            self.segments = [(reader, 0)]
        else:
            self.segments = list(zip(reader.readers, reader.doc_offsets, strict=True))
        self.live = np.ones(self.n, dtype=bool)
        if reader.has_deletions():
            self.live[:] = False
            self.live[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
        self._lengths: dict[str, np.ndarray] = {}
        self._avg: dict[str, float] = {}
        self._columns: dict[str, Any] = {}
        self.tables = _tables(reader, self.segments)
        self._postings = _BoundedCache(POSTINGS_CACHE_ITEMS, size=lambda p: len(p[0]))
        self._docs = _BoundedCache(DOC_CACHE_ITEMS)
        self._sketches = _BoundedCache(DOC_CACHE_ITEMS)
        self._value_columns: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()

    # --- per-document arrays -----------------------------------------------

    def lengths(self, fieldname: str) -> tuple[np.ndarray, float]:
        """Field lengths of every document and their average."""
        with self._lock:
            if fieldname not in self._lengths:
                out = np.zeros(self.n, dtype=np.float32)
                for seg, offset in self.segments:
                    dfl = seg.doc_field_length
                    count = seg.doc_count_all()
                    out[offset : offset + count] = [dfl(d, fieldname, 0) or 0 for d in range(count)]
                self._lengths[fieldname] = out
                total = self.reader.field_length(fieldname)
                self._avg[fieldname] = max(total / max(self.n, 1), 1.0)
            return self._lengths[fieldname], self._avg[fieldname]

    def column(self, fieldname: str, translate: bool = False) -> tuple[np.ndarray, Any]:
        """A sortable field's values for every document: numbers, or strings as (codes, labels).

        ``translate=False`` keeps Whoosh's stored numbers (DATETIME as
        microseconds); ``True`` decodes NUMERIC fields to their values.
        """
        with self._lock:
            if fieldname not in self._columns:
                values = list(self.reader.column_reader(fieldname, translate=translate))
                if len(values) != self.n:  # no document has this field
                    values = [0] * self.n
                if values and isinstance(values[0], bytes | str):
                    labels, codes = np.unique(np.array([_text(v) for v in values], dtype=object), return_inverse=True)
                    self._columns[fieldname] = (codes.astype(np.int32), labels)
                else:
                    # Documents without a value hold the column's sentinel (a huge number): 0 instead.
                    numbers = [v if isinstance(v, int | float) and 0 <= v < 2**62 else 0 for v in values]
                    self._columns[fieldname] = (np.array(numbers, dtype=np.int64), None)
            return self._columns[fieldname]

    def docs(self, searcher: Any, query: Any) -> np.ndarray:
        """A Whoosh query's matching documents as a boolean mask (``searcher``: the caller's own)."""
        mask = np.zeros(self.n, dtype=bool)
        ids = np.fromiter(searcher.docs_for_query(query), dtype=np.int64)
        mask[ids] = True
        return mask

    # --- stored documents ---------------------------------------------------

    def document(self, docnum: int) -> StoredDoc:
        """A document's stored fields and what is derived from them (decoded once, kept in a bounded cache)."""
        doc = self._docs.get(docnum)
        if doc is None:
            with self._read_lock:
                doc = StoredDoc(self.reader.stored_fields(docnum))
            self._docs.put(docnum, doc)
        return doc

    def stored(self, docnum: int) -> dict[str, Any]:
        """A document's stored fields (cached; do not modify)."""
        return self.document(docnum).fields

    def value(self, name: str, docnum: int) -> bytes:
        """A document's value in a bytes column of the schema (``b""`` when it has none).

        Ranking reads the columns of its top candidates (sketch, normalized
        title and body) instead of decoding their stored articles.
        """
        with self._read_lock:  # column readers seek and read shared file handles
            if name not in self._value_columns:
                reader = self.reader
                self._value_columns[name] = reader.column_reader(name) if reader.has_column(name) else None
            column = self._value_columns[name]
            return column[docnum] if column is not None else b""

    def sketch(self, docnum: int) -> Sketch | None:
        """A document's near-duplicate sketch (None when its text was too short), decoded once."""
        sketch = self._sketches.get(docnum)
        if sketch is None:
            signature = self.value("signature", docnum)
            sketch = Sketch(signature) if signature else _NO_SKETCH
            self._sketches.put(docnum, sketch)
        return None if sketch is _NO_SKETCH else sketch

    # --- postings ----------------------------------------------------------

    def postings(self, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers and term frequencies of one term (cached, decoded)."""
        key = (fieldname, term)
        hit = self._postings.get(key)
        if hit is not None:
            return hit
        ids_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        key = term_key(fieldname, term.encode("utf-8"))
        for table, covered, table_offset in self.tables:
            found = table.get(fieldname, key) if table is not None else None
            if found is not None:
                if len(found[0]):
                    ids_parts.append(found[0] + table_offset)
                    tf_parts.append(found[1])
                continue
            for seg, offset in covered:  # no table, or a key two terms share: through Whoosh
                with self._read_lock:  # segment readers share file handles: one reader at a time
                    matcher = _leaf_matcher(seg, fieldname, term)
                    if matcher is None:
                        continue
                    ids, tfs = _read_postings(matcher)
                ids_parts.append(ids + offset)
                tf_parts.append(tfs)
        if ids_parts:
            result = (np.concatenate(ids_parts), np.concatenate(tf_parts))
        else:
            result = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        self._postings.put(key, result)
        return result

    def expand_prefix(self, fieldname: str, prefix: str) -> list[str]:
        terms = []
        with self._read_lock:
            expanded = list(self.reader.expand_prefix(fieldname, prefix))
        for t in expanded:
            terms.append(t.decode("utf-8") if isinstance(t, bytes) else t)
            if len(terms) >= PREFIX_EXPANSION_LIMIT:
                break
        return terms

    def source_tf(self, source: Source) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, frequencies) of one evidence source."""
        if source.prefix:
            terms = self.expand_prefix(source.field, source.terms[0])
            if source.partial:  # longer words only: the word itself is scored on its own
                terms = [t for t in terms if t != source.terms[0]]
            parts = [self.postings(source.field, t) for t in terms]
            return _sum_postings(parts)
        if len(source.terms) == 1:
            return self.postings(source.field, source.terms[0])
        lists = sorted((self.postings(source.field, t) for t in source.terms), key=lambda p: len(p[0]))
        ids, tfs = lists[0]
        for other_ids, other_tfs in lists[1:]:
            keep = np.isin(ids, other_ids, assume_unique=True)
            ids, tfs = ids[keep], tfs[keep]
            if not len(ids):
                break
            pos = np.searchsorted(other_ids, ids)
            tfs = np.minimum(tfs, other_tfs[pos])
        return ids, tfs

    # --- scoring -------------------------------------------------------------

    def score(self, plans: Sequence[WordPlan]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """BM25F scores, matched-word counts and per-word scores for every document.

        A document with only partial evidence (part of a word) gets a score but
        no match count: callers use ``scores > 0`` to find such partial matches.
        """
        total = np.zeros(self.n, dtype=np.float32)
        matched = np.zeros(self.n, dtype=np.int16)
        per_word = []
        for plan in plans:
            tf_c = np.zeros(self.n, dtype=np.float32)
            tf_part = np.zeros(self.n, dtype=np.float32)
            for source in plan.sources:
                ids, tfs = self.source_tf(source)
                if not len(ids):
                    continue
                lengths, avg = self.lengths(source.field)
                b = field_b(source.field)
                norm = 1.0 - b + b * lengths[ids] / avg
                # ids of one source are unique: a plain indexed add (np.add.at is several times slower)
                (tf_part if source.partial else tf_c)[ids] += source.weight * tfs / norm
            # A word the index has nowhere whole (an unseen name: 尚恩有) is matched by its parts.
            hit = tf_c > 0 if tf_c.any() else tf_part > 0
            tf_c += tf_part
            scored = tf_c > 0
            df = int(np.count_nonzero(hit & self.live))
            word_score = np.zeros(self.n, dtype=np.float32)
            if scored.any():
                # idf from the whole-word matches; parts alone borrow it, with their small weights
                word_score[scored] = idf(max(df, 1), self.n) * bm25f_saturate(tf_c[scored], K1)
            total += word_score
            if plan.counts:
                matched += hit
            per_word.append(word_score)
        return total, matched, per_word


class _BoundedCache:
    """An LRU cache of at most ``capacity`` units, ``size(value)`` units an entry.

    Once full, only a fixed quarter of new keys may displace others: plain LRU
    fails under cyclic traffic larger than the cache (every entry is evicted
    just before it is needed again), while a fixed subset keeps a stable share
    of the working set.
    """

    def __init__(self, capacity: int, size: Callable[[Any], int] = lambda value: 1) -> None:
        self.capacity = capacity
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        size = self._size(value)
        with self._lock:
            if key in self._items or (self._used + size > self.capacity and hash(key) & 3):
                return
            self._items[key] = value
            self._used += size
            while self._used > self.capacity and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._used -= self._size(old)


_NO_SKETCH = object()  # cached for a document without a sketch


class StoredDoc:
    """One document's stored fields, with the normalized texts snippets derive from them."""

    __slots__ = ("fields", "_normalized")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self._normalized: dict[str, tuple[str, list[int] | None]] = {}

    def normalized(
        self, name: str, normalizer: Callable[[str], tuple[str, list[int] | None]]
    ) -> tuple[str, list[int] | None]:
        """A stored text field through ``normalizer`` (normalized text and offsets), computed once."""
        out = self._normalized.get(name)
        if out is None:
            out = self._normalized[name] = normalizer(self.fields.get(name) or "")
        return out


def _tables(reader: Any, segments: list[tuple[Any, int]]) -> list[tuple[Table | None, list[tuple[Any, int]], int]]:
    """Where each segment's postings are read: (table or None, the segments it covers, its document offset).

    The generation's merged table covers the segments it was built from while
    they are still the reader's first segments (an incremental update appends
    segments; a writer that merged segments would make it stale); every other
    segment reads its own table, or Whoosh.
    """
    out: list[tuple[Table | None, list[tuple[Any, int]], int]] = []
    merged = Table.merged(reader)
    if merged is not None:
        covered = merged.meta["segments"]
        held = [[seg.segment().segment_id(), seg.doc_count_all()] for seg, _ in segments[: len(covered)]]
        if held == covered:
            out.append((merged, segments[: len(covered)], 0))
            segments = segments[len(covered) :]
        else:
            merged.close()
    out.extend((Table.of_segment(seg), [(seg, offset)], offset) for seg, offset in segments)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _leaf_matcher(seg: Any, fieldname: str, term: str) -> Any:
    """A segment's postings of a term as the codec stores them, or None when absent.

    Deleted documents are included: the live mask drops them from candidates
    and document frequencies. Whoosh's ``postings()`` wraps the matcher of a
    segment with deletions in a filter, which hides the codec's blocks and
    made every posting list of that segment decode one posting at a time.
    """
    terms = getattr(seg, "_terms", None)
    if terms is None or not hasattr(terms, "matcher") or not hasattr(seg, "_text_to_bytes"):
        try:  # another reader implementation: the public, filtered way
            return seg.postings(fieldname, term)
        except TermNotFound:
            return None
    if fieldname not in seg.schema:
        return None
    try:
        return terms.matcher(fieldname, seg._text_to_bytes(fieldname, term), seg.schema[fieldname].format)
    except TermNotFound:
        return None


def _read_postings(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """Decode a leaf matcher: whole blocks at a time for Whoosh's W3 codec."""
    ids_parts: list[np.ndarray] = []
    tf_parts: list[np.ndarray] = []
    if hasattr(m, "_read_data") and hasattr(m, "_next_block"):
        while m.is_active():
            m._read_data()
            deltas, weights = m._data[0], m._data[1]
            block = np.cumsum(np.asarray(deltas, dtype=np.int64))
            ids_parts.append(block)
            if weights is None:
                tf_parts.append(np.ones(len(block), dtype=np.float32))
            elif isinstance(weights, float):
                tf_parts.append(np.full(len(block), weights, dtype=np.float32))
            else:
                tf_parts.append(np.asarray(weights, dtype=np.float32))
            m._next_block()
    else:  # any other matcher: one posting at a time
        ids, tfs = [], []
        while m.is_active():
            ids.append(m.id())
            tfs.append(m.weight())
            m.next()
        ids_parts.append(np.asarray(ids, dtype=np.int64))
        tf_parts.append(np.asarray(tfs, dtype=np.float32))
    if not ids_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(ids_parts), np.concatenate(tf_parts)


def _sum_postings(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.concatenate([p[0] for p in parts])
    tfs = np.concatenate([p[1] for p in parts])
    uniq, inverse = np.unique(ids, return_inverse=True)
    return uniq, np.bincount(inverse, weights=tfs, minlength=len(uniq)).astype(np.float32)
