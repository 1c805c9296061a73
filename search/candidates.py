"""Candidates: which documents answer a plan, in which tier, and whether they answer it at all.

``find`` scores the query's words (``Corpus.score_deferred``: BM25F and
matched-word counts of every document, common words' scores deferred to
``ordering.contenders``) and picks the candidates (``match``): short queries put documents
with every word in a first tier (partial matches fill a thin page after
them), long ones let BM25F decide; required phrases and title words,
filters and exclusions narrow them. Exact phrases of CJK text are found
on the index's normalized texts (``phrase_docs``), others by Whoosh.
``weak`` tells whether the candidates hold too little of the query to be
an answer. The constants are in ``search.ranking``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, reduce
from typing import Any

import numpy as np
from whoosh import query as Q

from .analysis import Analyzer, PhraseFinder, is_cjk_run
from .plan import Plan
from .query import min_match
from .ranking import FILL_TO, GENERIC_SHARE, TIERED_FROM_WORDS, WEAK_SHARE, idf
from .scoring import Corpus, Scoring, WordScores
from .wordclass import generic_words


@dataclass
class Matched:
    """The words' scores (``Scoring``), which documents are candidates, and in which order tier."""

    scoring: Scoring
    candidates: np.ndarray
    first: np.ndarray | None = None  # short queries: documents holding every word (min-should-match)
    relaxed: bool = False  # no candidate matches ``min_match`` of the words (hot searches skip these)
    complete: bool = False  # some candidate holds enough query words (``min_match``)

    @property
    def total(self) -> int:
        return int(self.candidates.sum())

    @property
    def scores(self) -> np.ndarray:
        """Every document's BM25F (exact where ``ordering.rank`` looks: see ``Scoring``)."""
        return self.scoring.scores

    @property
    def per_word(self) -> list[WordScores]:
        return self.scoring.per_word


def find(corpus: Corpus, searcher: Any, plan: Plan, normalize: Callable[[str], str]) -> Matched:
    """The candidates of a plan; when nothing matches enough words, relaxed to any word."""
    if not plan.words and not plan.required and plan.allowed is None:
        return Matched(corpus.score_deferred([]), np.zeros(corpus.n, dtype=bool))
    matched = match(corpus, searcher, plan, normalize)
    if not matched.total and len(plan.words) > 1:
        matched = match(corpus, searcher, plan, normalize, 1)
    return matched


def match(
    corpus: Corpus, searcher: Any, plan: Plan, normalize: Callable[[str], str], need: int | None = None
) -> Matched:
    """Score every document and pick candidates; ``need`` words must match (None: ``min_match``).

    ``normalize``: the index's text normalizer (exact phrases are checked on normalized text).
    """
    exact = partial(phrase_docs, corpus, searcher, normalize=normalize)
    first = None
    base_words = 0
    if plan.words:
        scoring = corpus.score_deferred(plan.words)
        matched = scoring.matched
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
                    candidates = scoring.scored()
        else:
            candidates = np.ones(corpus.n, dtype=bool)
    else:
        scoring = corpus.score_deferred([])
        candidates = np.ones(corpus.n, dtype=bool)
    candidates &= corpus.live
    for required in plan.required_words:
        candidates &= corpus.score_deferred([required]).matched > 0
    for query in plan.required:
        candidates &= corpus.docs(searcher, query, exact=exact)
    if plan.allowed is not None:
        candidates &= corpus.docs(searcher, plan.allowed)
    for excluded in plan.exclude:
        candidates &= corpus.score_deferred(excluded).matched < len(excluded)
    for query in plan.exclude_phrases:
        candidates &= ~corpus.docs(searcher, query, exact=exact)
    if not (plan.words and base_words):
        return Matched(scoring, candidates, first)
    # Enough of the query (min_match) in one candidate, not through the any-word fallback:
    # one pass over the collection, a second only when ``need`` asks for more than that.
    least = min_match(base_words)
    enough = bool(((matched >= least) & candidates).any())
    complete = enough if need == least else need > least and bool(((matched >= need) & candidates).any())
    return Matched(scoring, candidates, first, relaxed=not enough, complete=complete)


def phrase_docs(corpus: Corpus, searcher: Any, query: Q.Query, normalize: Callable[[str], str]) -> np.ndarray | None:
    """The documents of an exact phrase clause (``phrase_clause``); None when ``query`` is not one.

    A phrase of one bigram is a term (its postings). Any other is found on
    the index's normalized texts (``Corpus.phrase_docs``) from its tokens and
    their positions: a Whoosh phrase of a run's bigrams at consecutive
    positions, or a chain of near clauses for a latin word or a lone
    character inside (5G基站: 5g@0 基站@2). The body's bigrams keep no
    positions; the title's do, and Whoosh lines up its phrases of more than
    one run.
    """
    parts = query.subqueries if isinstance(query, Q.Or) else [query]
    found = []
    for part in parts:
        if type(part) is Q.Term and part.fieldname in ("title_bg", "body_bg"):  # a phrase of one bigram
            found.append(corpus.term_tf(part.fieldname, part.text)[0])
            continue
        placed = phrase_tokens(part)
        if placed is None or placed[0] not in ("title_bg", "body_bg"):
            return None
        fieldname, tokens = placed
        phrase = PhraseFinder(tokens)
        if fieldname == "title_bg" and phrase.plain is None:
            found.append(np.fromiter(searcher.docs_for_query(part), dtype=np.int32))
        else:
            found.append(corpus.phrase_docs(fieldname, phrase, normalize))
    return reduce(np.union1d, found) if found else None


def phrase_tokens(query: Q.Query) -> tuple[str, list[tuple[str, int]]] | None:
    """The field, tokens and positions of an exact phrase clause (``words.phrase_clause``; None: another query).

    A Whoosh phrase puts its words at consecutive positions; a near clause
    with ``slop == mindist`` puts its right term, of the same field, exactly
    that far past the left clause's last token.
    """
    if type(query) is Q.Term:
        return query.fieldname, [(query.text, 0)]
    if type(query) is Q.Phrase and query.slop == 1:
        return query.fieldname, [(word, i) for i, word in enumerate(query.words)]
    if isinstance(query, Q.SpanNear) and query.ordered and query.slop == query.mindist and type(query.b) is Q.Term:
        head = phrase_tokens(query.a)
        if head is not None and head[0] == query.b.fieldname:
            fieldname, tokens = head
            return fieldname, [*tokens, (query.b.text, tokens[-1][1] + query.slop)]
    return None


def weak(analyzer: Analyzer, corpus: Corpus, plan: Plan, matched: Matched) -> tuple[bool, list[str]]:
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
    if all(analyzer.is_stopword(w.word) for w in words):
        return True, []
    if matched.complete:
        return False, []
    generic = generic_words()
    live = int(corpus.live.sum())
    held = np.zeros(corpus.n, dtype=np.float64)
    weight, missing = 0.0, []
    for plan_word in words:
        at = corpus.word_hits(plan_word)
        at = at[corpus.live[at]]
        word = plan_word.word
        if not len(at):
            missing.append(word)
        elif not (
            analyzer.is_stopword(word)
            or word in generic
            or (len(word) == 1 and is_cjk_run(word))
            or len(at) > GENERIC_SHARE * live
        ):
            w = idf(len(at), corpus.n)
            weight += w
            held[at] += w
    if weight <= 0:
        return True, missing
    return float(held[matched.candidates].max()) < WEAK_SHARE * weight, missing
