"""Ranking: the constants and formulas of relevance, in one place to tune.

BM25F over the fields: ``search.scoring.Corpus`` computes it on the codec's
arrays with this module's ``K1``, per-field length normalisation
(``FIELD_B``, ``field_b``), ``idf`` and field weights (``Weights``, the
query's boosts). ``final_scores`` adjusts BM25F scores with the news recency
prior (``2^(-age/half_life)``, off for date sort or when the half-life is 0);
the proximity boosts and the phrase preference are below. ``explain`` breaks
a score into its parts for ``--explain``. (The related box keeps Whoosh's
default BM25F, which it was tuned with: ``search.related``.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from whoosh.util.times import datetime_to_long


@dataclass(frozen=True)
class Weights:
    title: float = 8.0
    lead: float = 6.0
    body: float = 1.0
    meta: float = 1.2
    bigram: float = 0.6


# BM25 length normalisation per field: titles are short and similar in length,
# so their length says little; bodies vary widely.
# Tuned on the dev tasks (cli.py eval): see docs/ranking.md.
FIELD_B = {"title_B": 0.8, "title_bg_B": 0.8, "lead_B": 0.5, "meta_B": 0.2, "body_B": 0.5, "body_bg_B": 0.5}
K1 = 2.0


def field_b(fieldname: str) -> float:
    """BM25 length normalisation of a field."""
    return FIELD_B.get(f"{fieldname}_B", 0.75)


def idf(df: int, n: int) -> float:
    """BM25 inverse document frequency (always positive)."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def bm25f_saturate(tf: Any, k1: float = K1) -> Any:
    """Saturate a combined, length-normalised term frequency (works on numpy arrays)."""
    return tf * (k1 + 1.0) / (tf + k1)


@dataclass(frozen=True)
class RankingConfig:
    weights: Weights = Weights()
    half_life_days: float = 0.0
    recency_weight: float = 0.1

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> RankingConfig:
        return cls(
            weights=Weights(
                title=float(settings["TITLE_WEIGHT"]),
                lead=float(settings["LEAD_WEIGHT"]),
                body=float(settings["BODY_WEIGHT"]),
                meta=float(settings["META_WEIGHT"]),
                bigram=float(settings["BIGRAM_WEIGHT"]),
            ),
            half_life_days=float(settings["RECENCY_HALF_LIFE_DAYS"]),
            recency_weight=float(settings["RECENCY_WEIGHT"]),
        )


PROXIMITY_DEPTH = 30  # top candidates checked for the query as written
PROXIMITY_TITLE_IN_QUERY = 1.3  # the whole title stands in the query (an entity's page)
PROXIMITY_TITLE = 1.3  # the query as written, in the title
PROXIMITY_BODY = 1.1  # … in the body
PHRASE_PREFERENCE = 1.3  # per quoted run (emphasis) a document holds as written
_USECS_PER_DAY = 86_400_000_000
_KEY_CHARS = re.compile(r"[\u3400-\u9fffa-z0-9]+")


def key_text(normalized: str) -> str:
    """The CJK characters, letters and digits of normalized text: what the query-as-written boost compares."""
    return "".join(_KEY_CHARS.findall(normalized))


def now_long() -> int:
    """Now, in Whoosh's DATETIME column unit (microseconds since datetime.min, UTC)."""
    return datetime_to_long(datetime.now(timezone.utc).replace(tzinfo=None))


def recency(published: Any, now: int, half_life_days: float) -> Any:
    """Freshness in [0, 1]: 1 today, 0.5 one half-life ago; 0 without a date (numpy-aware)."""
    published = np.asarray(published, dtype=np.float64)
    if half_life_days <= 0:
        return np.zeros_like(published)
    age = np.maximum((now - published) / _USECS_PER_DAY, 0.0)
    return np.where(published > 0, np.exp2(-age / half_life_days), 0.0)


def top(key: Any, k: int) -> Any:
    """Positions of the ``k`` largest values, largest first, ties in position order.

    The same as ``np.argsort(-key, kind="stable")[:k]``, without sorting every
    candidate: a long query at 100,000 articles has tens of thousands.
    """
    n = len(key)
    if n <= 4 * k:
        return np.argsort(-key, kind="stable")[:k]
    threshold = np.partition(key, n - k)[n - k]  # the k-th largest
    above = np.flatnonzero(key > threshold)
    pick = np.concatenate([above, np.flatnonzero(key == threshold)[: k - len(above)]])
    pick.sort()
    return pick[np.argsort(-key[pick], kind="stable")]


def final_scores(bm25f: Any, published: Any, config: RankingConfig) -> Any:
    """The one hook that adjusts BM25F scores: the news recency prior."""
    return bm25f * (1.0 + config.recency_weight * recency(published, now_long(), config.half_life_days))


def explain(
    bm25f: float, published: int, config: RankingConfig, proximity: float, words: dict[str, float]
) -> dict[str, Any]:
    """The parts of a final score."""
    fresh = float(recency(published, now_long(), config.half_life_days))
    factor = 1.0 + config.recency_weight * fresh
    return {
        "bm25f": round(bm25f, 4),
        "words": words,
        "recency": round(fresh, 4),
        "recency_factor": round(factor, 4),
        "proximity_factor": proximity,
        "score": round(bm25f * factor * proximity, 4),
    }
