"""Probe: how much slower is a search when the process was idle just before it?

A served search waits for its request, so the CPU idles between searches; the
in-process benchmark asks its queries back to back. This probe opens an index
as a server worker does (``warm()``, ``gc.freeze()``), then asks each query
once, alternating: one straight after the previous search, the next after a
pause (``--pause-ms``, default 5 ms: about the time between two requests of
the benchmark's client). Wall and CPU time are reported for both, so a slower
search after a pause is seen to burn more CPU, not to wait.

    python benchmarks/pause.py --index DIR [--queries queries.tsv] [--n 400] [--pause-ms 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from bench import DEFAULT_QUERIES, read_tsv  # noqa: E402

import search  # noqa: E402

SHORT_QUERIES = dict(DEFAULT_QUERIES)["short"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="an index directory (python cli.py --index DIR reindex ...)")
    ap.add_argument("--queries", default=str(SHORT_QUERIES), help="queries.tsv (qid<TAB>query)")
    ap.add_argument("--n", type=int, default=400, help="measured queries (half of them after a pause)")
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--pause-ms", type=float, default=5.0)
    args = ap.parse_args(argv)
    queries = read_tsv(Path(args.queries))
    engine = search.open_engine(search.load_settings(overrides={"INDEX": args.index}))
    engine.warm()
    gc.freeze()
    for q in queries[: args.warmup]:
        engine.search(q, facets=True)
    wall: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for i, q in enumerate(queries[args.warmup : args.warmup + args.n]):
        paused = i % 2 == 1
        if paused:
            time.sleep(args.pause_ms / 1000)
        t, c = time.perf_counter(), time.thread_time()
        engine.search(q, facets=True)
        wall[paused].append((time.perf_counter() - t) * 1000)
        cpu[paused].append((time.thread_time() - c) * 1000)
    for paused in (False, True):
        label = f"after a {args.pause_ms:g} ms pause" if paused else "back to back"
        w, c = wall[paused], cpu[paused]
        print(
            f"{label:22s} n={len(w)}  wall p50 {statistics.median(w):.2f} ms, mean {statistics.mean(w):.2f}"
            f"  |  CPU p50 {statistics.median(c):.2f} ms, mean {statistics.mean(c):.2f}"
        )
    ratio = statistics.mean(wall[True]) / statistics.mean(wall[False])
    print(f"after a pause / back to back (mean wall time): {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
