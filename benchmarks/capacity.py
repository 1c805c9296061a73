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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHORT = ROOT.parent / "shared" / "data" / "relevance" / "qbqtc-dev" / "queries.tsv"
OWN = ROOT / "tests" / "data" / "judged" / "queries.tsv"

LUA = """local paths = {
%s
}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def short_paths() -> list[str]:
    path = SHORT if SHORT.exists() else OWN
    queries = [line.split("\t", 1)[1] for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]
    return [f"/api/search?q={urllib.parse.quote(q, safe='')}" for q in queries[:300]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
        return answer.status


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
        idle = [rss_mb(p) for p in children(server.pid)]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % ",\n".join(json.dumps(p) for p in paths))
        rows = []
        for _ in range(runs):
            workers_cpu = sum(cpu_seconds(p) for p in children(server.pid))
            out = subprocess.run(
                ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout=30s", "-s", script.name, base],
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            ).stdout
            row = json.loads(next(x for x in out.splitlines() if x.startswith("WRKJSON "))[8:])
            row["rps"] = row["requests"] / (row["duration_us"] / 1e6)
            # CPU per request: what a fully used core would serve, whatever else ran on the machine
            row["cpu_ms"] = (sum(cpu_seconds(p) for p in children(server.pid)) - workers_cpu) * 1000 / row["requests"]
            rows.append(row)
        os.unlink(script.name)
        loaded = [rss_mb(p) for p in children(server.pid)]
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
            "errors": sum(r["errors"] for r in rows),
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
