"""What a deep page costs against page 1 of the same query (in-process, CPU time).

    python benchmarks/deep_pages.py --index DIR [--rounds 9] [--queries 人民,中,经济]

Opens DIR with the public API, warms the engine, then asks every (query,
page, size) case once per round, the cases interleaved so that other load on
the machine falls on all of them alike, and prints the median CPU
milliseconds of each case beside its page 1 of the same size. The bound the
engine keeps (docs/bounds.md): a deep page costs about what page 1 costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import search  # noqa: E402

PAGES = [(1, 10), (2, 10), (10, 10), (50, 10), (99, 10), (100, 10), (1, 20), (50, 20), (1, 100), (10, 100)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--queries", default="人民,中,经济,习近平 会见")
    args = parser.parse_args()
    settings = search.load_settings()
    settings["INDEX"] = args.index
    engine = search.open_engine(settings)
    engine.warm()
    cases = [(q, page, size) for q in args.queries.split(",") for page, size in PAGES]
    cpu: dict[tuple[str, int, int], list[float]] = {case: [] for case in cases}
    for _ in range(args.rounds):
        for case in cases:
            started = time.process_time()
            engine.search(case[0], page=case[1], size=case[2])
            cpu[case].append((time.process_time() - started) * 1000)
    print(f"{'query':<12} {'page':>5} {'size':>5} {'CPU ms':>8} {'× page 1':>9}")
    for q, page, size in cases:
        ms = statistics.median(cpu[(q, page, size)])
        first = statistics.median(cpu[(q, 1, size)]) if (q, 1, size) in cpu else float("nan")
        print(f"{q:<12} {page:>5} {size:>5} {ms:>8.2f} {ms / first:>9.2f}")


if __name__ == "__main__":
    main()
