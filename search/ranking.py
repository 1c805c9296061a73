"""Ranking: BM25F over the fields, then news priors, in one place to tune.

The formula stays Whoosh's BM25F (per-field length normalisation, field
weights as query boosts from ``search.query.Weights``). ``final_score`` is
the one hook that adjusts a BM25F score: the recency prior for news
(``2^(-age/half_life)``, off for date sort or when the half-life is 0).
``explain`` breaks a score into its parts for ``--explain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from whoosh import scoring

from .query import Weights

# BM25 length normalisation per field: titles are short and similar in length,
# so their length says little; bodies vary widely.
FIELD_B = {"title_B": 0.3, "title_bg_B": 0.3, "lead_B": 0.5, "meta_B": 0.2, "body_B": 0.75, "body_bg_B": 0.75}
K1 = 1.2


def weighting() -> scoring.WeightingModel:
    """The BM25F model every search uses."""
    return scoring.BM25F(B=0.75, K1=K1, **FIELD_B)


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


def recency(published: datetime | None, now: datetime, half_life_days: float) -> float:
    """Freshness in [0, 1]: 1 today, 0.5 one half-life ago; 0 without a date."""
    if published is None or half_life_days <= 0:
        return 0.0
    if published.tzinfo is None:
        published = published.replace(tzinfo=timezone.utc)
    age = max((now - published).total_seconds() / 86400.0, 0.0)
    return float(2.0 ** (-age / half_life_days))


def final_score(bm25: float, published: datetime | None, config: RankingConfig, now: datetime) -> float:
    """The one hook that adjusts a BM25F score."""
    return bm25 * (1.0 + config.recency_weight * recency(published, now, config.half_life_days))


def explain(bm25: float, published: datetime | None, config: RankingConfig, now: datetime) -> dict[str, float]:
    """The parts of ``final_score``."""
    fresh = recency(published, now, config.half_life_days)
    return {
        "bm25f": round(bm25, 4),
        "recency": round(fresh, 4),
        "recency_factor": round(1.0 + config.recency_weight * fresh, 4),
        "score": round(final_score(bm25, published, config, now), 4),
    }
