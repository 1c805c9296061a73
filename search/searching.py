"""Searching: a query string and options in, ranked hits with snippets out.

``SearchEngine`` is a façade over the stages of a search, each a module
passing a typed value to the next; ``search`` reads top to bottom:

parse (``search.query``) → plan (``search.plan``: a ``Plan``) → candidates
(``search.candidates``: a ``Matched``, relaxed to any word when nothing
matches; an explicit phrase finding little relaxed to its words; pinyin and
typos recovered, ``search.recovery``) → ranking (``search.ordering``: a
``Ranked``; the constants and formulas in ``search.ranking``, BM25F in
``search.scoring``) → collapsing of reprints and the page
(``search.collapse``) → hits with snippets (``search.hits``) → facets
(``search.facets``).

The engine keeps what lasts between searches: the scoring arrays of the
current index version (``corpus``) and its pinyin vocabulary.

A request's cost is bounded by what it shows (docs/bounds.md): only the
first ``max_window`` results are paged (``page * size`` beyond it is a
``QueryError``), ranking is numpy up to the page's last position, reprints
are collapsed within the head and the page, snippets are made for the page
only, and a page past every match is answered without ranking anything.
"""

from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime
from functools import partial
from typing import Any

from . import ordering
from .candidates import Matched, find, weak
from .collapse import page_of
from .facets import FACETS, count_facets, facet_column, latest
from .hits import SearchResults, SnippetOptions, iso, lead_of, make_hit
from .index import IndexStore
from .ordering import explain_parts
from .plan import Plan, make_plan
from .query import ParsedQuery, bound_query, parse_query
from .ranking import PHRASE_FEW, PHRASE_FEWER, RankingConfig
from .recovery import PLAIN_PINYIN, Synonyms, Vocabulary, is_traditional, looks_like_pinyin, pinyin_first, rewrites
from .rerank import Reranker
from .scoring import Corpus
from .wordclass import generic_words

SORTS = ("relevance", "date")
MAX_QUERY_TEXT = 2000  # characters of a query the engine reads (the web layer rejects much less)
MAX_RESULT_WINDOW = 1000  # results a search pages through (the MAX_RESULT_WINDOW setting)


class QueryError(ValueError):
    """A search parameter is invalid; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class SearchEngine:
    """Searches one index root; safe to share between threads.

    Over 150 lines for one reason: ``search`` is kept as one function that
    reads top to bottom (the stages in order, with the relaxations and
    rewrites between them), the way a reader follows a query through.
    """

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
        self.snippets = SnippetOptions(self.analyzer.normalizer, snippet_chars, fragments)
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
                corpus.infix_lexicon(name)  # and its latin lexicon
            corpus.column("published")
            for name in FACETS:  # ~0.15 s on xwlb: the first faceted search of a worker paid it
                facet_column(corpus, name)
            generic_words()  # ~0.45 s reading jieba's dictionary: the first weak answer of a worker paid it
            self.search("新闻 衡阳")
            self.vocabulary(searcher)
        except Exception:  # no index yet, or a mismatch: the first request will say so
            pass

    # --- the index version ------------------------------------------------

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

    # --- searching ---------------------------------------------------------

    def plan(self, parsed: ParsedQuery) -> Plan:
        """Turn a parsed query into what scoring and filtering need (``plan.make_plan``)."""
        return make_plan(self.analyzer, parsed, self.config.weights, self.synonyms.of)

    def _run(self, searcher: Any, parsed: ParsedQuery) -> tuple[Plan, Matched]:
        """Plan a parsed query and find its candidates (relaxed to any word when nothing matches enough)."""
        plan = self.plan(parsed)
        return plan, find(self.corpus(searcher), searcher, plan, self.analyzer.normalizer.text)

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
        vocabulary = partial(self.vocabulary, searcher)
        beaten = 0 if pinyin and pinyin_first(searcher, vocabulary, parsed.text) else total
        pinyin_case = pinyin and beaten < 3 and (beaten == 0 or bool(PLAIN_PINYIN.fullmatch(parsed.text.lower())))
        # Nothing or little: a rewrite (nothing, or pinyin) or a did-you-mean (a typo with results).
        if total < 3 or pinyin_case:
            for text, reason in rewrites(self.analyzer, vocabulary, parsed.text):
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
        traditional = bool(parsed.text) and is_traditional(self.analyzer.normalizer.t2s, parsed.text)
        if total and not results.rewritten and traditional:
            results.rewritten, results.rewrite_reason = self.analyzer.normalizer.text(parsed.text), "traditional"
        results.terms = plan.terms
        results.relaxed = matched.relaxed
        corpus = self.corpus(searcher)
        results.weak, results.missing = weak(self.analyzer, corpus, plan, matched)
        # Stop words are never shown as the answer; nor is anything of a weak answer.
        shown_terms = [] if results.weak else [t for t in plan.terms if not self.analyzer.is_stopword(t)]
        results.total = total
        if (page - 1) * size < total:  # a page past every match costs nothing more
            rank = partial(
                ordering.rank, corpus, searcher, self.analyzer, self.config, plan, matched, sort,
                reranker=self.reranker, explain=explain,
            )  # fmt: skip
            shown, folded, extras = page_of(corpus, rank, page, size, collapse)
            results.total = total - folded
            wanted = explain and sort == "relevance" and bool(plan.words)
            for docnum, score, dups, boost in shown:
                parts = (
                    {**explain_parts(corpus, self.config, plan, matched, docnum, boost), **extras.get(docnum, {})}
                    if wanted
                    else None
                )
                terms = shown_terms if snippets else None
                results.hits.append(make_hit(corpus, docnum, score, dups, parts, terms, self.snippets))
        if facets and total:
            results.facets = count_facets(corpus, matched.candidates)
        results.took_ms = (time.perf_counter() - started) * 1000
        return results

    # --- articles ----------------------------------------------------------

    def latest(self, per_channel: int = 5, channels: int = 6) -> list[dict[str, Any]]:
        """The newest articles by channel (``facets.latest``)."""
        return latest(self.corpus(self.store.searcher()), per_channel, channels)

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
