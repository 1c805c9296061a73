"""Benchmark: this project as served vs the naive Whoosh+jieba tutorial setup vs tantivy.

Builds each system's index from the same corpus in a fresh process, measures
indexing throughput, index size, peak memory, cold start and in-process query
latency on short and long queries, then serves this project's index with
``python cli.py serve`` (gunicorn) and load-tests ``/api/search`` with wrk at
1, 4 and 16 concurrent clients (beside the floor: ``/healthz``, no search),
and times an incremental update of ours. Prints one aligned table: the three
systems side by side, the ratios of this project to the other two, and issue
18's targets with PASS / MISS; with ``--runs 3`` every number is the median of
three runs. Then JSON. See benchmarks/README.md.

Run from the project root:

    python benchmarks/bench.py [--corpus PATH] [--queries [LABEL=]PATH ...] [--scale N] [--runs 3]
                               [--quick] [--out results.json]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # cold start of worker processes counts from here

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gzip  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
DATA = ROOT.parent / "shared" / "data"
DEFAULT_CORPUS = DATA / "news" / "xwlb.jsonl.gz"
SCALE_SOURCES = (DATA / "news" / "xwlb.jsonl.gz", DATA / "news" / "sina2018.jsonl.gz")
DEFAULT_QUERIES = (
    ("short", DATA / "relevance" / "qbqtc-dev" / "queries.tsv"),
    ("long", DATA / "relevance" / "xwlb-title-dev" / "queries.tsv"),
)
SYSTEMS = ("ours", "naive", "tantivy")
CONCURRENCY = (1, 4, 16)
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- this project, through its public API (run in worker processes) ---------------


class OursSearcher:
    """``engine.search(q, size=10)`` after ``engine.warm()`` as a server starts; ``snippets=False``: the same
    without snippets (tantivy's work)."""

    def __init__(self, index_dir: str, snippets: bool = True) -> None:
        sys.path.insert(0, str(ROOT))
        import search

        self.engine = search.open_engine(search.load_settings(overrides={"INDEX": index_dir}))
        self.engine.warm()  # what a server does before its first request (the pinyin vocabulary: seconds)
        self.snippets = snippets

    def search(self, q: str, size: int = 10) -> tuple[int, int]:
        res = self.engine.search(q, size=size, snippets=self.snippets)
        return len(res.hits), sum(1 for h in res.hits if h.snippet)


def ours_build(corpus: str, index_dir: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import search

    # A scaled corpus is one JSON Lines file past MAX_STREAM_MB (2 GB at a million articles): the operator's
    # setting for such an export, raised to the file's size, as an operator would.
    stream_mb = max(2048, math.ceil(os.path.getsize(corpus) / (1 << 20)) + 1)
    settings = search.load_settings(overrides={"INDEX": index_dir, "MAX_STREAM_MB": stream_mb})
    store = search.open_engine(settings).store
    started = time.perf_counter()
    report = search.reindex(store, [corpus], full=True, limits=search.Limits.from_settings(settings))
    seconds = time.perf_counter() - started
    return {
        "docs": report.doc_count,
        "seconds": seconds,
        "report": {k: v for k, v in report.to_json().items() if k not in ("errors", "warnings")},
        "errors": report.errors[:5],
    }


def ours_update(index_dir: str, corpus: str) -> dict:
    """Add the articles of ``corpus`` to the index in place (an incremental reindex)."""
    sys.path.insert(0, str(ROOT))
    import search

    store = search.open_engine(search.load_settings(overrides={"INDEX": index_dir})).store
    started = time.perf_counter()
    report = search.reindex(store, [corpus], full=False)
    return {
        "docs": report.indexed + report.updated,
        "seconds": time.perf_counter() - started,
        "report": {k: v for k, v in report.to_json().items() if k not in ("errors", "warnings")},
        "errors": report.errors[:5],
    }


def worker(argv: list[str]) -> int:
    """``bench.py _worker ours {index|query|query-plain|coldstart|update} ...``: the protocol of naive.py /
    tantivy_ref.py (``query-plain``: the queries without snippets)."""
    sys.path.insert(0, str(HERE))
    from naive import run_queries  # the shared query loop (pure Python, no Whoosh import)

    cmd = argv[0]
    if cmd == "index":
        result = ours_build(argv[1], argv[2])
    elif cmd in ("query", "query-plain"):
        with open(argv[2], encoding="utf-8") as f:
            spec = json.load(f)
        budget = float(argv[3]) if len(argv) > 3 else 1e9
        result = run_queries(OursSearcher(argv[1], snippets=cmd == "query"), spec, budget)
    elif cmd == "coldstart":
        s = OursSearcher(argv[1])
        opened = time.perf_counter()
        shown, _ = s.search(argv[2])
        answered = time.perf_counter()
        result = {"open_s": opened - T0, "first_query_s": answered - opened, "hits": shown}
    elif cmd == "update":
        result = ours_update(argv[1], argv[2])
    else:
        return 2
    print(json.dumps(result), flush=True)
    return 0


# --- processes and memory ------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def proc_mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS splits pages shared with forked workers."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE // 1024
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss or rss


def tree_pss_mb(pid: int) -> float:
    return sum(proc_mem_kb(p)[1] for p in tree_pids(pid)) / 1024


def default_mem_limit() -> int:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            info[key] = int(value.split()[0]) / 1024
    return round(min(info.get("MemTotal", 0) * 0.5, info.get("MemAvailable", 0) * 0.7))


def proc_status_kb(pid: int) -> dict[str, int]:
    out = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds spent by the whole machine (all cores, every process) since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def kill_tree(pid: int) -> None:
    for p in reversed(tree_pids(pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


def run_child(cmd: list[str], timeout: float, label: str, logdir: Path, mem_limit_mb: float) -> dict[str, Any]:
    """Run a worker in a fresh process; its JSON answer, wall time and peak memory.

    ``max_rss_mb`` is ru_maxrss from wait4 (the largest single process of the
    tree: the worker or any child it waited for); ``peak_tree_pss_mb`` is the
    largest sum of PSS over the worker and its children, sampled every 0.5 s.
    A worker whose PSS passes ``mem_limit_mb`` is killed (the machine is shared).
    """
    out_path, err_path = logdir / f"{label}.out", logdir / f"{label}.err"
    started, busy0 = time.perf_counter(), machine_busy_s()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak_pss, status, usage, timed_out, over = 0, 0, None, False, False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_pss = max(peak_pss, sum(proc_mem_kb(p)[1] for p in tree_pids(proc.pid)))
            over = peak_pss / 1024 > mem_limit_mb
            if over or time.perf_counter() - started > timeout:
                timed_out = True
                kill_tree(proc.pid)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.5)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
    lines = out_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    result: dict[str, Any] = {
        "wall_s": wall,
        "cpu_s": cpu,
        # CPU the rest of the machine used meanwhile, in cores (others' load skews wall-clock numbers)
        "foreign_cores": max(0.0, (machine_busy_s() - busy0 - cpu) / wall) if wall else 0.0,
        "max_rss_mb": usage.ru_maxrss / 1024 if usage else None,
        "peak_tree_pss_mb": peak_pss / 1024,
        "returncode": proc.returncode,
    }
    try:
        result["result"] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = err_path.read_text(encoding="utf-8", errors="replace")[-1500:]
        why = f"killed: memory passed {mem_limit_mb:.0f} MB; " if over else f"timed out after {timeout:.0f} s; "
        result["error"] = (why if timed_out else "") + f"no result; stderr: {tail}"
    return result


def coldstart(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Seconds from spawning the process to reading its first answer."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        seconds = time.perf_counter() - started
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        proc.wait()
        return {"error": "timed out"}
    try:
        return {"seconds": seconds, **json.loads(line)}
    except json.JSONDecodeError:
        return {"error": err.decode("utf-8", "replace")[-1500:]}


def dir_size_mb(path: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, name))
    return total / 1e6


# --- inputs ------------------------------------------------------------------------


def iter_jsonl(path: Path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def prepare_corpus(args: argparse.Namespace, workdir: Path) -> tuple[Path, int, str]:
    """The corpus file every system indexes, its article count and a description."""
    if args.scale:
        target = args.scale
        path = workdir / f"scaled-{target}.jsonl"
        base = [obj for src in SCALE_SOURCES for obj in iter_jsonl(src)]
        with open(path, "w", encoding="utf-8") as f:
            n, copy = 0, 0
            while n < target:
                for obj in base:
                    if n >= target:
                        break
                    if copy:
                        obj = {**obj, "id": f"{obj['id']}~r{copy}"}
                    f.write(json.dumps(obj, ensure_ascii=False) + "\n")
                    n += 1
                copy += 1
        desc = f"xwlb + sina2018 ({len(base):,} articles) replicated with new ids to {n:,}"
        return path, n, desc
    corpus = Path(args.corpus)
    if args.articles:
        path = workdir / f"first-{args.articles}.jsonl"
        n = 0
        with open(path, "w", encoding="utf-8") as f:
            for obj in iter_jsonl(corpus):
                if n >= args.articles:
                    break
                f.write(json.dumps(obj, ensure_ascii=False) + "\n")
                n += 1
        return path, n, f"first {n:,} articles of {corpus.name}"
    n = sum(1 for _ in iter_jsonl(corpus))
    return corpus, n, f"{corpus.name} ({n:,} articles)"


def update_corpus(corpus: Path, workdir: Path, n: int) -> Path:
    """The first ``n`` articles of ``corpus`` with new ids (``<id>~u``): new articles for an incremental update."""
    path = workdir / f"update-{n}.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i, obj in enumerate(iter_jsonl(corpus)):
            if i >= n:
                break
            f.write(json.dumps({**obj, "id": f"{obj['id']}~u"}, ensure_ascii=False) + "\n")
    return path


def load_queries(specs: list[str] | None) -> list[tuple[str, Path]]:
    if not specs:
        return [(label, path) for label, path in DEFAULT_QUERIES]
    out = []
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep:
            path, label = spec, Path(spec).parent.name or Path(spec).stem
        out.append((label, Path(path)))
    return out


def read_tsv(path: Path) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 1)
            text = parts[-1].strip()
            if text:
                out.append(text)
    return out


def sample_queries(sets: list[tuple[str, Path]], n: int, warm: int, seed: int) -> dict[str, Any]:
    """Measured and warm-up queries per set: disjoint, seeded, distinct."""
    rng = random.Random(seed)
    spec: dict[str, Any] = {"warmup": [], "sets": {}, "warmup_sets": {}}
    for label, path in sets:
        pool = sorted(set(read_tsv(path)))
        picked = rng.sample(pool, min(len(pool), n + warm))
        spec["warmup_sets"][label] = picked[:warm]
        spec["warmup"] += picked[:warm]
        spec["sets"][label] = picked[warm:]
    return spec


# --- statistics and formatting ----------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def spread_ms(values: list[float], prefix: str = "") -> dict[str, float | None]:
    """``{prefix}p50_ms``, ``…p95_ms`` and ``…p99_ms`` of ``values``."""
    return {f"{prefix}p{p}_ms": percentile(values, p) for p in (50, 95, 99)}


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return f"{r:,.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


# --- the HTTP part ------------------------------------------------------------------------

WRK_LUA = """-- generated by benchmarks/bench.py: cycle through URL-encoded short queries
local paths = {
%s
}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 60) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def api_path(q: str) -> str:
    return "/api/search?q=" + urllib.parse.quote(q, safe="")


def http_bench(index_dir: Path, spec: dict, short: str, args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    """Serve the index with ``python cli.py serve`` and load it with wrk."""
    wrk = shutil.which("wrk")
    if not wrk:
        return {"skipped": "wrk not found (Debian: apt-get install wrk)"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = open(logdir / "server.log", "wb")
    cmd = [sys.executable, "cli.py", "--index", str(index_dir), "serve", "--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=server_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out: dict[str, Any] = {"command": " ".join(cmd[1:]), "runs": {}}
    # Watchdog, from the start: the server's anonymous memory is checked every
    # 0.2 s and the server killed when it passes --mem-limit (the machine is
    # shared, and each server thread may load an index copy of its own).
    watch: dict[str, Any] = {"peak_anon_mb": 0.0, "peak_pss_mb": 0.0, "killed": False}
    stop = threading.Event()

    def watchdog() -> None:
        ticks = 0
        while not stop.wait(0.2):
            if proc.poll() is not None:
                return
            pids = tree_pids(proc.pid)
            anon = sum(proc_status_kb(p).get("RssAnon", 0) for p in pids) / 1024
            watch["peak_anon_mb"] = max(watch["peak_anon_mb"], anon)
            if anon > args.mem_limit:
                watch["killed"] = True
                kill_tree(proc.pid)
                return
            ticks += 1
            if ticks % 5 == 0:  # PSS walks the page tables: once a second is enough
                watch["peak_pss_mb"] = max(watch["peak_pss_mb"], tree_pss_mb(proc.pid))

    dog = threading.Thread(target=watchdog, daemon=True)
    dog.start()

    def gone() -> str | None:
        if watch["killed"]:
            return f"server killed: its anonymous memory passed --mem-limit {args.mem_limit:.0f} MB"
        if proc.poll() is not None:
            return f"server exited with status {proc.returncode} (see {logdir / 'server.log'}; OOM?)"
        return None

    def safe_get(url: str) -> tuple[int, bytes]:
        try:
            return http_get(url)
        except (OSError, http.client.HTTPException):
            return -1, b""

    try:
        deadline = started + 180
        while True:
            if why := gone():
                return {"skipped": why, **out}
            try:
                if http_get(base + "/healthz", timeout=5)[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.perf_counter() > deadline:
                return {"skipped": "server not healthy after 180 s"}
            time.sleep(0.05)
        out["healthz_s"] = time.perf_counter() - started
        try:
            status, body = http_get(base + api_path(spec["cold_query"]))
        except (OSError, http.client.HTTPException) as exc:
            return {"skipped": f"first search failed: {exc!r}; {gone() or ''}", **out}
        out["first_answer_s"] = time.perf_counter() - started
        out["first_answer_status"] = status
        if status != 200:
            detail = body.decode("utf-8", "replace")[:300]
            return {"skipped": f"GET /api/search answered {status} ({detail}); /healthz had said ok", **out}
        # Warm up every server thread on queries that are not measured.
        warm = spec["warmup_sets"].get(short) or spec["warmup"]
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda q: safe_get(base + api_path(q))[0], (warm * 2)[: max(8, args.http_warmup)]))
        out["warmup_failures"] = sum(1 for x in statuses if x != 200)
        out["peak_anon_after_warmup_mb"] = watch["peak_anon_mb"]
        if why := gone():
            out["killed"] = why + " (during warm-up: 8 concurrent requests)"
            return out
        # Each worker finishes its start-up (scoring arrays, the pinyin vocabulary) in a
        # background thread: measure the served state, not start-up, so wait until idle.
        settle_deadline = time.perf_counter() + 120
        while time.perf_counter() < settle_deadline:
            cpu0 = cpu_seconds(tree_pids(proc.pid))
            time.sleep(1.0)
            if cpu_seconds(tree_pids(proc.pid)) - cpu0 < 0.05:
                break
        out["settled_s"] = time.perf_counter() - started
        # The floor under every answer: the same client and new connections, Flask and the
        # server, but no search (/healthz reads the index's meta file).
        floor = []
        for _ in range(max(len(q) for q in spec["sets"].values())):
            t0 = time.perf_counter()
            safe_get(base + "/healthz")
            floor.append((time.perf_counter() - t0) * 1000)
        out["floor"] = {"n": len(floor), **spread_ms(floor)}
        # The speed issue's latency measure: each measured query asked once over HTTP, one at a
        # time, snippets and facets included (a new connection each; the server has not seen them).
        # took_ms is the search's own time as the server measured it (SearchResults.took_ms).
        out["once"] = {}
        for label, queries in spec["sets"].items():
            latencies, took, failures = [], [], 0
            for q in queries:
                t0 = time.perf_counter()
                status, body = safe_get(base + api_path(q))
                latencies.append((time.perf_counter() - t0) * 1000)
                failures += status != 200
                if status == 200:
                    took.append(json.loads(body)["took_ms"])
            out["once"][label] = {
                "n": len(latencies),
                "failures": failures,
                **spread_ms(latencies),
                **spread_ms(took, "took_"),
            }
        urls = [api_path(q) for q in spec["sets"][short]]
        script = logdir / "queries.lua"
        script.write_text(WRK_LUA % ",\n".join(json.dumps(u) for u in urls), encoding="utf-8")
        for c in CONCURRENCY:
            if why := gone():
                out["runs"][str(c)] = {"error": why}
                continue
            pids = tree_pids(proc.pid)
            cpu0, t0, busy0 = cpu_seconds(pids), time.perf_counter(), machine_busy_s()
            wrk_cmd = [wrk, "-t1", f"-c{c}", f"-d{args.http_seconds}s", f"--timeout={args.http_timeout}s"]
            wrk_cmd += ["-s", str(script), base]
            log(f"  wrk -c{c} -d{args.http_seconds}s")
            done = subprocess.run(wrk_cmd, capture_output=True, text=True, timeout=args.http_seconds + 120)
            wall = time.perf_counter() - t0
            cpu = cpu_seconds(tree_pids(proc.pid)) - cpu0
            others = max(0.0, (machine_busy_s() - busy0 - cpu) / wall)
            line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
            if line is None:
                out["runs"][str(c)] = {"error": (done.stdout + done.stderr)[-800:]}
                continue
            w = json.loads(line[len("WRKJSON ") :])
            errors = w["connect"] + w["read"] + w["write"] + w["status"] + w["timeout"]
            mem = sum(proc_mem_kb(p)[0] for p in tree_pids(proc.pid)) / 1024
            out["runs"][str(c)] = {
                "connections": c,
                "requests": w["requests"],
                "rps": w["requests"] / (w["duration_us"] / 1e6),
                "p50_ms": w["p50_us"] / 1000,
                "p90_ms": w["p90_us"] / 1000,
                "p99_ms": w["p99_us"] / 1000,
                "max_ms": w["max_us"] / 1000,
                "errors": errors,
                "errors_by_kind": {k: w[k] for k in ("connect", "read", "write", "status", "timeout")},
                "server_cpu_cores": cpu / wall,
                "other_cores": others,  # wrk itself and anything else running on the machine
                "server_rss_mb": mem,
            }
        if why := gone():
            out["killed"] = why
            return out
        out["server_pss_mb"] = tree_pss_mb(proc.pid)
        # Summed over the server's processes (a pre-forking server has several);
        # the peak is the sum of each process's own peak (VmHWM), an upper bound.
        pids = tree_pids(proc.pid)
        status = [proc_status_kb(p) for p in pids]
        for key, name in (("VmRSS", "rss"), ("VmHWM", "peak_rss"), ("RssAnon", "rss_anon"), ("RssFile", "rss_file")):
            out[f"server_{name}_mb"] = sum(st.get(key, 0) for st in status) / 1024
        workers = [st.get("VmHWM", 0) / 1024 for p, st in zip(pids, status, strict=True) if p != proc.pid]
        out["server_worker_peak_rss_mb"] = max(workers, default=None)
        out["server_processes"] = len(pids)
        out["server_threads"] = sum(len(os.listdir(f"/proc/{p}/task")) for p in pids if os.path.isdir(f"/proc/{p}"))
        return out
    finally:
        stop.set()
        dog.join()
        out["server_peak_pss_mb"] = watch["peak_pss_mb"]
        out["server_peak_anon_mb"] = watch["peak_anon_mb"]
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
        server_log.close()


# --- the run --------------------------------------------------------------------------------


def system_cmd(system: str, *args: str) -> list[str]:
    if system == "ours":
        return [sys.executable, str(HERE / "bench.py"), "_worker", *args]
    module = "naive.py" if system == "naive" else "tantivy_ref.py"
    return [sys.executable, str(HERE / module), *args]


def available(system: str) -> str | None:
    """None when the system can run here, else why not."""
    need = {"ours": ("whoosh", "jieba"), "naive": ("whoosh", "jieba"), "tantivy": ("tantivy", "jieba")}[system]
    missing = [m for m in need if importlib.util.find_spec(m) is None]
    if missing:
        return f"skipped: {', '.join(missing)} not installed in {sys.executable}" + (
            " (pip install tantivy, or the project's [bench] extra)" if "tantivy" in missing else ""
        )
    return None


def summarize_queries(q: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, data in q["result"]["sets"].items():
        lat, cpu = data["latency_ms"], data.get("cpu_ms", [])
        out[label] = {
            "n": len(lat),
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99),
            "cpu_p50_ms": percentile(cpu, 50),
            "cpu_p95_ms": percentile(cpu, 95),
            "mean_ms": sum(lat) / len(lat) if lat else None,
            "max_ms": max(lat) if lat else None,
            "zero_hits": data["zero_hits"],
            "errors": data["errors"],
            "budget_stopped": data["budget_stopped"],
        }
    return out


def run_system(system: str, corpus: Path, spec_path: Path, spec: dict, args, workdir: Path) -> dict[str, Any]:
    res: dict[str, Any] = {}
    index_dir = workdir / f"index-{system}"
    logdir = workdir / "logs"
    if system == "ours" and args.reuse_index:
        index_dir = Path(args.reuse_index)
        res["index"] = {"reused": str(index_dir), "size_mb": dir_size_mb(index_dir)}
        log(f"{system}: reusing {index_dir} ({res['index']['size_mb']:.0f} MB), not building")
        return measure_queries(system, index_dir, spec_path, spec, args, logdir, res)
    log(f"{system}: indexing {corpus.name}")
    cmd = system_cmd(system, "index", str(corpus), str(index_dir))
    built = run_child(cmd, args.timeout, f"{system}-index", logdir, args.mem_limit)
    if "error" in built:
        return {"error": "indexing failed: " + built["error"]}
    r = built["result"]
    res["index"] = {
        "docs": r["docs"],
        "seconds": r["seconds"],
        "articles_per_s": r["docs"] / r["seconds"] if r["seconds"] else None,
        "process_wall_s": built["wall_s"],
        "cpu_s": built["cpu_s"],
        "cpu_ms_per_article": built["cpu_s"] * 1000 / r["docs"] if r["docs"] else None,
        "foreign_cores": built["foreign_cores"],
        "size_mb": dir_size_mb(index_dir),
        "max_rss_mb": built["max_rss_mb"],
        "peak_tree_pss_mb": built["peak_tree_pss_mb"],
        "detail": {k: v for k, v in r.items() if k not in ("docs", "seconds")},
    }
    log(
        f"{system}: {r['docs']:,} docs in {r['seconds']:.1f} s, {res['index']['size_mb']:.0f} MB, "
        f"max RSS {built['max_rss_mb']:.0f} MB"
    )
    return measure_queries(system, index_dir, spec_path, spec, args, logdir, res)


def measure_queries(
    system: str, index_dir: Path, spec_path: Path, spec: dict, args, logdir: Path, res: dict[str, Any]
) -> dict[str, Any]:
    """Cold start and the query sets in fresh processes (ours: with and without snippets), into ``res``."""
    log(f"{system}: cold start")
    res["coldstart"] = coldstart(system_cmd(system, "coldstart", str(index_dir), spec["cold_query"]), args.timeout)
    log(f"{system}: queries")
    budget = str(args.query_budget)
    cmd = system_cmd(system, "query", str(index_dir), str(spec_path), budget)
    q = run_child(cmd, args.timeout, f"{system}-query", logdir, args.mem_limit)
    if "error" in q:
        res["queries_error"] = q["error"]
    else:
        res["queries"] = summarize_queries(q)
        res["queries_raw_ms"] = {k: v["latency_ms"] for k, v in q["result"]["sets"].items()}
        res["query_process"] = {
            "max_rss_mb": q["max_rss_mb"],
            "wall_s": q["wall_s"],
            "foreign_cores": q["foreign_cores"],
        }
        res["query_error_types"] = q["result"].get("error_types", {})
        for label, s in res["queries"].items():
            log(f"{system}: {label} p50 {fmt(s['p50_ms'])} ms p95 {fmt(s['p95_ms'])} ms p99 {fmt(s['p99_ms'])} ms")
    if system == "tantivy" and "queries" in res:
        res["queries_plain"] = res["queries"]  # tantivy makes no snippets: its queries are the plain ones
    elif system == "ours":
        log(f"{system}: queries without snippets (fresh process)")
        plain = run_child(
            system_cmd(system, "query-plain", str(index_dir), str(spec_path), budget),
            args.timeout,
            f"{system}-query-plain",
            logdir,
            args.mem_limit,
        )
        if "error" not in plain:
            res["queries_plain"] = summarize_queries(plain)
            for label, s in res["queries_plain"].items():
                log(f"{system}: {label} without snippets p50 {fmt(s['p50_ms'])} ms p99 {fmt(s['p99_ms'])} ms")
    res["index_dir"] = str(index_dir)
    return res


def git_state() -> dict[str, Any]:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty_files": len(git("status", "--porcelain").splitlines()),
    }


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("whoosh-reloaded", "jieba", "rjieba", "tantivy", "gunicorn", "flask", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    wrk = shutil.which("wrk")
    if wrk:
        out["wrk"] = (subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split() or ["?"])[1]
    return out


# --- issue 18's targets and the median of several runs -------------------------------------

SCALE_TARGETS_FROM = 1_000_000  # the absolute targets are the one-million-article run's


@dataclass(frozen=True)
class Target:
    """A bound on ``ours ÷ other`` (``other`` naive or tantivy) or, with ``other`` None, on ours' own value."""

    label: str  # as printed: "≥ 3× naive", "< 60 min"
    bound: float
    higher: bool = False  # the value must be at least ``bound`` (else at most)
    other: str | None = None
    scale_only: bool = False  # checked only at SCALE_TARGETS_FROM articles or more

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.bound if self.higher else value <= self.bound


def vs(other: str, bound: float, higher: bool = False) -> Target:
    sign = "≥" if higher else "≤"
    return Target(f"{sign} {bound:g}× {other}", bound, higher, other)


def at_scale(label: str, bound: float) -> Target:
    return Target(label, bound, scale_only=True)


def median(values: list[float]) -> float | None:
    return percentile(values, 50)


def median_report(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs' reports merged: every number is the median over the runs that have it.

    Lists (raw latencies) and strings are the first run's; ``per_run`` keeps the
    runs, from which ``table`` takes the median of each run's own ratios.
    """

    def merge(nodes: list[Any]) -> Any:
        first = nodes[0]
        if isinstance(first, dict):
            keys = list(dict.fromkeys(k for n in nodes if isinstance(n, dict) for k in n))
            return {k: merge([n[k] for n in nodes if isinstance(n, dict) and k in n]) for k in keys}
        numbers = [n for n in nodes if isinstance(n, (int, float)) and not isinstance(n, bool)]
        if numbers and len(numbers) == len(nodes):
            m = median(numbers)
            return int(m) if all(isinstance(n, int) for n in numbers) and m == int(m) else m  # type: ignore[arg-type]
        return first

    merged = merge(reports)
    merged["per_run"] = reports
    return merged


def build_rows(report: dict[str, Any]) -> tuple[list[tuple[str, ...] | str], list[dict[str, Any]]]:
    """The table's rows (a str is a section heading) and the verdict on every target checked."""
    sy = report["systems"]
    runs = report.get("per_run") or [report]
    at_million = (report.get("config", {}).get("articles") or 0) >= SCALE_TARGETS_FROM
    rows: list[tuple[str, ...] | str] = []
    verdicts: list[dict[str, Any]] = []

    def get(node: Any, *path: str) -> Any:
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node if isinstance(node, (int, float)) and not isinstance(node, bool) else None

    def ratio_of(other: str, path: tuple[str, ...]) -> float | None:
        """Median over the runs of ours ÷ other, each run's ratio from its own numbers."""
        pairs = [(get(r["systems"].get("ours"), *path), get(r["systems"].get(other), *path)) for r in runs]
        return median([a / b for a, b in pairs if a is not None and b])

    def judge(name: str, targets: tuple[Target, ...], value: float | None, ratios: dict[str, float | None]) -> tuple:
        labels, marks = [], []
        for t in targets:
            if t.scale_only and not at_million:
                continue
            got = ratios.get(t.other) if t.other else value
            met = t.met(got)
            verdicts.append({"row": name, "target": t.label, "value": got, "met": met})
            labels.append(t.label)
            marks.append({True: "PASS", False: "MISS", None: "—"}[met])
        return ", ".join(labels), ", ".join(marks)

    def row(name: str, better: str, *path: str, targets: tuple[Target, ...] = ()) -> None:
        vals = [get(sy.get(s), *path) for s in SYSTEMS]
        ratios = {other: ratio_of(other, path) for other in SYSTEMS[1:]}
        label = f"{section[0]}: {name.strip()}" if section else name.strip()
        target, met = judge(label, targets, vals[0], ratios)
        rows.append((name, better, *[fmt(v) for v in vals], *[fmt_ratio(r) for r in ratios.values()], target, met))

    def heading(text: str, short: str = "") -> None:
        rows.append(text)
        section[:] = [short] if short else []

    section: list[str] = []
    heading("indexing (fresh process per system)", "indexing")
    row("  throughput, articles/s", "higher", "index", "articles_per_s", targets=(vs("naive", 3, higher=True),))
    row("  build time, s", "lower", "index", "seconds", targets=(at_scale("< 60 min", 3600),))
    row("  CPU time, all processes, s", "lower", "index", "cpu_s")
    size_targets = (vs("naive", 1), at_scale("< 6 GB", 6000))
    row("  index size on disk, MB", "lower", "index", "size_mb", targets=size_targets)
    mem_targets = (vs("naive", 2), at_scale("< 2 GB", 2000))
    row("  peak RSS, largest process, MB", "lower", "index", "max_rss_mb", targets=mem_targets)
    row("  peak memory, process tree (PSS), MB", "lower", "index", "peak_tree_pss_mb")
    heading("cold start (process start → first answer)")
    row("  in-process, s", "lower", "coldstart", "seconds")
    for label in report["query_sets"]:
        n = max((get(sy.get(s), "queries", label, "n") or 0) for s in SYSTEMS)
        heading(f"query latency, {label} queries (n={n}, each once, after warm-up), top 10", f"{label} queries")
        row("  p50, ms", "lower", "queries", label, "p50_ms", targets=(vs("naive", 0.1),))
        row(
            "  p50 without snippets, ms",
            "lower",
            "queries_plain",
            label,
            "p50_ms",
            targets=(vs("tantivy", 10),),
        )
        row("  p99 without snippets, ms", "lower", "queries_plain", label, "p99_ms")
        row("  p95, ms", "lower", "queries", label, "p95_ms")
        row("  p99, ms", "lower", "queries", label, "p99_ms", targets=(vs("naive", 0.1), at_scale("< 100 ms", 100)))
        row("  p50 CPU time, ms", "lower", "queries", label, "cpu_p50_ms")
        row("  p95 CPU time, ms", "lower", "queries", label, "cpu_p95_ms")
        row("  queries with no hit", "", "queries", label, "zero_hits")
    row("  query process peak RSS, MB", "lower", "query_process", "max_rss_mb")
    http = report.get("http", {})
    if http.get("runs") or http.get("killed"):
        heading(f"HTTP, ours only: GET /api/search, wrk, {report['config']['http_seconds']} s per level", "HTTP")

        def ours(name: str, better: str, value: str, targets: tuple[Target, ...] = (), number: float | None = None):
            target, met = judge(f"HTTP: {name.strip()}", targets, number, {})
            rows.append((name, better, value, "—", "—", "—", "—", target, met))

        procs = f"{fmt(http.get('server_processes'))} / {fmt(http.get('server_threads'))}"
        ours("  server processes / threads (after load)", "", procs)
        ours("  server start → /healthz, s", "lower", fmt(http.get("healthz_s")))
        ours("  server start → first search answer, s", "lower", fmt(http.get("first_answer_s")))
        ours("  server start → warm and idle, s", "lower", fmt(http.get("settled_s")))

        def p50_95_99(r: dict[str, Any], prefix: str = "") -> str:
            return " / ".join(fmt(r.get(f"{prefix}p{p}_ms")) for p in (50, 95, 99))

        if floor := http.get("floor"):
            ours("  GET /healthz (no search), c=1: p50 / p95 / p99, ms", "lower", p50_95_99(floor))
        for label, r in http.get("once", {}).items():
            ours(f"  {label} queries each once, c=1: p50 / p95 / p99, ms", "lower", p50_95_99(r))
            if r.get("took_p50_ms") is not None:
                ours("    of which the search (took_ms): p50 / p95 / p99, ms", "lower", p50_95_99(r, "took_"))
            if r.get("failures"):
                ours(f"  {label} queries each once: non-200 answers", "lower", fmt(r["failures"]))
        for c, r in http["runs"].items():
            if "error" in r:
                ours(f"  c={c}: not run or failed (see notes / JSON)", "", "—")
                continue
            ours(f"  c={c}: requests/s", "higher", fmt(r.get("rps")))
            p99_targets = (at_scale("p99 < 150 ms", 150),) if c == "4" else ()
            p50_p99 = f"{fmt(r.get('p50_ms'))} / {fmt(r.get('p99_ms'))}"
            ours(f"  c={c}: p50 / p99, ms", "lower", p50_p99, p99_targets, r.get("p99_ms"))
            ours(f"  c={c}: errors / requests", "lower", f"{fmt(r.get('errors'))} / {fmt(r.get('requests'))}")
            ours(f"  c={c}: server CPU, cores busy", "", fmt(r.get("server_cpu_cores")))
        for label, key in (
            ("  server PSS after load, MB", "server_pss_mb"),
            ("  server peak PSS (sampled 1/s), MB", "server_peak_pss_mb"),
            ("  server peak anonymous memory, MB", "server_peak_anon_mb"),
            ("  server RSS after load, MB", "server_rss_mb"),
            ("  server peak RSS (sum of VmHWM), MB", "server_peak_rss_mb"),
            ("  largest worker's peak RSS (VmHWM), MB", "server_worker_peak_rss_mb"),
        ):
            ours(label, "lower", fmt(http.get(key)))
        split = f"{fmt(http.get('server_rss_anon_mb'))} / {fmt(http.get('server_rss_file_mb'))}"
        ours("  server RSS anon / file-mapped, MB", "", split)
    if "update" in sy.get("ours", {}):
        n = get(sy["ours"], "update", "docs")
        heading(f"incremental update, ours only: {fmt(n)} new articles into the built index", "update")
        row("  update time, s", "lower", "update", "seconds", targets=(at_scale("< 30 s", 30),))
        row("  peak RSS, largest process, MB", "lower", "update", "max_rss_mb")
    return rows, verdicts


def table(report: dict[str, Any]) -> str:
    """The one table: every system side by side, ours ÷ each, and issue 18's targets with PASS / MISS."""
    rows, _ = build_rows(report)
    head = ("metric", "better", "ours", "naive", "tantivy", "ours/naive", "ours/tantivy", "target", "met")
    tuples = [r for r in rows if isinstance(r, tuple)]
    widths = [max(len(r[i]) for r in [head, *tuples]) for i in range(len(head))]
    left = (0, 1, 7, 8)

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(widths[i]) if i in left else c.rjust(widths[i]) for i, c in enumerate(cells)).rstrip()

    lines = [line(head), "-" * len(line(head))]
    lines += [r if isinstance(r, str) else line(r) for r in rows]
    return "\n".join(lines)


def target_summary(report: dict[str, Any]) -> str:
    """One line: how many of the targets checked were met, and the misses."""
    _, verdicts = build_rows(report)
    misses = [f"{v['row']} ({v['target']})" for v in verdicts if v["met"] is False]
    unmeasured = [f"{v['row']} ({v['target']})" for v in verdicts if v["met"] is None]
    text = f"targets (issue 18): {sum(v['met'] is True for v in verdicts)} of {len(verdicts)} met"
    if misses:
        text += "; MISS: " + "; ".join(misses)
    if unmeasured:
        text += "; not measured: " + "; ".join(unmeasured)
    return text


def run_once(
    args: argparse.Namespace,
    systems: list[str],
    corpus: Path,
    spec_path: Path,
    spec: dict,
    short: str,
    run_dir: Path,
    update_path: Path | None,
) -> dict[str, Any]:
    """One run: build and query every system in fresh processes, serve ours over HTTP, update ours."""
    run: dict[str, Any] = {"systems": {}, "http": {}, "notes": []}
    for system in SYSTEMS:
        if system not in systems:
            run["notes"].append(f"{system}: not selected (--systems)")
            continue
        why = available(system)
        if why:
            run["notes"].append(f"{system}: {why}")
            log(f"{system}: {why}")
            continue
        result = run_system(system, corpus, spec_path, spec, args, run_dir)
        run["systems"][system] = result
        for key in ("error", "queries_error"):
            if key in result:
                run["notes"].append(f"{system}: {result[key][:300]}")
        build_errors = (result.get("index") or {}).get("detail", {}).get("errors") or []
        if build_errors:  # a build that left articles out measured a smaller corpus than the table says
            run["notes"].append(
                f"{system}: indexed {result['index']['docs']:,} documents; first error: {build_errors[0][:200]}"
            )
        for phase, node in (("indexing", result.get("index")), ("queries", result.get("query_process"))):
            if node and node.get("foreign_cores", 0) > 0.25:
                run["notes"].append(
                    f"{system} {phase}: other processes kept {node['foreign_cores']:.2f} of "
                    f"{os.cpu_count()} cores busy meanwhile; compare CPU-time rows"
                )
        for label, s in result.get("queries", {}).items():
            if s["budget_stopped"]:
                run["notes"].append(
                    f"{system}: {label} queries stopped after the {args.query_budget:.0f} s budget ({s['n']} measured)"
                )
            if s["errors"]:
                run["notes"].append(
                    f"{system}: {s['errors']} {label} queries raised errors {result['query_error_types']}"
                )
    if args.reuse_index and "ours" in run["systems"]:
        run["notes"].append(f"ours: index reused from {args.reuse_index}, built before this run (no indexing rows)")
    ours_index = run["systems"].get("ours", {}).get("index_dir")
    if args.no_http:
        run["http"] = {"skipped": "--no-http"}
    elif not ours_index or "index" not in run["systems"]["ours"]:
        run["http"] = {"skipped": "no index of ours to serve"}
    else:
        log(f"HTTP: serving {ours_index}")
        try:
            run["http"] = http_bench(Path(ours_index), spec, short, args, run_dir / "logs")
        except Exception as exc:  # never lose the other results
            run["http"] = {"skipped": f"HTTP part failed: {exc!r}"}
    for key in ("skipped", "killed"):
        if key in run["http"]:
            run["notes"].append(f"HTTP: {run['http'][key]}")
    ours = run["systems"].get("ours", {})
    if update_path and "index" in ours:
        log(f"ours: incremental update of {update_path.name}")
        cmd = system_cmd("ours", "update", ours["index_dir"], str(update_path))
        done = run_child(cmd, args.timeout, "ours-update", run_dir / "logs", args.mem_limit)
        if "error" in done:
            run["notes"].append(f"ours: incremental update failed: {done['error'][:300]}")
        else:
            r = done["result"]
            ours["update"] = {"docs": r["docs"], "seconds": r["seconds"], "max_rss_mb": done["max_rss_mb"]}
            log(f"ours: updated {r['docs']:,} articles in {r['seconds']:.1f} s")
    return run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; ``argv`` as on the command line (default: ``sys.argv[1:]``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="JSONL(.gz) articles (default: %(default)s)")
    ap.add_argument(
        "--queries",
        nargs="+",
        metavar="[LABEL=]PATH",
        help="queries.tsv files (qid<TAB>query); default: short=qbqtc-dev, long=xwlb-title-dev",
    )
    ap.add_argument(
        "--scale", type=int, help="build a corpus of N articles from xwlb + sina2018, replicated with new ids"
    )
    ap.add_argument("--articles", type=int, help="use only the first N articles of --corpus")
    ap.add_argument("--quick", action="store_true", help="3,000 articles, 50+50 queries, 3 s HTTP runs (~2-3 min)")
    ap.add_argument("--n-queries", type=int, default=200, help="measured queries per set (default: %(default)s)")
    ap.add_argument(
        "--warmup", type=int, default=20, help="warm-up queries per set, not measured (default: %(default)s)"
    )
    ap.add_argument("--seed", type=int, default=20261129, help="query sampling seed")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of ours,naive,tantivy")
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP load test")
    ap.add_argument("--http-seconds", type=int, default=10, help="duration of each wrk run (default: %(default)s)")
    ap.add_argument("--http-timeout", type=int, default=30, help="wrk request timeout, s (default: %(default)s)")
    ap.add_argument("--http-warmup", type=int, default=16, help="warm-up requests before wrk (default: %(default)s)")
    ap.add_argument(
        "--query-budget",
        type=float,
        default=300,
        help="stop a query set after this many seconds (default: %(default)s)",
    )
    ap.add_argument("--timeout", type=float, default=3600, help="limit for any one worker process, s")
    ap.add_argument(
        "--mem-limit",
        type=float,
        default=default_mem_limit(),
        help="kill a worker whose memory (PSS) or the server whose anonymous memory passes this many MB\n"
        "(default: half of RAM or 70%% of what is available now, whichever is less: %(default)s)",
    )
    ap.add_argument("--workdir", help="where corpora, indexes and logs go (default: a new temp dir, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (indexes, logs)")
    ap.add_argument("--out", help="write the full JSON (with raw latencies) here")
    ap.add_argument(
        "--reuse-index",
        metavar="DIR",
        help="measure ours' queries, HTTP and update on this index (built earlier from the same corpus: --keep)\n"
        "instead of building one; the indexing rows stay empty, and --update writes into it",
    )
    ap.add_argument(
        "--runs", type=int, default=1, help="repeat the whole run N times and report medians (default: %(default)s)"
    )
    ap.add_argument(
        "--update",
        type=int,
        default=1000,
        help="after each run, add this many articles (copies with new ids) to ours' index\n"
        "incrementally and time it; 0 skips (default: %(default)s)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.articles = args.articles or 3000
        args.n_queries = min(args.n_queries, 50)
        args.warmup = min(args.warmup, 10)
        args.http_seconds = min(args.http_seconds, 3)
        args.http_warmup = min(args.http_warmup, 8)
        args.query_budget = min(args.query_budget, 60)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        ap.error(f"unknown systems: {', '.join(sorted(unknown))}")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    for label, path in (sets := load_queries(args.queries)):
        if not path.exists():
            ap.error(f"query file {path} ({label}) not found")
    if not args.scale and not Path(args.corpus).exists():
        ap.error(f"corpus {args.corpus} not found")

    started = time.perf_counter()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="news-search-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    log(f"work dir {workdir}")
    try:
        corpus, n_articles, corpus_desc = prepare_corpus(args, workdir)
        log(f"corpus: {corpus_desc}")
        update_path = update_corpus(corpus, workdir, args.update) if args.update > 0 else None
        spec = sample_queries(sets, args.n_queries, args.warmup, args.seed)
        # Cold start asks a headline-like query (warm-up set, so never a measured one).
        long_label = max(spec["warmup_sets"], key=lambda k: sum(map(len, spec["warmup_sets"][k])))
        spec["cold_query"] = spec["warmup_sets"][long_label][0]
        spec_path = workdir / "queries.json"
        spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        medians = {k: sorted(map(len, v))[len(v) // 2] if v else 0 for k, v in spec["sets"].items()}
        short = min(medians, key=medians.get)  # type: ignore[arg-type]
        report: dict[str, Any] = {
            "config": {
                "corpus": corpus_desc,
                "corpus_path": str(args.corpus if not args.scale else corpus),
                "articles": n_articles,
                "query_sets": {label: str(path) for label, path in sets},
                "queries_per_set": {k: len(v) for k, v in spec["sets"].items()},
                "median_query_chars": medians,
                "warmup_per_set": args.warmup,
                "cold_query": spec["cold_query"],
                "seed": args.seed,
                "http_seconds": args.http_seconds,
                "http_timeout_s": args.http_timeout,
                "http_queries": short,
                "quick": args.quick,
                "runs": args.runs,
                "update_articles": args.update,
                "cores": os.cpu_count(),
                "machine": platform.platform(),
                "versions": versions(),
                "git": git_state(),
                "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            },
            "query_sets": list(spec["sets"]),
            "systems": {},
            "notes": [],
        }
        runs = []
        for i in range(1, args.runs + 1):
            run_dir = workdir if args.runs == 1 else workdir / f"run{i}"
            (run_dir / "logs").mkdir(parents=True, exist_ok=True)
            if args.runs > 1:
                log(f"run {i} of {args.runs}")
            runs.append(run_once(args, systems, corpus, spec_path, spec, short, run_dir, update_path))
            # a long --runs interrupted later keeps the runs it finished
            (run_dir / "run.json").write_text(json.dumps(runs[-1], ensure_ascii=False, default=str), encoding="utf-8")
            if args.runs > 1 and not (args.keep or args.workdir):
                for index_dir in run_dir.glob("index-*"):
                    shutil.rmtree(index_dir, ignore_errors=True)
        if args.runs > 1:
            merged = median_report(runs)
            report["systems"], report["http"], report["per_run"] = merged["systems"], merged["http"], runs
            report["notes"] += [f"run {i}: {note}" for i, r in enumerate(runs, 1) for note in r["notes"]]
            report["notes"].append(f"numbers are medians of {args.runs} runs; ratios the median of each run's own")
        else:
            report.update(systems=runs[0]["systems"], http=runs[0]["http"])
            report["notes"] += runs[0]["notes"]
        report["targets"] = build_rows(report)[1]
        report["total_wall_s"] = time.perf_counter() - started
        summary = json.loads(json.dumps(report))
        for node in [summary, *summary.get("per_run", [])]:
            for s in node["systems"].values():
                s.pop("queries_raw_ms", None)
        print()
        print(
            f"news-search benchmark: {corpus_desc}; queries {', '.join(f'{k} {len(v)}' for k, v in spec['sets'].items())}; "
            f"{os.cpu_count()} cores; {report['config']['date']}"
        )
        print("ratios are ours ÷ other (for 'lower' rows, below 1× means ours is better; for 'higher', above 1×)")
        print(table(report))
        print(target_summary(report))
        for note in report["notes"]:
            print(f"note: {note}")
        print(f"total wall time {report['total_wall_s']:.0f} s")
        print()
        print(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
        if args.out:
            Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            log(f"wrote {args.out}")
        return 0
    finally:
        if args.keep or args.workdir:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        sys.exit(worker(sys.argv[2:]))
    sys.exit(main())
