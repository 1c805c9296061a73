"""Searching: a query string and options in, ranked hits with snippets out.

``SearchEngine.search`` reads top to bottom: parse → build the Whoosh query
(relaxing how many words must match when nothing matches) → collect the top
candidates → rank (``search.ranking``) → collapse near-duplicate reprints
(``search.dedup``) → page → snippets (``search.snippets``).

A request's cost is bounded by what it shows: only the first
``max_window`` results are paged (``page * size`` beyond it is a
``QueryError``), ranking is numpy up to the page's last position, reprints
are collapsed across pages within the first ``COLLAPSE_HEAD`` hits and within
the page beyond them, snippets are made for the page only, and a page past
every match is answered without ranking anything.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache, reduce
from typing import Any

import numpy as np
from whoosh import query as Q

from . import ranking
from .analysis import is_cjk_run
from .articles import SHANGHAI
from .dedup import near_pairs
from .index import IndexStore
from .query import (
    ParsedQuery,
    bound_query,
    content_words,
    min_match,
    parse_query,
    phrase_clause,
    word_plan,
    word_plans,
)
from .ranking import RankingConfig, Weights
from .recovery import Synonyms, Vocabulary, looks_like_pinyin
from .rerank import Evidence, Reranker
from .scoring import Corpus, WordPlan, WordScores
from .snippets import highlight
from .wordclass import generic_words

SORTS = ("relevance", "date")
FACETS = ("channel", "source", "year")  # counted over every match of a search
MAX_QUERY_TEXT = 2000  # characters of a query the engine reads (the web layer rejects much less)
CANDIDATES = 200
COLLAPSE_HEAD = (
    50  # the first hits, collapsed across pages (five of 10); deeper pages fold the reprints within themselves
)
MAX_RESULT_WINDOW = 1000  # results a search pages through (the MAX_RESULT_WINDOW setting)
TIERED_FROM_WORDS = 3  # up to this many words, all must match (partial matches only fill a thin page)
FILL_TO = 10  # partial matches are shown when fewer full matches than this exist
WEAK_SHARE = 0.5  # an answer whose best article holds less of the query's weight (idf) than this is weak
GENERIC_SHARE = 1 / 3  # a word held by more of the articles than this says little on its own (weak answers)
LATEST_POOL = 2000  # newest articles the latest-by-channel box looks at
PHRASE_FEW = 5  # an explicit phrase finding fewer documents than this …
PHRASE_FEWER = 4  # … while its words find this many times more: its words, exact matches first


_PLAIN_PINYIN = re.compile(r"[a-z\s']+")  # letters only: pinyin when little else matched
_LATIN_RUN = re.compile(r"[a-z]+(?:'[a-z]+)*")


class QueryError(ValueError):
    """A search parameter is invalid; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass
class Hit:
    id: str
    title: str
    url: str
    published: str | None
    source: str
    channel: str
    score: float
    snippet: str = ""
    title_html: str = ""
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    explain: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "source": self.source,
            "channel": self.channel,
            "score": round(self.score, 4),
            "snippet": self.snippet,
            "title_html": self.title_html,
        }
        if self.duplicates:
            data["duplicates"] = self.duplicates
        if self.explain is not None:
            data["explain"] = self.explain
        return data


@dataclass
class SearchResults:
    query: str
    total: int
    page: int
    size: int
    hits: list[Hit]
    took_ms: float = 0.0
    rewritten: str | None = None
    rewrite_reason: str | None = None
    suggestion: str | None = None
    terms: list[str] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    relaxed: bool = False  # no hit matches enough of the words: an any-word (or partial-word) answer
    # The articles found hold too little of the query to be an answer (see ``SearchEngine._weak``):
    # a reader is told nothing matched. ``missing``: the query words no article holds (partial answers).
    weak: bool = False
    missing: list[str] = field(default_factory=list)
    inexact: list[str] = field(default_factory=list)  # quoted phrases that found nothing (or little) as written
    inexact_total: int = 0  # how many documents hold them as written (listed first)

    @property
    def inexact_notice(self) -> str | None:
        """What to tell the reader when quoted phrases were relaxed to their words."""
        if not self.inexact:
            return None
        quoted = "、".join(f"“{p}”" for p in self.inexact)
        if self.inexact_total:
            n = self.inexact_total
            return f"only {n} exact match{'es' if n > 1 else ''} for {quoted}, also showing results without quotes"
        return f"no exact match for {quoted}, showing results without quotes"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"query": self.query}
        if self.rewritten:
            data["rewritten"] = self.rewritten
            data["rewrite_reason"] = self.rewrite_reason
        if self.suggestion:
            data["suggestion"] = self.suggestion
        if self.weak:
            data["weak"] = True
        if self.missing:
            data["missing"] = self.missing
        if self.inexact:
            data["inexact"] = self.inexact
            data["inexact_total"] = self.inexact_total
        data.update(
            total=self.total,
            page=self.page,
            size=self.size,
            hits=[h.to_json() for h in self.hits],
            took_ms=round(self.took_ms, 2),
        )
        if self.facets:
            data["facets"] = self.facets
        return data


@dataclass
class Plan:
    """A parsed query made ready to score: words, required sets, filter and mask."""

    words: list[WordPlan]
    terms: list[str]
    required: list[Q.Query]
    required_words: list[WordPlan]
    allowed: Q.Query | None
    exclude: list[list[WordPlan]]
    text: str
    preferred: list[Q.Query] = field(default_factory=list)  # phrases documents should hold (emphasis)
    strict_preference: bool = False  # those holding them come first (a relaxed explicit phrase)
    exclude_phrases: list[Q.Query] = field(default_factory=list)  # -"短语": the characters in order, anywhere


@dataclass
class Matched:
    """Scores of every document, which are candidates, and in which order tier."""

    scores: np.ndarray
    candidates: np.ndarray
    per_word: list[WordScores]
    first: np.ndarray | None = None  # long queries: documents meeting min-should-match
    relaxed: bool = False  # no candidate matches ``min_match`` of the words (hot searches skip these)
    complete: bool = False  # some candidate holds enough query words (``min_match``)

    @property
    def total(self) -> int:
        return int(self.candidates.sum())


@dataclass
class Ranked:
    """The top candidates, best first: document numbers, final scores and proximity boosts (arrays)."""

    docnums: np.ndarray
    scores: np.ndarray
    boosts: np.ndarray
    extras: dict[int, dict[str, Any]] = field(default_factory=dict)  # a learned re-ranker's parts, for --explain

    @classmethod
    def empty(cls) -> Ranked:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), np.ones(0))

    def __len__(self) -> int:
        return len(self.docnums)

    def reranked(self, reranker: Reranker, evidence: Evidence, explain: bool) -> Ranked:
        """The head reordered by a learned model (within its tiers); with ``explain``, its features kept as extras."""
        depth = min(reranker.depth, len(self.docnums))
        head = [(d, s, [], {} if explain else None) for d, s, _, _ in self.slice(0, depth)]
        new = reranker.rerank(head, evidence, explain)
        at = {d: i for i, d in enumerate(self.docnums[:depth].tolist())}
        order = np.array([at[d] for d, *_ in new] + list(range(depth, len(self.docnums))), dtype=np.int64)
        extras = {d: parts for d, _, _, parts in new if parts}
        return Ranked(self.docnums[order], self.scores[order], self.boosts[order], extras)

    def slice(self, start: int, end: int) -> list[tuple[int, float, list[int], float]]:
        """Positions ``start``–``end`` as ``(docnum, score, reprints, boost)``, reprints to be filled by folding."""
        return [
            (d, s, [], b)
            for d, s, b in zip(
                self.docnums[start:end].tolist(),
                self.scores[start:end].tolist(),
                self.boosts[start:end].tolist(),
                strict=True,
            )
        ]


def collapse_head(size: int) -> int:
    """Hits collapsed across pages (``COLLAPSE_HEAD``, or two pages of ``size``)."""
    return max(COLLAPSE_HEAD, 2 * size)


def _fold(corpus: Corpus, hits: list[tuple[int, float, list[int], float]]) -> tuple[list, int]:
    """Fold reprints of one story into the best-ranked copy; the kept hits and how many were folded.

    A hit is folded into the first earlier kept hit whose sketch is near its
    own (``dedup.near_pairs``), so the kept hits are pairwise distinct.
    Sketches are read from their column for each request: a page's are a few
    microseconds each.
    """
    if len(hits) < 2:
        return hits, 0
    first, second = near_pairs([corpus.value("signature", d) for d, *_ in hits])
    earlier: dict[int, list[int]] = {}
    for i, j in sorted(zip(second.tolist(), first.tolist(), strict=True)):
        earlier.setdefault(i, []).append(j)  # near hits ranked before hit i, best first
    kept: list = []
    kept_index: dict[int, int] = {}  # position in ``hits`` → position in ``kept``
    for i, (docnum, score, dups, boost) in enumerate(hits):
        into = next((kept_index[j] for j in earlier.get(i, ()) if j in kept_index), None)
        if into is None:
            kept_index[i] = len(kept)
            kept.append((docnum, score, dups, boost))
        else:
            kept[into][2].append(docnum)
    return kept, len(hits) - len(kept)


@lru_cache(maxsize=4096)
def iso(dt: datetime | None) -> str | None:
    """Stored UTC datetimes → Asia/Shanghai ISO strings (news is published at few distinct times: cached)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc).astimezone(SHANGHAI).isoformat()


BRIEF = ("id", "title", "published", "source", "url")


def brief(doc: dict[str, Any], names: tuple[str, ...] = BRIEF) -> dict[str, Any]:
    """A stored article as the API lists it: ``names`` of its fields, ``published`` as a Shanghai ISO string."""
    return {name: iso(doc.get(name)) if name == "published" else doc.get(name, "") for name in names}


def lead_of(doc: dict[str, Any]) -> str:
    """The article's lead (核心提示), or the opening derived from its body at index time."""
    return doc.get("lead") or (doc.get("extra") or {}).get("derived_lead", "")


def _facet_column(corpus: Corpus, name: str) -> tuple[np.ndarray, list[str]]:
    """A facet's (codes, labels): ``year`` is a NUMERIC field, decoded to its values; the others are text."""
    return corpus.labelled(name, translate=name == "year")


class SearchEngine:
    """Searches one index root; safe to share between threads."""

    def __init__(
        self,
        store: IndexStore,
        config: RankingConfig | None = None,
        snippet_chars: int = 120,
        fragments: int = 2,
        synonyms: Synonyms | None = None,
        max_window: int = MAX_RESULT_WINDOW,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.reranker = reranker  # reorders the head of a relevance ranking (None: the hand-tuned order)
        self.max_window = max_window
        self.analyzer = store.analyzer
        self.config = config or RankingConfig()
        self.snippet_chars = snippet_chars
        self.fragments = fragments
        self.synonyms = synonyms or Synonyms.load(self.analyzer.normalizer.text)
        self._vocab: tuple[Any, Vocabulary] | None = None
        self._corpora: dict[Any, Corpus] = {}
        self._by_searcher: weakref.WeakKeyDictionary[Any, Corpus] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._vocab_lock = threading.Lock()

    def warm(self) -> None:
        """Load the segmenter, the scoring arrays and the pinyin vocabulary before the first reader."""
        try:
            searcher = self.store.searcher()
            corpus = self.corpus(searcher)
            for name in ("title", "lead", "body", "meta", "title_bg", "body_bg"):
                corpus.inverse_norms(name)
            for name in ("title", "lead", "body"):  # where latin words expand as prefixes
                corpus.latin_lexicon(name)
            corpus.column("published")
            for name in FACETS:  # ~0.15 s on xwlb: the first faceted search of a worker paid it
                _facet_column(corpus, name)
            self.search("新闻 衡阳")
            self.vocabulary(searcher)
        except Exception:  # no index yet, or a mismatch: the first request will say so
            pass

    # --- the query ---------------------------------------------------------

    def plan(self, parsed: ParsedQuery) -> Plan:
        """Turn a parsed query into what scoring and filtering need."""
        a, weights = self.analyzer, self.config.weights
        words, synonyms = word_plans(a, parsed.text, weights, self.synonyms.of)
        required: list[Q.Query] = []
        required_words: list[WordPlan] = []
        terms = [w.word for w in words if w.counts] + synonyms
        for phrase in parsed.phrases:
            if (clause := phrase_clause(a, phrase, weights)) is not None:
                required.append(clause)
                phrase_words, _ = word_plans(a, phrase, weights)
                words += phrase_words
                terms.append(a.normalizer.text(phrase))
        for text in parsed.title:
            for tok in content_words(a, text):
                plan = word_plan(
                    a, tok.text, Weights(title=weights.title, lead=0, body=0, meta=0, bigram=weights.bigram)
                )
                plan.sources = [s for s in plan.sources if s.field in ("title", "title_bg")]
                required_words.append(plan)
                words.append(plan)
                terms.append(tok.text)
        allow: list[Q.Query] = []
        for name, values in (("source", parsed.source), ("channel", parsed.channel)):
            if values:
                allow.append(Q.Or([Q.Term(name, v) for v in values]))
        for author in parsed.author:
            allow.append(Q.Term("authors", author.lower()))
        if parsed.after or parsed.before:
            start = parsed.after.astimezone(timezone.utc).replace(tzinfo=None) if parsed.after else None
            end = parsed.before.astimezone(timezone.utc).replace(tzinfo=None) if parsed.before else None
            allow.append(Q.DateRange("published", start, end))
        allowed = (Q.And(allow) if len(allow) > 1 else allow[0]) if allow else None
        exclude = [word_plans(a, text, weights)[0] for text in parsed.exclude]
        preferred = [c for text in parsed.emphasis if (c := phrase_clause(a, text, weights)) is not None]
        exclude_phrases = [c for text in parsed.exclude if (c := phrase_clause(a, text, weights)) is not None]
        return Plan(
            words,
            terms,
            required,
            required_words,
            allowed,
            [e for e in exclude if e],
            parsed.text,
            preferred,
            exclude_phrases=exclude_phrases,
        )

    def corpus(self, searcher: Any) -> Corpus:
        """Scoring arrays for the index version ``searcher`` reads (shared by threads).

        The corpus opens a reader of its own: a thread's searcher is closed when
        that thread moves to a new generation, and must not take others' arrays with it.
        """
        corpus = self._by_searcher.get(searcher)  # a searcher reads one version: looked up once
        if corpus is not None:
            return corpus
        name = self.store.generation_of(searcher)
        key = (name, searcher.reader().generation(), searcher.doc_count_all(), searcher.doc_count())
        with self._lock:
            corpus = self._corpora.get(key)
            if corpus is None:
                corpus = Corpus(self.store.open(name, check=False).searcher())
                self._corpora[key] = corpus
                while len(self._corpora) > 2:  # the current version and the one before
                    self._corpora.pop(next(iter(self._corpora)))
            self._by_searcher[searcher] = corpus
        return corpus

    def _match(self, corpus: Corpus, searcher: Any, plan: Plan, need: int | None) -> Matched:
        """Score every document and pick candidates; ``need`` words must match (None: ``min_match``)."""
        first = None
        base_words = 0
        if plan.words:
            scores, matched, per_word = corpus.score(plan.words)
            base_words = sum(w.counts for w in plan.words) - len(plan.required_words)
            need = min_match(base_words) if need is None else min(need, base_words)
            if base_words:
                # Short queries: documents with every word; partial matches only
                # fill a thin first page, after them. Long queries (headlines,
                # questions): BM25F alone decides, since the article sought may
                # lack a word or two and generic question words must not outrank
                # the rare word that names the subject.
                candidates = matched >= 1
                if base_words <= TIERED_FROM_WORDS:
                    first = matched >= max(need, 1)
                    if int((first & corpus.live).sum()) >= FILL_TO:
                        candidates = first.copy()
                    else:  # a thin page: partial matches (parts of words, bigrams) fill it, after
                        candidates = scores > 0
            else:
                candidates = np.ones(corpus.n, dtype=bool)
        else:
            scores, per_word = np.zeros(corpus.n, dtype=np.float32), []
            candidates = np.ones(corpus.n, dtype=bool)
        candidates &= corpus.live
        for required in plan.required_words:
            candidates &= corpus.score([required])[1] > 0
        for query in plan.required:
            candidates &= corpus.docs(searcher, query, exact=lambda q: self._phrase_docs(corpus, q))
        if plan.allowed is not None:
            candidates &= corpus.docs(searcher, plan.allowed)
        for excluded in plan.exclude:
            candidates &= corpus.score(excluded)[1] < len(excluded)
        for query in plan.exclude_phrases:
            candidates &= ~corpus.docs(searcher, query, exact=lambda q: self._phrase_docs(corpus, q))
        if not (plan.words and base_words):
            return Matched(scores, candidates, per_word, first)
        # Enough of the query (min_match) in one candidate, not through the any-word fallback:
        # one pass over the collection, a second only when ``need`` asks for more than that.
        least = min_match(base_words)
        enough = bool(((matched >= least) & candidates).any())
        complete = enough if need == least else need > least and bool(((matched >= need) & candidates).any())
        return Matched(scores, candidates, per_word, first, relaxed=not enough, complete=complete)

    def _phrase_docs(self, corpus: Corpus, query: Q.Query) -> np.ndarray | None:
        """The documents of an exact phrase clause (``phrase_clause``) found by ``Corpus.phrase_docs``; None for Whoosh to find.

        A phrase of one run of CJK characters is a Whoosh phrase of its
        bigrams at consecutive positions, in the title or the body (of two
        characters, a term: its postings); any other (a latin word or a lone
        character inside: gaps between positions) is left to Whoosh.
        """
        parts = query.subqueries if isinstance(query, Q.Or) else [query]
        found = []
        for part in parts:
            if type(part) is Q.Term and part.fieldname in ("title_bg", "body_bg"):  # a phrase of one bigram
                found.append(corpus.term_tf(part.fieldname, part.text)[0])
                continue
            grams = getattr(part, "words", None)
            if type(part) is not Q.Phrase or part.slop != 1 or part.fieldname not in ("title_bg", "body_bg"):
                return None
            run = grams[0] + "".join(g[1:] for g in grams[1:])
            if any(len(g) != 2 or g[0] != run[i] for i, g in enumerate(grams)) or not is_cjk_run(run):
                return None
            found.append(corpus.phrase_docs(part.fieldname, run, self.analyzer.normalizer.text))
        return reduce(np.union1d, found) if found else None

    def _run(self, searcher: Any, parsed: ParsedQuery) -> tuple[Plan, Matched]:
        """Search; when nothing matches enough words, relax to any word."""
        corpus = self.corpus(searcher)
        plan = self.plan(parsed)
        if not plan.words and not plan.required and plan.allowed is None:
            return plan, Matched(np.zeros(0, dtype=np.float32), np.zeros(0, dtype=bool), [])
        matched = self._match(corpus, searcher, plan, None)
        if not matched.total and len(plan.words) > 1:
            matched = self._match(corpus, searcher, plan, 1)
        return plan, matched

    # --- searching ---------------------------------------------------------

    def search(
        self,
        q: str,
        page: int = 1,
        size: int = 10,
        sort: str = "relevance",
        channel: str | None = None,
        source: str | None = None,
        author: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        explain: bool = False,
        facets: bool = False,
        collapse: bool = True,
        snippets: bool = True,
    ) -> SearchResults:
        """Run one search; raise ``QueryError`` for invalid parameters."""
        started = time.perf_counter()
        if page < 1:
            raise QueryError("page", "must be 1 or more")
        if size < 1:
            raise QueryError("size", "must be 1 or more")
        if sort not in SORTS:
            raise QueryError("sort", f"must be one of {', '.join(SORTS)}")
        if page * size > self.max_window:
            raise QueryError(
                "page",
                f"page × size must be at most {self.max_window}: results beyond the first {self.max_window} "
                f"are not paged (asked for page {page} of size {size})",
            )
        parsed = bound_query(parse_query((q or "")[:MAX_QUERY_TEXT]))
        parsed.channel += [channel] if channel else []
        parsed.source += [source] if source else []
        parsed.author += [author] if author else []
        parsed.after = date_from or parsed.after
        parsed.before = date_to or parsed.before
        results = SearchResults(query=q, total=0, page=page, size=size, hits=[])
        if parsed.is_empty():
            results.took_ms = (time.perf_counter() - started) * 1000
            return results
        searcher = self.store.searcher()
        plan, matched = self._run(searcher, parsed)
        total = matched.total
        if parsed.phrases and total < PHRASE_FEW:
            # An explicit phrase that finds nothing, or far fewer than its words:
            # its words, with the documents holding it as written first.
            relaxed = parsed.without_quotes()
            alt_plan, alt = self._run(searcher, relaxed)
            if alt.total > total * PHRASE_FEWER:
                alt_plan.strict_preference = True
                results.inexact, results.inexact_total = list(parsed.phrases), total
                plan, matched, total, parsed = alt_plan, alt, alt.total, relaxed
        pinyin = looks_like_pinyin(parsed.text)
        # Letters the index does not know as words (chang'e-5 matched PM2.5 on its 5) are pinyin first.
        beaten = 0 if pinyin and self._pinyin_first(searcher, parsed.text) else total
        pinyin_case = pinyin and beaten < 3 and (beaten == 0 or bool(_PLAIN_PINYIN.fullmatch(parsed.text.lower())))
        # Nothing or little: a rewrite (nothing, or pinyin) or a did-you-mean (a typo with results).
        if total < 3 or pinyin_case:
            for text, reason in self._recoveries(searcher, parsed):
                alt_plan, alt = self._run(searcher, parsed.with_text(text))
                alt_total = alt.total
                if alt_total > (beaten if reason == "pinyin" else total):
                    if total == 0 or (reason == "pinyin" and pinyin_case):
                        plan, matched = alt_plan, alt
                        total = alt_total
                        results.rewritten, results.rewrite_reason = text, reason
                    else:
                        results.suggestion = text
                    break
        if total and not results.rewritten and parsed.text and self._traditional(parsed.text):
            results.rewritten, results.rewrite_reason = self.analyzer.normalizer.text(parsed.text), "traditional"
        results.terms = plan.terms
        results.relaxed = matched.relaxed
        corpus = self.corpus(searcher)
        results.weak, results.missing = self._weak(corpus, plan, matched)
        # Stop words are never shown as the answer; nor is anything of a weak answer.
        shown_terms = [] if results.weak else [t for t in plan.terms if not self.analyzer.is_stopword(t)]
        results.total = total
        if (page - 1) * size < total:  # a page past every match costs nothing more
            shown, folded, extras = self._page(corpus, searcher, plan, matched, sort, page, size, collapse, explain)
            results.total = total - folded
            wanted = explain and sort == "relevance" and bool(plan.words)
            for docnum, score, dups, boost in shown:
                parts = (
                    {**self._parts(corpus, plan, matched, docnum, boost), **extras.get(docnum, {})} if wanted else None
                )
                results.hits.append(self._hit(corpus, docnum, score, dups, parts, shown_terms if snippets else None))
        if facets and total:
            results.facets = self._facets(corpus, matched.candidates)
        results.took_ms = (time.perf_counter() - started) * 1000
        return results

    def _rank(
        self,
        corpus: Corpus,
        searcher: Any,
        plan: Plan,
        matched: Matched,
        sort: str,
        needed: int,
        explain: bool = False,
    ) -> Ranked:
        """The top ``needed`` candidates (``CANDIDATES`` at least), best first: BM25F, proximity and recency, or newest first.

        Arrays only: a page's hits are made for the page (``Ranked.slice``), whatever its depth. A
        learned re-ranker (``RANKER_MODEL``, off by default) reorders the head (``search.rerank``).
        """
        ids = np.flatnonzero(matched.candidates)
        if not len(ids):
            return Ranked.empty()
        window = max(CANDIDATES, needed + CANDIDATES // 2)
        published, _ = corpus.column("published")
        if sort == "date" or not plan.words:
            order = ids[ranking.top(published[ids], window)]
            return Ranked(order, np.zeros(len(order)), np.ones(len(order)))
        final = ranking.final_scores(matched.scores[ids], published[ids], self.config)
        # Order key: documents meeting min-should-match first (long queries), then the score.
        first = matched.first[ids] if matched.first is not None else np.zeros(len(ids), dtype=bool)
        held = np.zeros(len(ids), dtype=np.int32)
        for clause in plan.preferred:  # emphasis: documents holding the quoted run as written
            held += corpus.docs(searcher, clause, exact=lambda q: self._phrase_docs(corpus, q))[ids]
        if plan.strict_preference:
            first = held > 0
        elif plan.preferred:
            final = final * np.power(ranking.PHRASE_PREFERENCE, held, dtype=np.float64)
        key = final + first * (float(final.max()) + 1.0)
        order = ranking.top(key, window)
        top, base, firsts = ids[order], final[order], first[order]
        boosted = self._proximity(corpus, plan, top[: ranking.PROXIMITY_DEPTH].tolist())
        boosts = np.ones(len(top))
        if boosted:
            boosts[: ranking.PROXIMITY_DEPTH] = [boosted.get(d, 1.0) for d in top[: ranking.PROXIMITY_DEPTH].tolist()]
        scores = base * boosts
        resort = np.lexsort((-scores, ~firsts))  # stable: firsts, then the boosted score
        ranked = Ranked(top[resort], scores[resort], boosts[resort])
        if self.reranker is not None and self.reranker.wanted(explain):  # a learned order, or features for --explain
            tiers = dict.fromkeys(top[firsts].tolist(), True)
            runs = dict(zip(top.tolist(), held[order].tolist(), strict=True))
            grams = tuple(dict.fromkeys(t.text for t in self.analyzer.bigrams(plan.text))) if plan.text else ()
            evidence = Evidence(corpus, plan.words, matched.scores, matched.per_word, tiers, runs, boosted, grams)
            ranked = ranked.reranked(self.reranker, evidence, explain)
        return ranked

    def _parts(self, corpus: Corpus, plan: Plan, matched: Matched, docnum: int, boost: float) -> dict[str, Any]:
        """The parts of one hit's score (``--explain``)."""
        published, _ = corpus.column("published")
        return ranking.explain(
            float(matched.scores[docnum]),
            int(published[docnum]),
            self.config,
            boost,
            {w.word: round(s.at(docnum), 4) for w, s in zip(plan.words, matched.per_word, strict=False)},
        )

    def _proximity(self, corpus: Corpus, plan: Plan, docnums: list[int]) -> dict[int, float]:
        """Boost documents whose title or body holds the query as written.

        Three signals, strongest first: the whole title stands in the query
        (an entity page: 德龙烟铁路 for 德龙烟铁路经过哪些地方), the query stands
        in the title, the query stands in the body.
        """
        if not plan.text:
            return {}
        needle = ranking.key_text(self.analyzer.normalizer.text(plan.text))
        if len(needle) < 2:
            return {}
        body_needle = needle.encode("utf-8")  # UTF-8 is self-synchronizing: a byte match is a character match
        out = {}
        for d in docnums:
            title = corpus.value("title_text", d).decode("utf-8")
            if len(title) >= 2 and title in needle:
                out[d] = ranking.PROXIMITY_TITLE_IN_QUERY
            elif len(plan.words) > 1 and needle in title:
                out[d] = ranking.PROXIMITY_TITLE
            elif len(plan.words) > 1 and body_needle in corpus.value("body_text", d):
                out[d] = ranking.PROXIMITY_BODY
        return out

    def _weak(self, corpus: Corpus, plan: Plan, matched: Matched) -> tuple[bool, list[str]]:
        """Whether the candidates hold too little of the query to be an answer, and the query words no article holds.

        Costs nothing when some candidate holds enough words (``min_match``).
        Otherwise a query word weighs its idf, and nothing when it says little
        on its own: a stop word, a function or very frequent word of the
        language (``wordclass.generic_words``: 没有, 发展), a lone character
        (词), or a word held by more than ``GENERIC_SHARE`` of the articles
        (衡阳 on a Hengyang site).
        The answer is weak when the words that some article holds weigh
        nothing (没有这个词xyzzy, 衡阳 xyzzy), or when no candidate holds
        ``WEAK_SHARE`` of their weight. Words no article holds do not count
        (C919首飞 finds C919's first flights without 首飞) but are reported,
        and a query of stop words alone is weak.
        """
        words = [w for w in plan.words if w.counts]
        if not words or not matched.total:
            return False, []
        if all(self.analyzer.is_stopword(w.word) for w in words):
            return True, []
        if matched.complete:
            return False, []
        generic = generic_words()
        live = int(corpus.live.sum())
        held = np.zeros(corpus.n, dtype=np.float64)
        weight, missing = 0.0, []
        for plan_word in words:
            docs, _, hit = corpus.word(plan_word)
            at = np.flatnonzero(hit) if docs is None else docs[hit]
            at = at[corpus.live[at]]
            word = plan_word.word
            if not len(at):
                missing.append(word)
            elif not (
                self.analyzer.is_stopword(word)
                or word in generic
                or (len(word) == 1 and is_cjk_run(word))
                or len(at) > GENERIC_SHARE * live
            ):
                w = ranking.idf(len(at), corpus.n)
                weight += w
                held[at] += w
        if weight <= 0:
            return True, missing
        return float(held[matched.candidates].max()) < WEAK_SHARE * weight, missing

    # --- recovery ----------------------------------------------------------

    def vocabulary(self, searcher: Any | None = None) -> Vocabulary:
        """The pinyin-indexed words of the current index (built once per index version)."""
        searcher = searcher or self.store.searcher()
        key = (self.store.current(), searcher.doc_count_all())
        # Built under its own lock: searches that need no recovery (and the
        # scoring arrays behind ``self._lock``) never wait for it.
        with self._vocab_lock:
            vocab = self._vocab
            if vocab is None or vocab[0] != key:
                vocab = (key, Vocabulary.from_reader(searcher.reader()))
                self._vocab = vocab
            return vocab[1]

    def _recoveries(self, searcher: Any, parsed: ParsedQuery) -> list[tuple[str, str]]:
        """Rewrites worth trying when a query finds nothing (or little): pinyin, then homophone typos."""
        text = parsed.text
        if not text:
            return []
        vocab = self.vocabulary(searcher)
        out = []
        initials = bool(_PLAIN_PINYIN.fullmatch(text.lower()))  # yq; not the stb of stb-cz50
        if looks_like_pinyin(text) and (chinese := vocab.from_pinyin(text, initials=initials)):
            out.append((chinese, "pinyin"))
        words = [t.text for t in content_words(self.analyzer, text)]
        fixed = [vocab.correct(w) or w for w in words]
        if fixed != words:
            out.append((" ".join(fixed), "spelling"))
        return out

    def _pinyin_first(self, searcher: Any, text: str) -> bool:
        """Whether letters are pinyin before latin: a run of them the index does not hold as a word, and
        every run whole syllables (``chang'e-5``, ``5g jizhan``; not ``stb-cz50``, whose ``stb`` is initials)."""
        chunks = [c for c in re.split(r"[\s\-]+", text.lower()) if _LATIN_RUN.fullmatch(c)]
        unknown = any(searcher.doc_frequency(name, c) == 0 for c in chunks for name in ("title", "body"))
        return unknown and self.vocabulary(searcher).from_pinyin(text, initials=False) is not None

    def _traditional(self, text: str) -> bool:
        t2s = self.analyzer.normalizer.t2s
        return any(ch in t2s and t2s[ch] != ch for ch in text)

    def _page(
        self,
        corpus: Corpus,
        searcher: Any,
        plan: Plan,
        matched: Matched,
        sort: str,
        page: int,
        size: int,
        collapse: bool,
        explain: bool = False,
    ) -> tuple[list[tuple[int, float, list[int], float]], int, dict[int, dict[str, Any]]]:
        """Page ``page`` of the ranking as ``(docnum, score, reprints, boost)``, how many hits were folded,
        and a learned re-ranker's parts of the head's hits for ``--explain`` (``Ranked.extras``).

        With ``collapse``, the ranking pages through is the first
        ``collapse_head(size)`` hits with reprints folded into the best-ranked
        copy, then the hits after them in order, each page of those folding the
        reprints it holds (so it may show fewer than ``size`` stories, and a
        reprint of a story of the head may show again there, as the big engines'
        deep pages do). Every hit belongs to one page, the head is the same for
        every page, and a page costs the ranking of its positions (numpy) plus
        the collapse of the head and of its own hits: a deep page costs about
        what page 1 costs. Folded hits are subtracted from the total for the head only.
        """
        start, end = (page - 1) * size, page * size
        if not collapse:
            ranked = self._rank(corpus, searcher, plan, matched, sort, end, explain)
            return ranked.slice(start, end), 0, ranked.extras
        head = collapse_head(size)
        # Past the head's stories the page is positions head, head+1, … of the ranking: ``end`` plus
        # what the head folds (fewer than ``head``) at the most, ranked once.
        ranked = self._rank(corpus, searcher, plan, matched, sort, max(head, end + head), explain)
        kept, folded = _fold(corpus, ranked.slice(0, head))
        if end <= len(kept) or len(ranked) <= head:
            return kept[start:end], folded, ranked.extras
        tail_start, tail_end = head + max(0, start - len(kept)), head + end - len(kept)
        shown, _ = _fold(corpus, kept[start:] + ranked.slice(tail_start, tail_end))  # the head's stories are distinct
        return shown, folded, ranked.extras

    def _hit(
        self, corpus: Corpus, docnum: int, score: float, dups: list[int], parts: dict | None, terms: list[str] | None
    ) -> Hit:
        stored = corpus.document(docnum)
        doc = stored.fields
        hit = Hit(
            id=doc["id"],
            title=doc.get("title", ""),
            url=doc.get("url", ""),
            published=iso(doc.get("published")),
            source=doc.get("source", ""),
            channel=doc.get("channel", ""),
            score=score,
            explain=parts,
        )
        if terms is None:  # no snippets wanted (evaluation, exports)
            return hit
        normalizer = self.analyzer.normalizer

        def normalize(text: str) -> tuple[str, list[int] | None]:
            # the title's and body's normalized texts are kept with the cached document;
            # the index holds the body's (the proximity boost reads it)
            if text is doc.get("body"):
                return stored.normalized(
                    "body", lambda body: corpus.normalized_from("body_text", docnum, body, normalizer)
                )
            if text is doc.get("title"):
                return stored.normalized("title", normalizer)
            return normalizer(text)

        hit.snippet = highlight(
            doc.get("body", ""), terms, normalize, self.snippet_chars, self.fragments, fallback=lead_of(doc)
        )
        hit.title_html = highlight(hit.title, terms, normalize, max(len(hit.title), 1), 1) if hit.title else ""
        hit.duplicates = [brief(corpus.stored(other)) for other in dups]
        return hit

    def _facets(self, corpus: Corpus, candidates: np.ndarray) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for name in FACETS:
            codes, labels = _facet_column(corpus, name)
            counts = np.bincount(codes[candidates], minlength=len(labels))
            pairs = [(labels[i], int(counts[i])) for i in np.flatnonzero(counts).tolist() if labels[i]]
            pairs.sort(key=lambda kv: (-kv[1], kv[0]))
            out[name] = dict(pairs[:20])
        return out

    # --- articles ----------------------------------------------------------

    def latest(self, per_channel: int = 5, channels: int = 6) -> list[dict[str, Any]]:
        """The newest articles by channel: ``[{"channel", "articles": [{"id", "title", "published", "source"}]}]``.

        Looks at the newest ``LATEST_POOL`` live articles only (one partition of
        the date column, whatever the index's size); channels with the most of
        them come first (then the one with the newest article). Articles without
        a channel are left out.
        """
        searcher = self.store.searcher()
        corpus = self.corpus(searcher)
        published, _ = corpus.column("published")
        codes, labels = _facet_column(corpus, "channel")
        live = np.flatnonzero(corpus.live)
        if not len(live):
            return []
        newest = live[ranking.top(published[live], min(LATEST_POOL, len(live)))]
        groups: dict[int, list[int]] = {}  # in the order of their newest article
        for docnum in newest.tolist():
            code = int(codes[docnum])
            if labels[code]:
                groups.setdefault(code, []).append(docnum)
        order = list(groups)
        busiest = sorted(order, key=lambda c: (-len(groups[c]), order.index(c)))[:channels]
        out = []
        for code in busiest:
            articles = [brief(corpus.stored(d), BRIEF[:4]) for d in groups[code][:per_channel]]
            out.append({"channel": labels[code], "articles": articles})
        return out

    def live_docnum(self, searcher: Any, article_id: str) -> int | None:
        """The document number of the live article with this id, or None (unknown or deleted)."""
        docnum = searcher.document_number(id=article_id)
        return None if docnum is None or searcher.reader().is_deleted(docnum) else docnum

    def article(self, article_id: str) -> dict[str, Any] | None:
        """Return the stored article with this id, or None."""
        searcher = self.store.searcher()
        docnum = self.live_docnum(searcher, article_id)
        if docnum is None:
            return None
        stored = dict(searcher.stored_fields(docnum))
        doc = {**stored, "published": iso(stored.get("published")), "summary": lead_of(stored)}
        doc.pop("signature", None)
        doc.pop("extra", None)
        doc.setdefault("lead", "")
        return doc
