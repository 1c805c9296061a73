"""Near-duplicate detection: bottom-k MinHash over character shingles.

Reprints of one story by different sources share most of their text. At index
time every article gets ``signature(text)``: the ``K`` smallest hashes of its
4-character shingles (a bottom-k MinHash sketch). Two sketches estimate the
Jaccard similarity of the shingle sets (``similarity``); at query time hits
whose estimate reaches ``THRESHOLD`` are collapsed into the best-ranked one,
which lists the others as "also reported by" (``near_pairs`` finds every
near pair among a page of hits at once). Texts under ``MIN_SHINGLES`` shingles get no
signature: a headline alone says too little.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence

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
_COUNT_CELLS = 1 << 22  # up to this many possible pairs, counted in one array (32 MB at most) rather than sorted
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


def near_pairs(signatures: Sequence[bytes | None], threshold: float = THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Every near-duplicate pair ``(first[x], second[x])``, ``first < second``, as ``Sketch.near`` finds them.

    Only pairs that share a head hash are ever looked at: the heads are
    sorted by value, each run of equal values gives its pairs, the pairs are
    counted, and the bottom-k similarity is computed for those sharing at
    least ``HEAD_OVERLAP``. Work and memory grow with the pairs that share
    hashes (reprints), not with the square of the number of hits.
    """
    have = np.array([i for i, s in enumerate(signatures) if s], dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    if len(have) < 2:
        return none, none
    present = [s for s in signatures if s]
    hashes = np.full((len(present), K), _ABSENT, dtype=np.uint64)
    lengths = np.array([len(s) // 4 for s in present])
    hashes[np.arange(K) < lengths[:, None]] = np.frombuffer(b"".join(present), dtype="<u4")
    first, second = _sharing_pairs(hashes[:, :HEAD])
    if not len(first):
        return none, none
    m = len(present)
    if m * m <= _COUNT_CELLS:  # a count per possible pair: cheaper than sorting the pairs
        codes = np.flatnonzero(np.bincount(first * m + second, minlength=m * m) >= HEAD_OVERLAP)
    else:
        codes, counts = np.unique(first * m + second, return_counts=True)
        codes = codes[counts >= HEAD_OVERLAP]
    first, second = codes // m, codes % m
    full = lengths == K
    both = full[first] & full[second]  # most texts: K hashes each, so the union's K smallest are K values
    if both.any():
        # Of K values, at least threshold·K must be in both: never more than the bits two
        # bitmaps of the hashes share (a cheap test dropping most pairs of unrelated texts).
        bits = _bitmaps(hashes, lengths)
        enough = _popcount(bits[first] & bits[second]) >= int(np.ceil(threshold * K))
        keep = ~both | enough
        first, second, both = first[keep], second[keep], both[keep]
    union = np.full(len(first), K, dtype=np.int64)
    shared = np.zeros(len(first), dtype=np.int64)
    full_hashes = hashes.astype(np.uint32)  # no padding to represent: half the bytes to sort
    shared[both] = _bottom_k_shared(full_hashes[first[both]], full_hashes[second[both]], K)
    if not both.all():
        rest = ~both
        union[rest], shared[rest] = _bottom_k_overlap(hashes[first[rest]], hashes[second[rest]], K)
    close = (union > 0) & (shared / np.maximum(union, 1) >= threshold)
    return have[first[close]], have[second[close]]


def near_matrix(signatures: Sequence[bytes | None], threshold: float = THRESHOLD) -> np.ndarray:
    """Which pairs of signatures are near duplicates: ``out[i, j]`` is ``Sketch(i).near(Sketch(j))``."""
    m = len(signatures)
    out = np.zeros((m, m), dtype=bool)
    a, b = near_pairs(signatures, threshold)
    out[a, b] = out[b, a] = True
    return out


def _sharing_pairs(heads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One ``(i, j)`` pair, ``i < j``, for each hash rows i and j share (rows hold distinct hashes, padded with absent ones)."""
    rows = np.repeat(np.arange(len(heads), dtype=np.int64), heads.shape[1])
    values = heads.ravel()
    real = values != _ABSENT
    rows, values = rows[real], values[real]
    order = np.lexsort((rows, values))  # by value, then row
    rows, values = rows[order], values[order]
    positions = np.arange(len(values))
    starts = np.zeros(len(values), dtype=bool)
    starts[:1] = True
    starts[1:] = values[1:] != values[:-1]
    run_start = np.maximum.accumulate(np.where(starts, positions, 0))
    earlier = positions - run_start  # members of the same run before this one: one pair each
    total = int(earlier.sum())
    later = np.repeat(rows, earlier)
    offsets = np.arange(total) - np.repeat(np.cumsum(earlier) - earlier, earlier)
    return rows[np.repeat(run_start, earlier) + offsets], later


def _bottom_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row by row: the size of the ``k`` smallest of ``a ∪ b``, and how many of those are in both."""
    merged = np.sort(np.concatenate([a, b], axis=1), axis=1)
    present = merged != _ABSENT
    new = np.ones(merged.shape, dtype=bool)
    np.not_equal(merged[:, 1:], merged[:, :-1], out=new[:, 1:])  # a value in both rows appears twice, side by side
    distinct = new & present
    top = np.cumsum(distinct, axis=1, dtype=np.int16) <= k
    return np.count_nonzero(distinct & top, axis=1), np.count_nonzero(~new & present & top, axis=1)


_BITMAP_WORDS = 16  # 1,024 bits a text: about 4 of 64 hashes collide by chance


def _bitmaps(hashes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row's hashes as a bitmap of ``_BITMAP_WORDS`` 64-bit words (bit = hash mod the bitmap's size)."""
    size = _BITMAP_WORDS * 64
    marks = np.zeros((len(hashes), size), dtype=bool)
    real = np.arange(hashes.shape[1]) < lengths[:, None]
    rows = np.nonzero(real)[0]
    marks[rows, (hashes[real] % np.uint64(size)).astype(np.int64)] = True
    return np.packbits(marks, axis=1).view(np.uint64)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each row of 64-bit words."""
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    return np.unpackbits(words.view(np.uint8), axis=1).sum(axis=1, dtype=np.int64)


def _bottom_k_shared(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """``_bottom_k_overlap``'s shared count for rows of ``k`` real hashes each (the union's size is ``k``)."""
    merged = np.sort(np.concatenate([a, b], axis=1), axis=1)
    second = merged[:, 1:] == merged[:, :-1]  # the second copy of a value in both rows, beside the first
    # distinct values before a second copy's first one: its column, less the second copies up to it (int8: fewer than 2k = 128 columns)
    before = np.arange(1, merged.shape[1], dtype=np.int8) - np.cumsum(second, axis=1, dtype=np.int8)
    return np.count_nonzero(second & (before < k), axis=1)


def near_duplicates(a: bytes | None, b: bytes | None, threshold: float = THRESHOLD) -> bool:
    """True when both signatures exist (None or empty: none) and the texts are at least ``threshold`` similar."""
    if not a or not b:
        return False
    return similarity(a, b) >= threshold
