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

import pickle
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .query import Source, WordPlan
from .ranking import K1, bm25f_saturate, field_b, idf, key_text
from .storage import BytesColumn, StoredFields, generation_doc_frequencies, generation_postings

POSTINGS_CACHE_ITEMS = 4_000_000  # decoded postings kept (about 8 bytes each)
DOC_CACHE_ITEMS = 2_000  # decoded stored documents kept (hits, snippets, related and hot articles)
PREFIX_EXPANSION_LIMIT = 400
SPARSE_SHARE = 8  # a word with postings in under 1/8 of the documents is scored over those documents only
DENSE_KEEP = 4  # a word scored over every document is kept for its scored ones when under 1/4 of them
FILTER_CACHE_BYTES = 16 << 20  # documents of phrases and filters kept (4 bytes a document)
WORD_CACHE_BYTES = 48 << 20  # words' scores kept (a common word at 100,000 articles: up to 0.5 MB)


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
        self._inverse_norms: dict[str, np.ndarray] = {}
        self._columns: dict[str, Any] = {}
        self._postings = _BoundedCache(POSTINGS_CACHE_ITEMS, size=lambda p: len(p[0]))
        self._docs = _BoundedCache(DOC_CACHE_ITEMS)
        self._filters = _BoundedCache(FILTER_CACHE_BYTES, size=lambda ids: ids.nbytes)
        self._words = _BoundedCache(WORD_CACHE_BYTES, size=lambda w: sum(a.nbytes for a in w if a is not None))
        self._value_columns: dict[str, Any] = {}
        self._stored: StoredFields | None = None
        self._lexicons: dict[str, list[str]] = {}
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

    def phrase_docs(self, fieldname: str, run: str, normalize: Callable[[str], str]) -> np.ndarray:
        """Documents whose ``title_bg`` or ``body_bg`` holds ``run``, a normalized run of CJK characters, as written.

        What a Whoosh phrase of the run's bigrams matches: within a run of CJK
        characters bigram positions are consecutive, and nowhere else. Whoosh
        reads and lines up positions in Python, ~0.2 s for “一带一路” at 100,000
        articles; here the documents holding every bigram (the codec's arrays) are
        checked for the run in the index's normalized texts. The body's
        (``body_text``) is exact; the title's (``title_text``) has lost its
        punctuation, so a title found there is confirmed on the stored title,
        as is a 核心提示 (its bigrams count with the body's) for a body without the run.
        """
        if fieldname not in ("title_bg", "body_bg") or len(run) < 2:
            raise ValueError(f"no phrase documents for {fieldname!r} and {run!r}")
        # every bigram, as a word's bigram evidence is read (the same cached postings)
        grams = tuple(dict.fromkeys(run[i : i + 2] for i in range(len(run) - 1)))
        ids, _ = self.source_tf(Source(fieldname, grams, 1.0))
        needle = run.encode("utf-8")
        keyed = key_text(run) == run  # title_text keeps every character of the run
        stored = self._stored_fields()
        found = []
        for d in ids.tolist():
            if fieldname == "title_bg":
                if (not keyed or needle in self.value("title_text", d)) and run in normalize(
                    stored[d].get("title") or ""
                ):
                    found.append(d)
            elif needle in self.value("body_text", d) or run in normalize(stored[d].get("lead") or ""):
                found.append(d)
        return np.array(found, dtype=np.int32)

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

    # --- postings ----------------------------------------------------------

    def term_tf(self, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers and length-normalised frequencies (``tf / norm``, float32) of one term, cached."""
        key = (fieldname, term)
        found = self._postings.get(key)
        if found is None:
            ids, tfs = self.postings(fieldname, term)
            found = (ids, tfs * self.inverse_norms(fieldname)[ids])
            self._postings.put(key, found)
        return found

    def postings(self, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers and term frequencies of one term, as the codec stores them, every segment's in turn."""
        return self.postings_many(fieldname, [term])[0]

    def postings_many(self, fieldname: str, terms: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``postings`` of several terms of a field: one lookup in each segment's terms for all of them.

        A query's terms are looked up together (one ``searchsorted`` per
        segment) and their blocks decoded together (see ``generation_postings``).
        """
        return generation_postings(self.segments, fieldname, [term.encode("utf-8") for term in terms], self._read_lock)

    def doc_frequencies(self, fieldname: str, terms: Sequence[str]) -> np.ndarray:
        """Whoosh's ``doc_frequency`` of several terms of a field (deleted documents included), one lookup a segment."""
        return generation_doc_frequencies(self.segments, fieldname, [t.encode("utf-8") for t in terms], self._read_lock)

    def prefetch(self, plans: Sequence[WordPlan]) -> None:
        """Reads, in one lookup per field and segment, the postings of every term ``plans`` need that no cache holds.

        The scores are those ``term_tf`` gives term by term (the same arrays,
        put in the same cache); prefix sources are expanded later, as before.
        """
        wanted: dict[str, dict[str, None]] = {}
        for plan in plans:
            if self._words.get(tuple(plan.sources)) is not None:
                continue
            for source in plan.sources:
                if source.prefix:
                    continue
                for term in source.terms:
                    if self._postings.get((source.field, term)) is None:
                        wanted.setdefault(source.field, {})[term] = None
        for fieldname, terms in wanted.items():
            self._read_together(fieldname, list(terms))

    def _read_together(self, fieldname: str, terms: list[str]) -> None:
        """Puts the ``term_tf`` of ``terms`` in the cache, read together (``postings_many``)."""
        if len(terms) > 1:
            norms = self.inverse_norms(fieldname)
            for term, (ids, tfs) in zip(terms, self.postings_many(fieldname, terms), strict=True):
                self._postings.put((fieldname, term), (ids, tfs * norms[ids]))

    def expand_prefix(self, fieldname: str, prefix: str) -> list[str]:
        """The field's terms that start with ``prefix``, in index order (at most ``PREFIX_EXPANSION_LIMIT``).

        A latin prefix (the common case: 5g, iphone, c9) is looked up in the
        field's terms that start with an ASCII character, held sorted in memory;
        merging every segment's term index took ~0.2 ms an expansion.
        """
        if prefix[:1].isascii() and prefix:
            lexicon = self.latin_lexicon(fieldname)
            terms = []
            i = bisect_left(lexicon, prefix)
            while i < len(lexicon) and len(terms) < PREFIX_EXPANSION_LIMIT and lexicon[i].startswith(prefix):
                terms.append(lexicon[i])
                i += 1
            return terms
        terms = []
        with self._read_lock:
            for t in self.reader.expand_prefix(fieldname, prefix):
                terms.append(t.decode("utf-8") if isinstance(t, bytes) else t)
                if len(terms) >= PREFIX_EXPANSION_LIMIT:
                    break
        return terms

    def latin_lexicon(self, fieldname: str) -> list[str]:
        """Every term of the field that starts with an ASCII character, sorted.

        Whoosh orders terms by their UTF-8 bytes, which is the order of their
        code points: the order of Python strings.
        """
        lexicon = self._lexicons.get(fieldname)
        if lexicon is None:
            with self._read_lock:
                found: set[bytes] = set()
                for seg, _ in self.segments:
                    for name, btext in seg.terms_from(fieldname, b""):
                        if name != fieldname or btext[:1] >= b"\x80":
                            break
                        found.add(btext)
                lexicon = self._lexicons[fieldname] = sorted(t.decode("utf-8") for t in found)
        return lexicon

    def source_tf(self, source: Source) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, length-normalised frequencies) of one evidence source; numbers ascending."""
        if source.prefix:
            terms = self.expand_prefix(source.field, source.terms[0])
            if source.partial:  # longer words only: the word itself is scored on its own
                terms = [t for t in terms if t != source.terms[0]]
            self._read_together(source.field, [t for t in terms if self._postings.get((source.field, t)) is None])
            return _sum_postings([self.term_tf(source.field, t) for t in terms])
        if len(source.terms) == 1:
            return self.term_tf(source.field, source.terms[0])
        # Every term must occur (a word's bigrams): the smallest frequency counts.
        lists = sorted((self.term_tf(source.field, t) for t in source.terms), key=lambda p: len(p[0]))
        ids, tfs = lists[0]
        for other_ids, other_tfs in lists[1:]:
            if not len(ids):
                break
            pos = np.minimum(np.searchsorted(other_ids, ids), len(other_ids) - 1)
            keep = other_ids[pos] == ids
            ids, tfs = ids[keep], np.minimum(tfs[keep], other_tfs[pos[keep]])
        return ids, tfs

    # --- scoring -------------------------------------------------------------

    def score(self, plans: Sequence[WordPlan]) -> tuple[np.ndarray, np.ndarray, list[WordScores]]:
        """BM25F scores, matched-word counts and per-word scores for every document.

        A document with only partial evidence (part of a word) gets a score but
        no match count: callers use ``scores > 0`` to find such partial matches.
        A word whose postings are few is scored over its own documents only
        (the work follows its postings, not the collection's size). A word's
        scores depend on the index alone, and are kept (see ``word``).
        """
        self.prefetch(plans)
        total = np.zeros(self.n, dtype=np.float32)
        matched = np.zeros(self.n, dtype=np.int16)
        per_word = []
        for plan in plans:
            docs, word_score, hit = self.word(plan)
            if docs is None:
                total += word_score
                if plan.counts:
                    matched += hit
            else:
                total[docs] += word_score
                if plan.counts:
                    matched[docs] += hit
            per_word.append(WordScores(docs, word_score))
        return total, matched, per_word

    def word(self, plan: WordPlan) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """One word's (documents or None for all, BM25F scores, whole-word matches), cached by its sources.

        Headline queries share their common words (会议, 发展): a common word is
        the costly kind, its postings spanning much of the collection, and the
        kind that comes back. The cache is bounded in bytes (``WORD_CACHE_BYTES``).
        """
        key = tuple(plan.sources)
        found = self._words.get(key)
        if found is None:
            found = self._word(plan)
            for array in found:
                if array is not None:
                    array.flags.writeable = False  # shared by every query that has the word
            self._words.put(key, found)
        return found

    def _word(self, plan: WordPlan) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        whole: list[tuple[np.ndarray, np.ndarray, float]] = []
        part: list[tuple[np.ndarray, np.ndarray, float]] = []
        for source in plan.sources:
            ids, tfs = self.source_tf(source)
            if len(ids):
                (part if source.partial else whole).append((ids, tfs, source.weight))
        docs, tf_whole, tf_part = self._gather(whole, part)
        tf = (tf_whole + tf_part).astype(np.float32)
        at = None
        if docs is None:  # summed over every document: the rest works on the scored ones only
            at = np.flatnonzero(tf)
            tf, tf_whole, tf_part = tf[at], tf_whole[at], tf_part[at]
        # A word the index has nowhere whole (an unseen name: 尚恩有) is matched by its parts.
        hit = tf_whole > 0 if tf_whole.any() else tf_part > 0
        scored = tf > 0
        df = int(np.count_nonzero(hit & self.live[docs if at is None else at]))
        word_score = np.zeros(len(tf), dtype=np.float32)
        if scored.any():
            # idf from the whole-word matches; parts alone borrow it, with their small weights
            word_score[scored] = idf(max(df, 1), self.n) * bm25f_saturate(tf[scored], K1)
        if at is not None:
            if len(at) * DENSE_KEEP < self.n:
                return at, word_score, hit  # kept smaller: the scored documents only (matches are among them)
            full_score, full_hit = np.zeros(self.n, dtype=np.float32), np.zeros(self.n, dtype=bool)
            full_score[at], full_hit[at] = word_score, hit
            return None, full_score, full_hit
        return docs, word_score, hit

    def _gather(
        self, whole: list[tuple[np.ndarray, np.ndarray, float]], part: list[tuple[np.ndarray, np.ndarray, float]]
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """One word's weighted evidence summed per document: (documents or None for all, whole-word tf, partial tf).

        Both ways sum each document's evidence in float64 in the order of the
        sources, so they give the same numbers.
        """
        split = sum(len(ids) for ids, _, _ in whole)  # whole-word postings come first
        postings = split + sum(len(ids) for ids, _, _ in part)
        if postings * SPARSE_SHARE >= self.n:
            dense = []
            for sources in (whole, part):
                tf = np.zeros(self.n, dtype=np.float64)
                for ids, tfs, weight in sources:
                    tf[ids] += tfs * np.float64(weight)  # ids of one source are unique: a plain indexed add
                dense.append(tf)
            return None, dense[0], dense[1]
        if not postings:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        docs, where = np.unique(np.concatenate([ids for ids, _, _ in whole + part]), return_inverse=True)
        sums = []
        for positions, sources in ((where[:split], whole), (where[split:], part)):
            values = (
                np.concatenate([tfs * np.float64(weight) for _, tfs, weight in sources]) if sources else np.zeros(0)
            )
            sums.append(np.bincount(positions, weights=values, minlength=len(docs)))
        return docs, sums[0], sums[1]


@dataclass(frozen=True)
class WordScores:
    """One query word's scores: of documents ``docs`` (None: of every document, by number)."""

    docs: np.ndarray | None
    scores: np.ndarray

    def at(self, docnum: int) -> float:
        if self.docs is None:
            return float(self.scores[docnum])
        i = int(np.searchsorted(self.docs, docnum))
        return float(self.scores[i]) if i < len(self.docs) and self.docs[i] == docnum else 0.0


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


def _sum_postings(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.concatenate([p[0] for p in parts])
    tfs = np.concatenate([p[1] for p in parts])
    uniq, inverse = np.unique(ids, return_inverse=True)
    return uniq, np.bincount(inverse, weights=tfs, minlength=len(uniq)).astype(np.float32)
