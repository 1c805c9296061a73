"""An index version's per-document data, read once and shared by every search of that version.

``IndexVersion`` holds, for one Whoosh reader: the live-document mask,
per-field length norms (BM25's length normalisation, ``ranking.field_b``),
column arrays for sorting, facets and related (``column``, ``labelled``),
the bytes columns ranking reads instead of stored articles (``value``: the
near-duplicate sketch, the normalized title and body), the stored documents
(decoded once, in a bounded cache) and the documents of filters and phrases
(``docs``). Scoring builds on it (``search.scoring.Corpus``).

Why ``IndexVersion`` is over 150 lines: every per-document array of one index
version (mask, norms, columns, stored documents, filter documents) shares its
caches and its lock.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from .ranking import field_b
from .storage import BytesColumn, StoredFields

DOC_CACHE_ITEMS = 2_000  # decoded stored documents kept (hits, snippets, related and hot articles)
FILTER_CACHE_BYTES = 16 << 20  # documents of phrases and filters kept (4 bytes a document)


class IndexVersion:
    """Arrays and cached documents of one index version (one Whoosh reader); safe to share between threads."""

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
        self._inverse_norms: dict[str, np.ndarray] = {}
        self._columns: dict[str, Any] = {}
        self._docs = BoundedCache(DOC_CACHE_ITEMS)
        self._filters = BoundedCache(FILTER_CACHE_BYTES, size=lambda ids: ids.nbytes)
        self._value_columns: dict[str, Any] = {}
        self._stored: StoredFields | None = None
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()

    # --- per-document arrays -----------------------------------------------

    def inverse_norms(self, fieldname: str) -> np.ndarray:
        """BM25 length normalisation of every document in a field, inverted: ``1 / (1 - b + b * length / avg)`` (float32)."""
        inverse = self._inverse_norms.get(fieldname)
        if inverse is not None:
            return inverse
        with self._lock:
            if fieldname not in self._inverse_norms:
                lengths = np.zeros(self.n, dtype=np.float64)
                for seg, offset in self.segments:
                    dfl = seg.doc_field_length
                    count = seg.doc_count_all()
                    lengths[offset : offset + count] = [dfl(d, fieldname, 0) or 0 for d in range(count)]
                avg = max(self.reader.field_length(fieldname) / max(self.n, 1), 1.0)
                b = field_b(fieldname)
                self._inverse_norms[fieldname] = (1.0 / (1.0 - b + b * lengths / avg)).astype(np.float32)
            return self._inverse_norms[fieldname]

    def field_lengths(self, fieldname: str) -> np.ndarray:
        """Every document's length in a field as Whoosh's searcher reads it (``doc_field_length``, 1 when
        missing; float32, exact: the codec keeps W3's one-byte lengths, every one of them below 2^24)."""
        lengths = self._columns.get(("lengths", fieldname))
        if lengths is None:
            with self._lock:
                lengths = np.zeros(self.n, dtype=np.float32)
                for seg, offset in self.segments:
                    dfl = seg.doc_field_length
                    count = seg.doc_count_all()
                    lengths[offset : offset + count] = [dfl(d, fieldname, 1) for d in range(count)]
                self._columns[("lengths", fieldname)] = lengths
        return lengths

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

    def labelled(self, fieldname: str, translate: bool = False) -> tuple[np.ndarray, list[str]]:
        """A column as (codes, labels as shown): facets count codes; ``""`` labels documents without a value."""
        key = ("labelled", fieldname)
        found = self._columns.get(key)
        if found is None:
            values, labels = self.column(fieldname, translate=translate)
            if labels is None:
                numbers, codes = np.unique(values, return_inverse=True)
                found = (codes.astype(np.int32), [str(int(v)) if v else "" for v in numbers])
            else:
                found = (values, [str(label) for label in labels])
            with self._lock:
                self._columns[key] = found
        return found

    def docs(self, searcher: Any, query: Any, exact: Callable[[Any], np.ndarray | None] | None = None) -> np.ndarray:
        """A Whoosh query's matching documents as a boolean mask (``searcher``: the caller's own).

        ``exact(query)`` may find them faster (an exact phrase, see
        ``phrase_docs``) or return None for Whoosh to find them. They are kept
        per index version, keyed by the pickled query, so every attribute counts.
        """
        key = pickle.dumps(query, 4)
        ids = self._filters.get(key)
        if ids is None:
            ids = exact(query) if exact is not None else None
            if ids is None:
                ids = np.fromiter(searcher.docs_for_query(query), dtype=np.int32)
            ids = ids.astype(np.int32)
            ids.flags.writeable = False
            self._filters.put(key, ids)
        mask = np.zeros(self.n, dtype=bool)
        mask[ids] = True
        return mask

    # --- stored documents ---------------------------------------------------

    def document(self, docnum: int) -> StoredDoc:
        """A document's stored fields and what is derived from them (decoded once, kept in a bounded cache)."""
        doc = self._docs.get(docnum)
        if doc is None:
            doc = StoredDoc(self._stored_fields()[docnum])
            self._docs.put(docnum, doc)
        return doc

    def _stored_fields(self) -> StoredFields:
        stored = self._stored
        if stored is None:
            with self._lock:
                stored = self._stored = self._stored or StoredFields(self.segments, self._read_lock)
        return stored

    def stored(self, docnum: int) -> dict[str, Any]:
        """A document's stored fields (cached; do not modify)."""
        return self.document(docnum).fields

    def value(self, name: str, docnum: int) -> bytes:
        """A document's value in a bytes column of the schema (``b""`` when it has none).

        Ranking reads the columns of its top candidates (sketch, normalized
        title and body) instead of decoding their stored articles.
        """
        column = self._value_columns.get(name)
        if column is None:
            with self._lock:
                column = self._value_columns.get(name)
                if column is None:
                    column = self._value_columns[name] = BytesColumn(self.segments, name, self._read_lock)
        return column[docnum]

    def normalized_from(
        self, column: str, docnum: int, text: str, normalizer: Callable[[str], tuple[str, list[int] | None]]
    ) -> tuple[str, list[int] | None]:
        """``normalizer(text)`` for a stored text whose normalized form the index keeps in ``column``.

        Read rather than recomputed when it is as long as the text (then every
        character mapped to one, and no offsets are needed); a text with
        characters that expand (… → ...) is normalized again for its offsets.
        """
        kept = self.value(column, docnum).decode("utf-8")
        return (kept, None) if len(kept) == len(text) else normalizer(text)


class BoundedCache:
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


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)
