"""Facets: counts of channel, source and year over every match, and the newest articles by channel.

Both read a version's columns (``Corpus.labelled``): a facet counts its
codes among the candidates in one ``bincount``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .hits import BRIEF, brief
from .ranking import top
from .scoring import Corpus

FACETS = ("channel", "source", "year")  # counted over every match of a search
LATEST_POOL = 2000  # newest articles the latest-by-channel box looks at


def facet_column(corpus: Corpus, name: str) -> tuple[np.ndarray, list[str]]:
    """A facet's (codes, labels): ``year`` is a NUMERIC field, decoded to its values; the others are text."""
    return corpus.labelled(name, translate=name == "year")


def count_facets(corpus: Corpus, candidates: np.ndarray) -> dict[str, dict[str, int]]:
    """The 20 most frequent values of each facet among ``candidates`` (a mask), most frequent first."""
    out: dict[str, dict[str, int]] = {}
    for name in FACETS:
        codes, labels = facet_column(corpus, name)
        counts = np.bincount(codes[candidates], minlength=len(labels))
        pairs = [(labels[i], int(counts[i])) for i in np.flatnonzero(counts).tolist() if labels[i]]
        pairs.sort(key=lambda kv: (-kv[1], kv[0]))
        out[name] = dict(pairs[:20])
    return out


def latest(corpus: Corpus, per_channel: int = 5, channels: int = 6) -> list[dict[str, Any]]:
    """The newest articles by channel: ``[{"channel", "articles": [{"id", "title", "published", "source"}]}]``.

    Looks at the newest ``LATEST_POOL`` live articles only (one partition of
    the date column, whatever the index's size); channels with the most of
    them come first (then the one with the newest article). Articles without
    a channel are left out.
    """
    published, _ = corpus.column("published")
    codes, labels = facet_column(corpus, "channel")
    live = np.flatnonzero(corpus.live)
    if not len(live):
        return []
    newest = live[top(published[live], min(LATEST_POOL, len(live)))]
    groups: dict[int, list[int]] = {}  # in the order of their newest article
    for docnum in newest.tolist():
        code = int(codes[docnum])
        if labels[code]:
            groups.setdefault(code, []).append(docnum)
    order = list(groups)
    busiest = sorted(order, key=lambda c: (-len(groups[c]), order.index(c)))[:channels]
    out = []
    for code in busiest:
        articles = [brief(corpus.stored(d), BRIEF[:4]) for d in groups[code][:per_channel]]
        out.append({"channel": labels[code], "articles": articles})
    return out
