"""Capacity of one replica: requests/s per worker (core), memory per worker, publish time.

    python benchmarks/capacity.py --index DIR [--seconds 30] [--workers 1] [--connections 2] [--runs 3]

Serves DIR with ``cli.py serve`` (``--workers`` gunicorn workers), asks every
query of the short mix once (warm-up: caches fill as they would on a replica
that has served a while), then loads it with wrk for ``--seconds`` and reports
requests/s, the workers' CPU time per request (so requests/s per fully
used core, which other load on the machine does not change much), latency
and each worker's RSS; ``--runs`` repeats the load and
reports the median. Then it publishes DIR's generation to an empty directory
on the same disk and reports seconds per GB (the copy itself; over a network
rsync goes at the link's speed). The short mix is the benchmark's
(``../shared/data/relevance/qbqtc-dev``, search-box queries), or the
project's judged queries without ``../shared``. Results: docs/capacity.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE)]

from bench import WRK_LUA, api_path, cpu_seconds, free_port, http_get, proc_status_kb, read_tsv, tree_pids  # noqa: E402

SHORT = ROOT.parent / "shared" / "data" / "relevance" / "qbqtc-dev" / "queries.tsv"
OWN = ROOT / "tests" / "data" / "judged" / "queries.tsv"

WRK_ERRORS = ("connect", "read", "write", "status", "timeout")


def short_paths() -> list[str]:
    """The benchmark's short mix (search-box queries), or the project's judged queries without ../shared."""
    return [api_path(q) for q in read_tsv(SHORT if SHORT.exists() else OWN)[:300]]


def rss_mb(pid: int) -> float:
    return proc_status_kb(pid).get("VmRSS", 0) / 1024


def workers_of(server: int) -> list[int]:
    return [p for p in tree_pids(server) if p != server]


def get(url: str) -> int:
    status, _ = http_get(url)
    return status


def measure_serving(index: str, workers: int, connections: int, seconds: int, runs: int) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NEWS_SEARCH_INDEX": index, "NEWS_SEARCH_SERVE_WORKERS": str(workers)}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get(base + "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        paths = short_paths()
        for path in paths:
            get(base + path)
        idle = [rss_mb(p) for p in workers_of(server.pid)]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_LUA % ",\n".join(json.dumps(p) for p in paths))
        rows = []
        for _ in range(runs):
            workers_cpu = cpu_seconds(workers_of(server.pid))
            out = subprocess.run(
                ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout=30s", "-s", script.name, base],
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            ).stdout
            row = json.loads(next(x for x in out.splitlines() if x.startswith("WRKJSON "))[8:])
            row["rps"] = row["requests"] / (row["duration_us"] / 1e6)
            # CPU per request: what a fully used core would serve, whatever else ran on the machine
            row["cpu_ms"] = (cpu_seconds(workers_of(server.pid)) - workers_cpu) * 1000 / row["requests"]
            rows.append(row)
        os.unlink(script.name)
        loaded = [rss_mb(p) for p in workers_of(server.pid)]
        return {
            "workers": workers,
            "connections": connections,
            "distinct_queries": len(paths),
            "runs_rps": [round(r["rps"], 1) for r in rows],
            "rps": round(statistics.median(r["rps"] for r in rows), 1),
            "worker_cpu_ms_per_request": round(statistics.median(r["cpu_ms"] for r in rows), 2),
            "rps_per_busy_core": round(1000 / statistics.median(r["cpu_ms"] for r in rows), 1),
            "p50_ms": round(statistics.median(r["p50_us"] for r in rows) / 1000, 1),
            "p99_ms": round(statistics.median(r["p99_us"] for r in rows) / 1000, 1),
            "errors": sum(r[k] for r in rows for k in WRK_ERRORS),
            "worker_rss_mb_after_warmup": [round(x) for x in idle],
            "worker_rss_mb_after_load": [round(x) for x in loaded],
            "master_rss_mb": round(rss_mb(server.pid)),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def measure_publish(index: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import search

    store = search.IndexStore(index, search.Analyzer())
    size = sum(p.stat().st_size for p in store.generation_dir().iterdir() if p.is_file())
    with tempfile.TemporaryDirectory(dir=Path(index).resolve().parent) as dest:
        started = time.monotonic()
        [first] = search.publish(store, [dest])
        first_s = time.monotonic() - started
        started = time.monotonic()
        [again] = search.publish(store, [dest])
        again_s = time.monotonic() - started
    assert first.error is None and again.error is None, (first.error, again.error)
    return {
        "generation_bytes": size,
        "first_publish_s": round(first_s, 2),
        "s_per_gb": round(first_s / (size / 1e9), 1),
        "republish_unchanged_s": round(again_s, 2),
        "republish_files_copied": again.files_copied,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="a built index directory")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-publish", action="store_true", help="skip the publish measurement")
    args = parser.parse_args()
    result = {
        "index": args.index,
        "load_average_before": os.getloadavg()[0],
        "serving": measure_serving(args.index, args.workers, args.connections, args.seconds, args.runs),
    }
    if not args.no_publish:
        result["publish"] = measure_publish(args.index)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
