"""Ranking: the constants and formulas of relevance, in one place to tune.

Every number that shapes an ordering lives here, grouped by the stage that
reads it (tuned on the dev tasks with ``cli.py eval``: docs/ranking.md):

* field weights (``Weights``, the query's boosts) and a query word's
  evidence factors (synonyms, parts of words, junctions: ``words.word_plan``);
* BM25F: ``search.scoring`` computes it on the codec's arrays, term at a
  time, with this module's ``K1``, per-field length normalisation
  (``FIELD_B``, ``field_b``), ``idf`` and ``bm25f_saturate``;
* candidates and tiers (``search.candidates``): how many words must match,
  when partial matches fill a page, when an answer is weak, when an explicit
  phrase is relaxed to its words;
* the final order (``search.ordering``): ``final_scores`` adjusts BM25F
  with the news recency prior (``2^(-age/half_life)``, off for date sort or
  when the half-life is 0), the proximity boosts and the phrase preference;
  ``explain`` breaks a score into its parts for ``--explain``;
* related articles (``search.related``), which keep Whoosh's default BM25F,
  the weighting they were tuned with.

It imports nothing of the engine: every stage may read it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from whoosh.util.times import datetime_to_long

from .settings import RankingSettings


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


# A query word's evidence (``words.word_plan``): factors of the field weights.
SYNONYM_FACTOR = 0.8  # a synonym of the word
SINGLE_CHAR_FACTOR = 0.3  # a lone CJK character jieba left unattached (刷, 艇): rare as a token, says little
PARTIAL_WEIGHT = 0.5  # the word's bigrams one by one (part of the word occurs), shared among them
SUBWORD_WEIGHT = 0.2  # the dictionary words inside a long word (乡村振兴 → 乡村, 振兴)
LATIN_PREFIX_WEIGHT = 0.3  # a latin word of 4+ characters as a prefix of longer latin words (c919大飞机)
LATIN_INFIX_WEIGHT = 0.3  # a latin word of 3+ characters (a letter among them) inside longer ones (myappleid)
JUNCTION_WEIGHT = 0.05  # the bigram across two adjacent query words (赋能产业 → 能产): cheap proximity


@dataclass(frozen=True)
class RankingConfig:
    weights: Weights = Weights()
    half_life_days: float = 0.0
    recency_weight: float = 0.1

    @classmethod
    def from_settings(cls, settings: RankingSettings) -> RankingConfig:
        """The configuration the ranking settings give (``settings.read_groups(...).ranking``)."""
        return cls(
            weights=Weights(
                title=settings.title_weight,
                lead=settings.lead_weight,
                body=settings.body_weight,
                meta=settings.meta_weight,
                bigram=settings.bigram_weight,
            ),
            half_life_days=settings.recency_half_life_days,
            recency_weight=settings.recency_weight,
        )


PROXIMITY_DEPTH = 30  # top candidates checked for the query as written
PROXIMITY_TITLE_IN_QUERY = 1.3  # the whole title stands in the query (an entity's page)
PROXIMITY_TITLE = 1.3  # the query as written, in the title
PROXIMITY_BODY = 1.1  # … in the body
PHRASE_PREFERENCE = 1.3  # per quoted run (emphasis) a document holds as written

# Candidates and tiers (``search.candidates``, ``search.ordering``).
CANDIDATES = 200  # candidates ranked beyond the page asked for (at least; half of it past the page)
TIERED_FROM_WORDS = 3  # up to this many words, all must match (partial matches only fill a thin page)
FILL_TO = 10  # partial matches are shown when fewer full matches than this exist
WEAK_SHARE = 0.5  # an answer whose best article holds less of the query's weight (idf) than this is weak
GENERIC_SHARE = 1 / 3  # a word held by more of the articles than this says little on its own (weak answers)
PHRASE_FEW = 5  # an explicit phrase finding fewer documents than this …
PHRASE_FEWER = 4  # … while its words find this many times more: its words, exact matches first

# Related articles (``search.related``). Tuned with eval-related on related-dev (docs/ranking.md): the
# channel and date priors cost on-topic@5 there (a topic spans years and channels), so both are off;
# idf^0.5 in the key-term weights (BM25 already weighs each term by its idf) gained 0.02.
RELATED_KEY_TERMS = 12  # an article's key terms, the related query's words
RELATED_TITLE_TIMES = 2  # a title word counts as this many mentions
RELATED_IDF_POWER = 0.5
RELATED_TITLE_BOOST = 2.0  # a key term in the title (the body's is 1)
RELATED_POOL_FACTOR = 6  # candidates looked at per related article asked for
RELATED_SAME_CHANNEL = 1.0  # factor for an article of the same channel (1: no channel prior)
RELATED_DATE_SCALE_DAYS = 0.0  # 0: no date prior

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


TOP_STRIDE = 16  # ``kth_largest`` looks for a floor among every 16th value


def top(key: Any, k: int) -> Any:
    """Positions of the ``k`` largest values, largest first, ties in position order.

    The same as ``np.argsort(-key, kind="stable")[:k]``, without sorting every
    candidate: a long query at 100,000 articles has tens of thousands.
    """
    n = len(key)
    if n <= 4 * k:
        return np.argsort(-key, kind="stable")[:k]
    threshold = kth_largest(key, k)
    above = np.flatnonzero(key > threshold)
    pick = np.concatenate([above, np.flatnonzero(key == threshold)[: k - len(above)]])
    pick.sort()
    return pick[np.argsort(-key[pick], kind="stable")]


def kth_largest(key: Any, k: int) -> Any:
    """The ``k``-th largest of ``key`` (``np.partition(key, n - k)[n - k]``, ``n`` over ``4k``).

    Scores of many equal values (copies of one story, words' bounds) made
    ``np.partition`` take 20-100 ms over half a million candidates. The
    ``k``-th largest of every ``TOP_STRIDE``-th value is no more than the
    ``k``-th largest of all: the values reaching it are few, and sorted.
    """
    n = len(key)
    sample = np.sort(key[::TOP_STRIDE])
    if len(sample) >= k:
        reaching = key[key >= sample[-k]]
        if len(reaching) * 4 <= n:
            return np.sort(reaching)[-k]
    return np.sort(key)[n - k]


def final_scores(bm25f: Any, published: Any, config: RankingConfig) -> Any:
    """The one hook that adjusts BM25F scores: the news recency prior."""
    return bm25f * prior(published, config)


def prior(published: Any, config: RankingConfig) -> Any:
    """The factor ``final_scores`` multiplies BM25F by: 1, and more for fresh news (numpy-aware)."""
    return 1.0 + config.recency_weight * recency(published, now_long(), config.half_life_days)


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
