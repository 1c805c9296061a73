"""Ordering: candidates → the top of the ranking, best first (a ``Ranked``).

``rank`` orders the candidates by their final score (BM25F × the recency
prior, ``ranking.final_scores``), documents of the first tier first, those
holding a preferred phrase as written ahead (``ranking.PHRASE_PREFERENCE``),
then boosts the head whose title or body holds the query as written
(``proximity``). A learned re-ranker, when configured, reorders the head
(``search.rerank``). ``explain_parts`` breaks one hit's score into its parts.
Arrays only: hits are made for the page shown (``Ranked.slice``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from . import ranking
from .analysis import Analyzer
from .candidates import Matched, phrase_docs
from .plan import Plan
from .ranking import CANDIDATES, RankingConfig
from .rerank import Evidence, Reranker
from .scoring import BOUND_MARGIN, Corpus, Scoring

RESOLVE_SHARE = 16  # a deferred word is scored for the contenders up to 1/16 of the documents, past that for all
FEW_CONTENDERS = 4  # bounds are tightened word by word until the contenders are 4 windows or fewer


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


def rank(
    corpus: Corpus,
    searcher: Any,
    analyzer: Analyzer,
    config: RankingConfig,
    plan: Plan,
    matched: Matched,
    sort: str,
    needed: int,
    reranker: Reranker | None = None,
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
    # Order key: documents holding every word first (short queries), then the score.
    first = matched.first[ids] if matched.first is not None else np.zeros(len(ids), dtype=bool)
    held = np.zeros(len(ids), dtype=np.int32)
    exact = partial(phrase_docs, corpus, searcher, normalize=analyzer.normalizer.text)
    for clause in plan.preferred:  # emphasis: documents holding the quoted run as written
        held += corpus.docs(searcher, clause, exact=exact)[ids]
    if plan.strict_preference:
        first = held > 0
    preference = (
        np.power(ranking.PHRASE_PREFERENCE, held, dtype=np.float64)
        if plan.preferred and not plan.strict_preference
        else None
    )
    if matched.scoring.deferred:  # common words scored where they can matter
        at = contenders(matched.scoring, ids, published[ids], first, preference, config, window)
        ids, first, held = ids[at], first[at], held[at]
        preference = preference[at] if preference is not None else None
    final = ranking.final_scores(matched.scores[ids], published[ids], config)
    if preference is not None:
        final = final * preference
    key = final + first * (float(final.max()) + 1.0)
    order = ranking.top(key, window)
    top, base, firsts = ids[order], final[order], first[order]
    boosted = proximity(corpus, analyzer, plan, top[: ranking.PROXIMITY_DEPTH].tolist())
    boosts = np.ones(len(top))
    if boosted:
        boosts[: ranking.PROXIMITY_DEPTH] = [boosted.get(d, 1.0) for d in top[: ranking.PROXIMITY_DEPTH].tolist()]
    scores = base * boosts
    resort = np.lexsort((-scores, ~firsts))  # stable: firsts, then the boosted score
    ranked = Ranked(top[resort], scores[resort], boosts[resort])
    if reranker is not None and reranker.wanted(explain):  # a learned order, or features for --explain
        tiers = dict.fromkeys(top[firsts].tolist(), True)
        runs = dict(zip(top.tolist(), held[order].tolist(), strict=True))
        grams = tuple(dict.fromkeys(t.text for t in analyzer.bigrams(plan.text))) if plan.text else ()
        evidence = Evidence(corpus, plan.words, matched.scores, matched.per_word, tiers, runs, boosted, grams)
        ranked = ranked.reranked(reranker, evidence, explain)
    return ranked


def contenders(
    scoring: Scoring,
    ids: np.ndarray,
    published: np.ndarray,
    first: np.ndarray,
    preference: np.ndarray | None,
    config: RankingConfig,
    window: int,
) -> np.ndarray:
    """Which of the candidates ``ids`` can be among the top ``window`` (positions in ``ids``), their scores
    made exact: MaxScore over arrays.

    A candidate's score is its words' scored so far plus at most the bounds
    of the deferred words it holds (``Scoring.bounds``). The ``window`` best
    by a guess are scored exactly: the last of them is a score the top must
    reach, and only candidates whose bound reaches it are contenders. While
    they are more than ``FEW_CONTENDERS`` windows, the deferred word adding
    most to their bounds has its bound replaced by its scores (of every
    document, ``Scoring.score_word``, while the contenders are more than
    ``1/RESOLVE_SHARE`` of the documents). The contenders are scored exactly
    (``Scoring.resolve``): their top ``window`` is every candidate's, ties
    included. ``published``, ``first`` and ``preference`` (a factor per
    candidate, or None) are of ``ids``, as ``rank`` orders by them.
    """
    n = len(scoring.scores)
    at = np.arange(len(ids))
    if len(ids) > window:
        factor = ranking.prior(published, config)  # final scores are BM25F times this
        if preference is not None:
            factor = factor * preference
        known = scoring.scores[ids].astype(np.float64)  # the words scored; the deferred ones' bounds below
        bounds = scoring.bounds(ids)  # each deferred word's (place, matches among the candidates, bounds)
        reach = (False, -np.inf)  # (tier, final score) the top must reach: the window's last
        sharpen = True  # look for a higher reach: first, and after a word scored for every document
        while len(at) > window:
            extra = np.full(len(at), sum(unmatched for *_, unmatched in bounds), dtype=np.float32)
            guess = np.zeros(len(at), dtype=np.float32)  # half a word's bound where matched
            for _, hit, bound, unmatched in bounds:
                extra += hit * np.float32(bound - unmatched)  # (``np.add`` with ``where=`` is 20× slower)
                if sharpen:
                    guess += hit * np.float32(bound / 2)
            factor_at, tiers = factor[at], first[at]
            high = (known + extra) * factor_at * (1 + BOUND_MARGIN)
            if sharpen:
                estimate = (known + guess) * factor_at
                docs = np.sort(at[ranking.top(estimate + tiers * (float(estimate.max()) + 1.0), window)])
                found = ranking.final_scores(scoring.exact(ids[docs]), published[docs], config)
                if preference is not None:
                    found = found * preference[docs]
                reach = max(reach, min(zip(first[docs].tolist(), found.tolist(), strict=True)))
            keep = tiers & (high >= reach[1]) if reach[0] else tiers | (high >= reach[1])
            at, known = at[keep], known[keep]
            bounds = [(i, hit[keep], bound, unmatched) for i, hit, bound, unmatched in bounds]
            if len(at) <= FEW_CONTENDERS * window or not bounds:
                break
            # the deferred word adding most to the contenders' bounds: its bound replaced by its scores, of
            # every document while the contenders are many (``Scoring.score_word``), else of theirs
            added = [
                bound * (m := int(np.count_nonzero(hit))) + unmatched * (len(hit) - m)
                for _, hit, bound, unmatched in bounds
            ]
            i = bounds.pop(int(np.argmax(added)))[0]
            sharpen = len(at) * RESOLVE_SHARE > n
            word = scoring.score_word(i) if sharpen else scoring.words[i]
            known = known + word.of_docs(ids[at])
    scoring.resolve(ids[at])
    return at


def proximity(corpus: Corpus, analyzer: Analyzer, plan: Plan, docnums: list[int]) -> dict[int, float]:
    """Boost documents whose title or body holds the query as written.

    Three signals, strongest first: the whole title stands in the query
    (an entity page: 德龙烟铁路 for 德龙烟铁路经过哪些地方), the query stands
    in the title, the query stands in the body.
    """
    if not plan.text:
        return {}
    needle = ranking.key_text(analyzer.normalizer.text(plan.text))
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


def explain_parts(
    corpus: Corpus, config: RankingConfig, plan: Plan, matched: Matched, docnum: int, boost: float
) -> dict[str, Any]:
    """The parts of one hit's score (``--explain``)."""
    published, _ = corpus.column("published")
    return ranking.explain(
        float(matched.scores[docnum]),
        int(published[docnum]),
        config,
        boost,
        {w.word: round(s.at(docnum), 4) for w, s in zip(plan.words, matched.per_word, strict=False)},
    )
