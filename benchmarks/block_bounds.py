"""Probe: would per-block maximum scores (block-max WAND) prune a query's common words?

At a million articles a common word (postings in 1/8 of the documents) is
deferred: ``ordering.contenders`` bounds it by its largest score (MaxScore).
Block-max WAND would bound it per block of its postings instead, which pays
only when most blocks' maxima are well below that bound. This probe asks each
query once and, for every deferred word, scores every document holding it and
reports its blocks' maxima (blocks of ``--block`` of those documents, in
document order) as shares of the word's bound. These maxima are per word; a
codec's would be per field and term, no lower. It also reports the candidates,
the contenders kept, the sum of the deferred words' bounds and the score the
top must reach (the window's last): when the sum is above it, an article
holding only common words can still reach the top.

    python benchmarks/block_bounds.py --index DIR [--block 128] QUERY [QUERY ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

import search  # noqa: E402
from search import ordering, ranking  # noqa: E402
from search.scoring import Deferred, Scoring  # noqa: E402


def block_maxima(word: Deferred, block: int) -> tuple[np.ndarray, int]:
    """The word's largest score in each block of ``block`` of the documents holding it, and how many hold it."""
    docs = np.flatnonzero(word.hit)
    if not len(docs):
        return np.zeros(0, dtype=np.float32), 0
    return np.maximum.reduceat(word.of_docs(docs), np.arange(0, len(docs), block)), len(docs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="an index of 250,000 articles or more (DEFER_FROM)")
    ap.add_argument("--block", type=int, default=128, help="postings a block (the codec's blocks hold 128)")
    ap.add_argument("queries", nargs="+")
    args = ap.parse_args(argv)
    engine = search.open_engine(search.load_settings(overrides={"INDEX": args.index}))
    engine.warm()
    contenders = ordering.contenders

    def probe(
        scoring: Scoring,
        ids: np.ndarray,
        published: np.ndarray,
        first: np.ndarray,
        preference: np.ndarray | None,
        config: ranking.RankingConfig,
        window: int,
    ) -> np.ndarray:
        """``ordering.contenders``, reporting the deferred words' blocks before and the contenders after."""
        words = [w for w in scoring.words if isinstance(w, Deferred)]  # before contenders scores some of them
        for word in words:
            maxima, held = block_maxima(word, args.block)
            if len(maxima):
                share = maxima / word.bound
                print(
                    f"  deferred word, {held:,} documents: bound {word.bound:.2f}; blocks' maxima ÷ bound: "
                    f"median {np.median(share):.2f}, 10th percentile {np.percentile(share, 10):.2f}, "
                    f"under 0.5 in {np.mean(share < 0.5):.0%} of {len(maxima):,} blocks"
                )
        at = contenders(scoring, ids, published, first, preference, config, window)
        final = np.sort(ranking.final_scores(scoring.scores[ids[at]], published[at], config))
        reach = float(final[-window]) if len(final) >= window else 0.0
        print(
            f"  {len(ids):,} candidates, {len(at):,} contenders scored exactly; deferred bounds add up to "
            f"{sum(w.bound for w in words):.1f}, the top must reach {reach:.1f}"
        )
        return at

    ordering.contenders = probe
    for query in args.queries:
        print(query)
        engine.search(query, size=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
