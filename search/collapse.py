"""Collapsing: reprints of one story folded into its best-ranked copy, and the page a reader asked for.

``page_of`` pages through a ranking (``ordering.Ranked``) with the first
``collapse_head(size)`` hits folded across pages and deeper pages folding
the reprints within themselves (docs/bounds.md); ``fold`` compares the
hits' near-duplicate sketches (``dedup.near_pairs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dedup import near_pairs
from .ordering import Ranked
from .scoring import Corpus

# The first hits, collapsed across pages (five of 10); deeper pages fold the reprints within themselves.
COLLAPSE_HEAD = 50


def collapse_head(size: int) -> int:
    """Hits collapsed across pages (``COLLAPSE_HEAD``, or two pages of ``size``)."""
    return max(COLLAPSE_HEAD, 2 * size)


def fold(corpus: Corpus, hits: list[tuple[int, float, list[int], float]]) -> tuple[list, int]:
    """Fold reprints of one story into the best-ranked copy; the kept hits and how many were folded.

    A hit is folded into the first earlier kept hit whose sketch is near its
    own (``dedup.near_pairs``), so the kept hits are pairwise distinct.
    Sketches are read from their column for each request: a page's are a few
    microseconds each.
    """
    if len(hits) < 2:
        return hits, 0
    first, second = near_pairs([corpus.value("signature", d) for d, *_ in hits])
    earlier: dict[int, list[int]] = {}
    for i, j in sorted(zip(second.tolist(), first.tolist(), strict=True)):
        earlier.setdefault(i, []).append(j)  # near hits ranked before hit i, best first
    kept: list = []
    kept_index: dict[int, int] = {}  # position in ``hits`` → position in ``kept``
    for i, (docnum, score, dups, boost) in enumerate(hits):
        into = next((kept_index[j] for j in earlier.get(i, ()) if j in kept_index), None)
        if into is None:
            kept_index[i] = len(kept)
            kept.append((docnum, score, dups, boost))
        else:
            kept[into][2].append(docnum)
    return kept, len(hits) - len(kept)


def page_of(
    corpus: Corpus, rank: Callable[[int], Ranked], page: int, size: int, collapse: bool
) -> tuple[list[tuple[int, float, list[int], float]], int, dict[int, dict[str, Any]]]:
    """Page ``page`` of the ranking as ``(docnum, score, reprints, boost)``, how many hits were folded,
    and a learned re-ranker's parts of the head's hits for ``--explain`` (``Ranked.extras``);
    ``rank(needed)`` ranks the top ``needed`` candidates (``ordering.rank``).

    With ``collapse``, the ranking pages through is the first
    ``collapse_head(size)`` hits with reprints folded into the best-ranked
    copy, then the hits after them in order, each page of those folding the
    reprints it holds (so it may show fewer than ``size`` stories, and a
    reprint of a story of the head may show again there, as the big engines'
    deep pages do). Every hit belongs to one page, the head is the same for
    every page, and a page costs the ranking of its positions (numpy) plus
    the collapse of the head and of its own hits: a deep page costs about
    what page 1 costs. Folded hits are subtracted from the total for the head only.
    """
    start, end = (page - 1) * size, page * size
    if not collapse:
        ranked = rank(end)
        return ranked.slice(start, end), 0, ranked.extras
    head = collapse_head(size)
    # Past the head's stories the page is positions head, head+1, … of the ranking: ``end`` plus
    # what the head folds (fewer than ``head``) at the most, ranked once.
    ranked = rank(max(head, end + head))
    kept, folded = fold(corpus, ranked.slice(0, head))
    if end <= len(kept) or len(ranked) <= head:
        return kept[start:end], folded, ranked.extras
    tail_start, tail_end = head + max(0, start - len(kept)), head + end - len(kept)
    shown, _ = fold(corpus, kept[start:] + ranked.slice(tail_start, tail_end))  # the head's stories are distinct
    return shown, folded, ranked.extras
