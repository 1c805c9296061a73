"""Near-duplicate detection: bottom-k MinHash over character shingles.

Reprints of one story by different sources share most of their text. At index
time every article gets ``signature(text)``: the ``K`` smallest hashes of its
4-character shingles (a bottom-k MinHash sketch). Two sketches estimate the
Jaccard similarity of the shingle sets (``similarity``); at query time hits
whose estimate reaches ``THRESHOLD`` are collapsed into the best-ranked one,
which lists the others as "also reported by" (``near_matrix`` compares a
page of hits at once). Texts under ``MIN_SHINGLES`` shingles get no
signature: a headline alone says too little.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

SHINGLE = 4
K = 64
MIN_SHINGLES = 24
THRESHOLD = 0.5
HEAD = 16  # smallest hashes compared first
HEAD_OVERLAP = 3  # below this overlap of the heads, similarity cannot reach THRESHOLD in practice
_MULT = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_ABSENT = np.uint64(1 << 32)  # pads a short signature: above every hash
_KEEP = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffa-z0-9]+")


def signature(normalized: str) -> bytes | None:
    """Return the bottom-k sketch of normalized text (bytes), or None when too short."""
    text = "".join(_KEEP.findall(normalized))
    n = len(text) - SHINGLE + 1
    if n < MIN_SHINGLES:
        return None
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    # Each shingle's code points combined (wrapping uint64 arithmetic), then mixed
    # with splitmix64's finalizer; the top 32 bits are the shingle's hash.
    h = np.zeros(n, dtype=np.uint64)
    for i in range(SHINGLE):
        h = h * _MULT + codes[i : i + n]
    h ^= h >> np.uint64(30)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    hashes = np.unique((h >> np.uint64(32)).astype(np.uint32))[:K]  # sorted, distinct
    return hashes.astype("<u4").tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return Sketch(a).similarity(Sketch(b))


class Sketch:
    """A signature decoded once, for comparing against many others."""

    __slots__ = ("hashes", "head")

    def __init__(self, signature: bytes) -> None:
        self.hashes = frozenset(array("I", signature))
        self.head = frozenset(sorted(self.hashes)[:HEAD])

    def similarity(self, other: Sketch) -> float:
        union = sorted(self.hashes | other.hashes)[:K]
        if not union:
            return 0.0
        return sum(1 for h in union if h in self.hashes and h in other.hashes) / len(union)

    def near(self, other: Sketch, threshold: float = THRESHOLD) -> bool:
        # Near-duplicates share most of their smallest hashes: a cheap test first.
        if len(self.head & other.head) < HEAD_OVERLAP:
            return False
        return self.similarity(other) >= threshold


@lru_cache(maxsize=64)
def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of ``m`` rows, as two index arrays (shared: read-only)."""
    first, second = np.triu_indices(m, 1)
    first.flags.writeable = second.flags.writeable = False
    return first, second


def near_matrix(signatures: Sequence[bytes | None], threshold: float = THRESHOLD) -> np.ndarray:
    """Which pairs of signatures are near duplicates: ``out[i, j]`` is ``Sketch(i).near(Sketch(j))``.

    All pairs at once with numpy (a page of hits is a few hundred pairs): the
    heads' overlap first, then the bottom-k similarity of the pairs that pass.
    """
    m = len(signatures)
    out = np.zeros((m, m), dtype=bool)
    have = np.array([i for i, s in enumerate(signatures) if s], dtype=np.int64)
    present = [s for s in signatures if s]
    if len(present) < 2:
        return out
    hashes = np.full((len(present), K), _ABSENT, dtype=np.uint64)
    lengths = np.array([len(s) // 4 for s in present])
    hashes[np.arange(K) < lengths[:, None]] = np.frombuffer(b"".join(present), dtype="<u4")
    first, second = _pairs(len(have))
    maybe = _head_overlaps(hashes[:, :HEAD])[first, second] >= HEAD_OVERLAP
    first, second = first[maybe], second[maybe]
    if len(first):
        union, shared = _bottom_k_overlap(hashes[first], hashes[second], K)
        close = (union > 0) & (shared / np.maximum(union, 1) >= threshold)
        a, b = have[first[close]], have[second[close]]
        out[a, b] = out[b, a] = True
    return out


def _head_overlaps(heads: np.ndarray) -> np.ndarray:
    """``out[i, j]``: how many hashes rows i and j share (rows hold distinct hashes, padded with absent ones).

    Each row as a 0/1 vector over the values present, and every pair's
    overlap in one matrix product (exact: the counts are small integers).
    """
    n, width = heads.shape
    order = np.argsort(heads, axis=None)
    values = heads.ravel()[order]
    new = np.ones(len(values), dtype=bool)
    new[1:] = values[1:] != values[:-1]
    rows = np.zeros((n, int(new.sum())), dtype=np.float32)
    rows[order // width, np.cumsum(new) - 1] = 1.0
    if values[-1] == _ABSENT:  # the largest value: the last column
        rows[:, -1] = 0.0
    return (rows @ rows.T).astype(np.int64)


def _bottom_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row by row: the size of the ``k`` smallest of ``a ∪ b``, and how many of those are in both."""
    merged = np.sort(np.concatenate([a, b], axis=1), axis=1)
    present = merged != _ABSENT
    new = np.ones(merged.shape, dtype=bool)
    new[:, 1:] = merged[:, 1:] != merged[:, :-1]  # a value in both rows appears twice, side by side
    top = np.cumsum(new & present, axis=1) <= k
    return (new & present & top).sum(axis=1), (~new & present & top).sum(axis=1)


def near_duplicates(a: bytes | None, b: bytes | None, threshold: float = THRESHOLD) -> bool:
    """True when both signatures exist (None or empty: none) and the texts are at least ``threshold`` similar."""
    if not a or not b:
        return False
    return similarity(a, b) >= threshold
