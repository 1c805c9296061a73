"""Re-ranking: features of the top candidates, and a learned model that may reorder them.

The hand-tuned ranking (BM25F, proximity, phrase preference, tiers; see
``search.ranking``) orders every candidate. A ``Reranker`` then looks at the
first ``depth`` of them only: ``features`` describes each from what the
scorer already computed (the table ``FEATURES`` names and explains every
column), and a LambdaMART model (LightGBM, trained by
``benchmarks/train_ranker.py`` on the judged dev tasks) scores them. Within
an order tier (documents meeting min-should-match, or holding an explicit
phrase, first) the head is sorted by that score; the rest keeps its order.

A ``Reranker`` without a model computes the features for ``--explain`` and
for training without reordering anything: training and serving share this
one function. See ``docs/learning-to-rank.md`` for the numbers and why the
learned order is not used by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import ranking
from .scoring import Corpus, WordScores, find_sorted
from .words import WordPlan

DEPTH = 30  # candidates the model looks at (the first page and two pages of look-ahead; as ranking.PROXIMITY_DEPTH)

# (name, what it is): one column each, in this order, for every candidate.
FEATURES: tuple[tuple[str, str], ...] = (
    ("rank", "log2(1 + position) in the hand-tuned order"),
    ("score_ratio", "hand-tuned score / the best candidate's (1 for the first)"),
    ("bm25f", "log(1 + the document's BM25F score): how strongly it matches in absolute terms"),
    ("coverage", "share of the query's idf held by the document (counted words with any evidence)"),
    ("words_share", "share of the counted query words with any evidence in the document"),
    ("top_word", "the largest single word's share of the document's BM25F score"),
    (
        "proximity",
        "the query-as-written factor of the hand-tuned ranking: 1.3 title in query or query in title, 1.1 in body",
    ),
    ("phrase", "quoted runs (emphasis) the document holds as written"),
    ("first", "1 in the first order tier (min-should-match met, or an explicit phrase held)"),
    ("title_norm", "1 / BM25 length normalisation of the title (higher: shorter than average)"),
    ("body_norm", "1 / BM25 length normalisation of the body (higher: shorter than average)"),
    ("query_words", "counted words of the query"),
    ("title_grams", "share of the query's character bigrams (and latin words) in the title, whatever the segmentation"),
    ("body_grams", "share of the query's character bigrams (and latin words) in the body"),
    ("title_in_query", "share of the title's character bigrams found in the query (a title that is mostly query)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)


@dataclass
class Evidence:
    """What the hand-tuned ranking computed for one query: the features' inputs."""

    corpus: Corpus
    words: Sequence[WordPlan]
    scores: np.ndarray  # BM25F of every document
    per_word: Sequence[WordScores]
    first: dict[int, bool]  # order tier of the candidates ranked
    held: dict[int, int]  # quoted runs held, of the candidates ranked
    proximity: dict[int, float]  # query-as-written factors of the first candidates (``ordering.proximity``)
    grams: Sequence[str] = ()  # the query's distinct bigrams and latin words (``Analyzer.bigrams``)


def features(evidence: Evidence, docs: Sequence[int], base: Sequence[float]) -> np.ndarray:
    """The ``FEATURES`` of ``docs`` (in the hand-tuned order, ``base`` their scores): one row each, float32."""
    corpus = evidence.corpus
    at = np.asarray(docs, dtype=np.int64)
    k = len(at)
    out = np.zeros((k, len(FEATURES)), dtype=np.float32)
    if not k:
        return out
    base_arr = np.asarray(base, dtype=np.float64)
    bm25f = evidence.scores[at].astype(np.float64)
    counted = [(w, s) for w, s in zip(evidence.words, evidence.per_word, strict=False) if w.counts]
    weights = np.array([ranking.idf(max(_df(corpus, w), 1), corpus.n) for w, _ in counted])
    total_weight = float(weights.sum()) or 1.0
    has = np.zeros((len(counted), k), dtype=bool)
    best_word = np.zeros(k)
    for i, (_, word_scores) in enumerate(counted):
        s = word_scores.of_docs(at).astype(np.float64)
        has[i] = s > 0
        best_word = np.maximum(best_word, s)
    factors = evidence.proximity
    out[:, 0] = np.log2(1.0 + np.arange(k))
    out[:, 1] = base_arr / base_arr[0] if base_arr[0] > 0 else 0.0
    out[:, 2] = np.log1p(bm25f)
    out[:, 3] = (weights @ has) / total_weight if counted else 0.0
    out[:, 4] = has.mean(axis=0) if counted else 0.0
    out[:, 5] = np.where(bm25f > 0, best_word / np.maximum(bm25f, 1e-9), 0.0)
    out[:, 6] = [factors.get(d, 1.0) for d in at.tolist()]
    out[:, 7] = [evidence.held.get(d, 0) for d in at.tolist()]
    out[:, 8] = [evidence.first.get(d, False) for d in at.tolist()]
    out[:, 9] = corpus.inverse_norms("title")[at]
    out[:, 10] = corpus.inverse_norms("body")[at]
    out[:, 11] = len(counted)
    grams = list(evidence.grams)
    if grams:
        for column, fieldname in ((12, "title_bg"), (13, "body_bg")):
            held = np.zeros(k)
            for gram in grams:
                ids, _ = corpus.term_tf(fieldname, gram)
                if len(ids):
                    held += find_sorted(ids, at)[1]
            out[:, column] = held / len(grams)
        wanted = set(grams)
        for i, d in enumerate(at.tolist()):
            title = corpus.value("title_text", d).decode("utf-8")
            pairs = {title[j : j + 2] for j in range(len(title) - 1)}
            out[i, 14] = len(pairs & wanted) / len(pairs) if pairs else 0.0
    return out


def _df(corpus: Corpus, plan: WordPlan) -> int:
    """Documents matching the word whole (as the scorer counts them for its idf)."""
    return len(corpus.word_hits(plan))


class Reranker:
    """Reorders the first ``depth`` ranked candidates by a learned model; without one, only describes them."""

    def __init__(self, model: Any | None = None, depth: int = DEPTH) -> None:
        self.model = model  # a lightgbm.Booster, or None: features for --explain and training only
        self.depth = depth

    @classmethod
    def load(cls, path: str | Path, depth: int = DEPTH) -> Reranker:
        """A LightGBM text model (``benchmarks/train_ranker.py`` writes one), loaded once."""
        import lightgbm  # only needed when a model is used

        model = lightgbm.Booster(model_file=str(path))
        names = tuple(model.feature_name())
        if names != FEATURE_NAMES:
            raise ValueError(f"{path}: the model's features {names} are not {FEATURE_NAMES}")
        return cls(model, depth)

    def wanted(self, explain: bool) -> bool:
        """Whether a ranking needs this reranker: with a model always, without one for ``--explain`` only."""
        return self.model is not None or explain

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The model's scores of feature rows (zeros without a model)."""
        if self.model is None or not len(rows):
            return np.zeros(len(rows))
        return np.asarray(self.model.predict(rows, num_threads=1), dtype=np.float64)

    def rerank(self, ranked: list, evidence: Evidence, explain: bool) -> list:
        """``ranked`` (docnum, score, dups, parts) with its head reordered within tiers; parts gain the features."""
        head = ranked[: self.depth]
        if not head or not self.wanted(explain):
            return ranked
        rows = features(evidence, [d for d, *_ in head], [s for _, s, *_ in head])
        learned = self.predict(rows)
        if explain:
            for (_, _, _, parts), row, value in zip(head, rows.tolist(), learned.tolist(), strict=True):
                if parts is not None:
                    parts["features"] = {name: round(v, 4) for name, v in zip(FEATURE_NAMES, row, strict=True)}
                    if self.model is not None:
                        parts["learned"] = round(value, 4)
        if self.model is None:
            return ranked
        order = sorted(range(len(head)), key=lambda i: (not evidence.first.get(head[i][0], False), -learned[i], i))
        return [head[i] for i in order] + ranked[self.depth :]


@lru_cache(maxsize=4)
def load_reranker(path: str) -> Reranker:
    """The reranker of a model file, loaded once per process; ``""``: the hand-tuned order, features for ``--explain``."""
    return Reranker.load(path) if path else Reranker(None)
