"""Scoring: BM25F over Whoosh postings, term at a time, with numpy.

Whoosh's matcher tree walks every posting of every clause in Python, so a
ten-word query over six fields costs hundreds of milliseconds. Here each
query word is scored in one pass over whole posting blocks: its evidence
from every field (and its bigrams and synonyms) is combined into one
length-normalised term frequency, saturated once (true BM25F, Robertson &
Zaragoza), and added to a score array covering every document. The same
pass counts how many query words each document matched, which is what
minimum-should-match needs. A common word's scores are deferred
(``Deferred``, ``Scoring``): its matches are counted at once, its scores
made for the documents that can reach the top (``ordering.contenders``).

``Corpus`` is an index version (``search.corpus.IndexVersion``: length
norms, columns, the live-document mask, stored documents) with its postings:
read together per segment, kept in bounded caches (decoded posting lists
and words' scores, not results), prefixes expanded, and exact CJK phrases
found on them (``phrase_docs``). The constants of the formula are in
``search.ranking``.

Why one module of this size (and ``Corpus`` over 150 lines): reading postings
and scoring them share the caches and the read lock of one index version; what
does not need them lives in ``search.corpus``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .analysis import PhraseFinder
from .corpus import BoundedCache, IndexVersion
from .ranking import K1, bm25f_saturate, idf, key_text
from .storage import generation_doc_frequencies, generation_postings
from .words import Source, WordPlan

POSTINGS_CACHE_ITEMS = 4_000_000  # decoded postings kept (about 8 bytes each)
PREFIX_EXPANSION_LIMIT = 400
SPARSE_SHARE = 8  # a word with postings in under 1/8 of the documents is scored over those documents only
DENSE_KEEP = 4  # a word scored over every document is kept for its scored ones when under 1/4 of them
WORD_CACHE_BYTES = 96 << 20  # words' scores kept (a common word at a million articles: 5 MB; deferred: ~1-20 MB)
DENSE_LOOKUP = 32  # a word's bigrams in 1/32 of the documents or more are intersected through arrays over all
BOUND_MARGIN = 1e-4  # a deferred word's score bound, above its largest score by this share
DEFER_SHARE = 8  # a word with postings in 1/8 of the documents or more is scored only where it can matter
DEFER_FROM = 250_000  # from this many documents (xwlb's 19,876: deferring doubled a long query's p50; 1M: halved it)

Weighted = tuple[np.ndarray, np.ndarray, float]  # one source's documents, length-normalised frequencies, weight
WordKey = tuple[tuple[Any, ...], ...]  # a word's sources as plain tuples: the word cache's key (``_word_key``)


class Corpus(IndexVersion):
    """An index version (``corpus.IndexVersion``) with its postings, read and cached, and BM25F over them.

    Over 150 lines because postings, prefix expansion, phrase documents and
    word scores share one version's caches and locks; the formula's parts are
    ``search.ranking``'s pure functions.
    """

    def __init__(self, searcher: Any) -> None:
        super().__init__(searcher)
        self._postings = BoundedCache(POSTINGS_CACHE_ITEMS, size=lambda p: len(p[0]))
        self._words = BoundedCache(WORD_CACHE_BYTES, size=_nbytes)
        self._lexicons: dict[str, list[str]] = {}

    def phrase_docs(self, fieldname: str, phrase: PhraseFinder, normalize: Callable[[str], str]) -> np.ndarray:
        """Documents whose ``title_bg`` or ``body_bg`` holds ``phrase``'s tokens at their positions: an exact phrase.

        What a Whoosh phrase of the tokens would match (~0.2 s for “一带一路” at
        100,000 articles, lining up positions in Python), found on the index's
        normalized texts: the documents holding every token (the codec's
        arrays) are checked with ``phrase``. The body keeps no positions; its
        text (``body_text``) is exact, and only when it lacks the phrase is the
        stored 核心提示 read (its bigrams count with the body's, a line before
        it). The title keeps positions, so only one run of CJK characters is
        found here (Whoosh lines up the rest): the title's column
        (``title_text``) has lost its punctuation, so a title found there is
        confirmed on the stored title.
        """
        run = phrase.plain
        if fieldname not in ("title_bg", "body_bg") or (fieldname == "title_bg" and run is None):
            raise ValueError(f"no phrase documents for {fieldname!r} and {phrase.runs!r}")
        # every token, as a word's bigram evidence is read (the same cached postings)
        ids, _ = self.source_tf(Source(fieldname, tuple(dict.fromkeys(gram for gram, _ in phrase.tokens)), 1.0))
        stored = self._stored_fields()
        found = []
        if fieldname == "title_bg":
            assert run is not None
            title_needle = run.encode("utf-8")
            keyed = key_text(run) == run  # title_text keeps every character of the run
            for d in ids.tolist():
                if (not keyed or title_needle in self.value("title_text", d)) and run in normalize(
                    stored[d].get("title") or ""
                ):
                    found.append(d)
            return np.array(found, dtype=np.int32)
        needle = run.encode("utf-8") if run is not None else None  # UTF-8 is self-synchronizing: bytes will do
        for d in ids.tolist():
            body = self.value("body_text", d)
            if needle in body if needle is not None else phrase(body.decode("utf-8")):
                found.append(d)
            # the 核心提示 and the body as their bigrams were indexed: a phrase with gaps may cross the line
            elif (lead := stored[d].get("lead")) and phrase(f"{normalize(lead)}\n{body.decode('utf-8')}"):
                found.append(d)
        return np.array(found, dtype=np.int32)

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
            key = _word_key(plan)
            if self._words.get(key) is not None or self._words.get(("deferred", *key)) is not None:
                continue  # kept: scored, or deferred with its evidence
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

    def expand_infix(self, fieldname: str, word: str) -> list[str]:
        """The field's latin terms that hold ``word``, a latin word with a letter, after their first character
        (at most ``PREFIX_EXPANSION_LIMIT``).

        Titles glue latin words together (appleid, iphone6s,
        jibs1988theeclecticparadigmof…): a query's latin word is found inside
        them, by ``str.find`` over the field's latin terms with a letter (not
        numbers with a unit: 2020年) joined by newlines (``infix_lexicon``).
        """
        lettered, text, starts = self.infix_lexicon(fieldname)
        terms: list[str] = []
        at = text.find(word)
        while at >= 0 and len(terms) < PREFIX_EXPANSION_LIMIT:
            i = int(np.searchsorted(starts, at, side="right")) - 1
            if at > starts[i]:  # not at the term's start: prefixes are expanded on their own
                terms.append(lettered[i])
            at = text.find(word, int(starts[i + 1]))
        return terms

    def infix_lexicon(self, fieldname: str) -> tuple[list[str], str, np.ndarray]:
        """The field's latin terms with a letter, the same joined by newlines, and where each starts there
        (built once a version, ~27 ms on xwlb: ``SearchEngine.warm`` builds it)."""
        key = ("infix", fieldname)
        found = self._lexicons.get(key)  # type: ignore[call-overload]
        if found is None:
            lettered = [t for t in self.latin_lexicon(fieldname) if not t.isdigit() and t.isascii() and t != t.upper()]
            text = "\n" + "\n".join(lettered) + "\n"
            starts = np.cumsum([1] + [len(t) + 1 for t in lettered])
            found = self._lexicons[key] = (lettered, text, starts)  # type: ignore[index]
        return found

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
            expand = self.expand_infix if source.infix else self.expand_prefix
            terms = expand(source.field, source.terms[0])
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
            if len(ids) * DENSE_LOOKUP >= self.n:  # many: looked up in arrays over every document
                held, value = np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=np.float32)
                held[other_ids], value[other_ids] = True, other_tfs
                keep = held[ids]
                ids = ids[keep]
                tfs = np.minimum(tfs[keep], value[ids])
                continue
            pos, keep = find_sorted(other_ids, ids)
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
        scoring = self.score_deferred(plans, defer=False)
        return scoring.scores, scoring.matched, scoring.per_word

    def score_deferred(self, plans: Sequence[WordPlan], defer: bool = True) -> Scoring:
        """``score``, with the common words deferred: they give their matches, not yet their scores.

        A word with postings in ``1/DEFER_SHARE`` of the documents or more (in
        a collection of ``DEFER_FROM`` or more) costs most of a query at a
        million articles, and decides little of
        its top: its idf is low. Its matches (for the tiers, totals and
        facets, exact) cost one pass over its postings; its scores are made
        for the documents that can reach the top (``Scoring.resolve``,
        chosen by ``ordering.contenders`` with the words' score bounds), or
        for every document when that is cheaper (``Scoring.score_word``).
        """
        self.prefetch(plans)
        total = np.zeros(self.n, dtype=np.float32)
        matched = np.zeros(self.n, dtype=np.int16)
        words: list[WordScores | Deferred] = []
        for plan in plans:
            deferred = self.deferred(plan) if defer else None
            if deferred is not None:
                if plan.counts:
                    matched += deferred.hit
                words.append(deferred)
                continue
            docs, word_score, hit = self.word(plan)
            if docs is None:
                total += word_score
                if plan.counts:
                    matched += hit
            else:
                total[docs] += word_score
                if plan.counts:
                    matched[docs] += hit
            words.append(WordScores(docs, word_score))
        return Scoring(self, list(plans), total, matched, words)

    def deferred(self, plan: WordPlan) -> Deferred | None:
        """A common word's matches, idf, score bound and evidence (None: a word scored at once), cached.

        A word whose scores are kept already (``word``) is not deferred.
        """
        if self.n < DEFER_FROM:
            return None
        key = _word_key(plan)
        if self._words.get(key) is not None:
            return None
        found = self._words.get(("deferred", *key))
        if found is None:
            whole, part = self._evidence(plan)
            if sum(len(ids) for ids, _, _ in whole + part) * DEFER_SHARE < self.n:
                self._keep(key, self._word(whole, part))  # scored at once, from the evidence read
                return None
            found = (Deferred.of(whole, part, self.live),)
            self._words.put(("deferred", *key), found)
        return found[0]

    def word_hits(self, plan: WordPlan) -> np.ndarray:
        """The documents matching a word (as ``word`` counts them for its idf), ascending, deleted ones included."""
        deferred = self.deferred(plan)
        if deferred is not None:
            return np.flatnonzero(deferred.hit)
        docs, _, hit = self.word(plan)
        return np.flatnonzero(hit) if docs is None else docs[hit]

    def word(self, plan: WordPlan) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """One word's (documents or None for all, BM25F scores, whole-word matches), cached by its sources.

        Headline queries share their common words (会议, 发展): a common word is
        the costly kind, its postings spanning much of the collection, and the
        kind that comes back. The cache is bounded in bytes (``WORD_CACHE_BYTES``).
        """
        key = _word_key(plan)
        found = self._words.get(key)
        if found is None:
            found = self._keep(key, self._word(*self._evidence(plan)))
        return found

    def _keep(
        self, key: WordKey, found: tuple[np.ndarray | None, np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        for array in found:
            if array is not None:
                array.flags.writeable = False  # shared by every query that has the word
        self._words.put(key, found)
        return found

    def _evidence(self, plan: WordPlan) -> tuple[list[Weighted], list[Weighted]]:
        """A word's (whole-word, partial) evidence: each source's documents, frequencies and weight, in plan order."""
        whole: list[Weighted] = []
        part: list[Weighted] = []
        for source in plan.sources:
            ids, tfs = self.source_tf(source)
            if len(ids):
                (part if source.partial else whole).append((ids, tfs, source.weight))
        return whole, part

    def _word(self, whole: list[Weighted], part: list[Weighted]) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """One word's (documents or None for all, BM25F scores, whole-word matches) from its evidence."""
        docs, tf_whole, tf_part = self._gather(whole, part)
        tf = (tf_whole + tf_part).astype(np.float32)
        # A word the index has nowhere whole (an unseen name: 尚恩有) is matched by its parts.
        hit = tf_whole > 0 if tf_whole.any() else tf_part > 0
        df = int(np.count_nonzero(hit & (self.live if docs is None else self.live[docs])))
        # idf from the whole-word matches; parts alone borrow it, with their small weights (0 where tf is 0)
        word_score = idf(max(df, 1), self.n) * bm25f_saturate(tf, K1)
        if docs is None and np.count_nonzero(tf) * DENSE_KEEP < self.n:
            at = np.flatnonzero(tf)
            return at, word_score[at], hit[at]  # kept smaller: the scored documents only (matches are among them)
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
                if not sources:
                    dense.append(np.zeros(self.n, dtype=np.float64))
                    continue
                # one pass over every source's postings, each document's added up in the order of the sources
                ids = np.concatenate([ids for ids, _, _ in sources])
                values = np.concatenate([tfs * np.float64(weight) for _, tfs, weight in sources])
                dense.append(np.bincount(ids, weights=values, minlength=self.n))
            return None, dense[0], dense[1]
        if not postings:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        docs, where = _union(np.concatenate([ids for ids, _, _ in whole + part]))
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

    def of_docs(self, docs: np.ndarray) -> np.ndarray:
        """The scores of ``docs`` (0 where the word has none)."""
        if self.docs is None:
            return self.scores[docs]
        if not len(self.docs):
            return np.zeros(len(docs), dtype=np.float32)
        pos, found = find_sorted(self.docs, docs)
        return np.where(found, self.scores[pos], np.float32(0))

    def at(self, docnum: int) -> float:
        """The score of one document (0 where the word has none)."""
        return float(self.of_docs(np.array([docnum]))[0])


@dataclass(frozen=True)
class Deferred:
    """A common query word not scored yet: its matches, its idf and a bound of its scores, and its evidence."""

    hit: np.ndarray  # every document: does it match the word (as ``Corpus.word`` counts a match)
    idf: float
    bound: float  # no document's score of the word is above it
    bound_unmatched: float  # nor, of a document not matching it (its parts alone), above this
    whole: list[Weighted]
    part: list[Weighted]

    @classmethod
    def of(cls, whole: list[Weighted], part: list[Weighted], live: np.ndarray) -> Deferred:
        """From a word's evidence (its sources' postings, as ``Corpus`` reads them): one pass over them, no scores."""
        hit = np.zeros(len(live), dtype=bool)
        whole_held = _mark(hit, whole)
        if not whole_held:  # a word the index has nowhere whole is matched by its parts
            _mark(hit, part)
        weight = idf(max(int(np.count_nonzero(hit & live)), 1), len(live))

        def top(sources: list[Weighted]) -> float:  # float32 sums round: kept a little above every score
            tf = sum(float(tfs.max()) * w for _, tfs, w in sources)
            return weight * bm25f_saturate(tf, K1) * (1 + BOUND_MARGIN)

        # a document not matching a word matched whole may hold its parts; matched by its parts, nothing
        unmatched = top(part) if whole_held else 0.0
        return cls(hit, weight, top(whole + part), unmatched, whole, part)

    @cached_property
    def evidence(self) -> np.ndarray:
        """Every document: does the word score it at all (whole or in part); made when first asked."""
        held = self.hit.copy()
        _mark(held, self.part)
        return held

    def of_docs(self, docs: np.ndarray) -> np.ndarray:
        """The word's scores of ``docs`` (ascending), the numbers ``Corpus.word`` gives them."""
        sums = []
        for sources in (self.whole, self.part):
            tf = np.zeros(len(docs), dtype=np.float64)
            for ids, tfs, weight in sources:  # in the order of the sources, as ``Corpus._gather`` sums
                pos, found = find_sorted(ids, docs)
                tf[found] += tfs[pos[found]] * np.float64(weight)
            sums.append(tf)
        tf = (sums[0] + sums[1]).astype(np.float32)
        score = np.zeros(len(docs), dtype=np.float32)
        scored = tf > 0
        score[scored] = self.idf * bm25f_saturate(tf[scored], K1)
        return score


class Scoring:
    """A query's words scored over the collection, common words deferred (``Corpus.score_deferred``).

    ``scores`` is every document's BM25F where no deferred word has evidence,
    and at the documents ``resolve`` made exact; ``matched`` counts each
    document's matched words, every one.
    """

    def __init__(
        self,
        corpus: Corpus,
        plans: list[WordPlan],
        scores: np.ndarray,
        matched: np.ndarray,
        words: list[WordScores | Deferred],
    ) -> None:
        self.corpus = corpus
        self.plans = plans
        self.scores = scores
        self.matched = matched
        self.words = words
        self.resolved: dict[int, WordScores] = {}

    @property
    def deferred(self) -> bool:
        return any(isinstance(w, Deferred) for w in self.words)

    def bounds(self, docs: np.ndarray) -> list[tuple[int, np.ndarray, float, float]]:
        """Each deferred word's place among the words, which of ``docs`` it matches, and the most it adds
        to a document matching it and to one not (``Deferred.bound``, ``bound_unmatched``)."""
        return [
            (i, word.hit[docs], word.bound, word.bound_unmatched)
            for i, word in enumerate(self.words)
            if isinstance(word, Deferred)
        ]

    def score_word(self, i: int) -> WordScores:
        """Scores the deferred word ``i`` for every document (``Corpus.word``), as if it had not been deferred."""
        docs, scores, _ = self.corpus.word(self.plans[i])
        self.words[i] = WordScores(docs, scores)
        return self.words[i]

    def scored(self) -> np.ndarray:
        """Every document: does any word score it (``score``'s ``scores > 0``)."""
        scored = self.scores > 0
        for word in self.words:
            if isinstance(word, Deferred):
                scored |= word.evidence
        return scored

    def exact(self, docs: np.ndarray, keep: bool = False) -> np.ndarray:
        """The scores of ``docs`` (ascending), summed word by word in the query's order as ``Corpus.score`` sums;
        with ``keep``, each deferred word keeps its scores of them (``per_word``)."""
        total = np.zeros(len(docs), dtype=np.float32)
        for i, word in enumerate(self.words):
            scores = word.of_docs(docs)
            if keep and isinstance(word, Deferred):
                self.resolved[i] = WordScores(docs, scores)
            total += scores
        return total

    def resolve(self, docs: np.ndarray) -> None:
        """Makes the scores of ``docs`` (ascending) exact; each deferred word keeps its scores of them."""
        self.scores[docs] = self.exact(docs, keep=True)

    @property
    def per_word(self) -> list[WordScores]:
        """Each word's scores; a deferred word's of the documents ``resolve`` made exact (else none)."""
        return [self.resolved.get(i, _NO_SCORES) if isinstance(w, Deferred) else w for i, w in enumerate(self.words)]


_NO_SCORES = WordScores(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def _union(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(ids, return_inverse=True)`` of sorted runs (a word's sources or a prefix's terms, one after another).

    A stable sort (timsort) merges the runs it finds: ~3× faster than the
    quicksort ``np.unique`` uses (120,000 postings in 8 sources: 3 ms, not 10).
    """
    if not len(ids):
        return ids, np.zeros(0, dtype=np.intp)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    where = np.empty(len(ids), dtype=np.intp)
    where[order] = np.cumsum(first) - 1
    return ordered[first], where


def _word_key(plan: WordPlan) -> WordKey:
    """A word's sources as tuples of their fields: the word cache's key. Hashed and compared in C, several
    times a query word (a tuple of ``Source`` hashes and compares each field in Python: ~0.2 ms a short query)."""
    return tuple((s.field, s.terms, s.weight, s.prefix, s.partial, s.infix) for s in plan.sources)


def find_sorted(ids: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``docs`` is or would be in the sorted, non-empty ``ids`` (clipped), and whether it is there.

    ``docs`` are cast to the type of ``ids`` (document numbers fit either): searching int64 numbers in
    int32 postings converted the whole postings list each call (a common word's 400,000: 80 µs, not 18).
    """
    docs = docs.astype(ids.dtype, copy=False)
    pos = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
    return pos, ids[pos] == docs


def _mark(held: np.ndarray, sources: list[Weighted]) -> bool:
    """Marks in ``held`` the documents ``sources`` give evidence for (positive weight and frequency);
    whether any source had a positive weight."""
    marked = False
    for ids, tfs, weight in sources:
        if weight > 0:
            held[ids if tfs.min() > 0 else ids[tfs > 0]] = True
            marked = True
    return marked


def _nbytes(entry: tuple[Any, ...]) -> int:
    """Bytes a word cache entry holds: its arrays, or a deferred word's matches and evidence (some of
    its evidence is the postings cache's too: counted twice, the bound errs on the small side)."""
    total = 0
    for item in entry:
        if isinstance(item, Deferred):
            total += item.hit.nbytes + sum(ids.nbytes + tfs.nbytes for ids, tfs, _ in item.whole + item.part)
        elif item is not None:
            total += item.nbytes
    return total


def _sum_postings(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.concatenate([p[0] for p in parts])
    tfs = np.concatenate([p[1] for p in parts])
    uniq, inverse = _union(ids)
    return uniq, np.bincount(inverse, weights=tfs, minlength=len(uniq)).astype(np.float32)
