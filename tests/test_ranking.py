"""Unit tests of search.ranking's building blocks (ranking quality on judged data: test_ranking_quality)."""

import numpy as np
import pytest

from search.ranking import top

KEYS = {
    "distinct": lambda rng, n: rng.random(n).astype(np.float32),
    "mostly equal": lambda rng, n: np.where(rng.random(n) < 0.9, 1.5, rng.random(n) * 3),  # copies of one score
    "few values": lambda rng, n: rng.integers(0, 4, n).astype(np.float64),  # ties across the cut
    "huge ints": lambda rng, n: rng.integers(0, 3, n) * 10**15,  # microsecond timestamps
    "rounded": lambda rng, n: np.round(rng.random(n), 2).astype(np.float32),
}


@pytest.mark.parametrize("kind", list(KEYS))
def test_top_is_the_stable_descending_sort_cut_short(kind):
    rng = np.random.default_rng(7)
    for _ in range(300):
        n, k = int(rng.integers(1, 20_000)), int(rng.integers(1, 250))  # the sampled floor from 4k values up
        key = KEYS[kind](rng, n)
        assert top(key, k).tolist() == np.argsort(-key, kind="stable")[:k].tolist()
