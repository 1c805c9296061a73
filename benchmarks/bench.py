"""Benchmark: this project as served vs the naive Whoosh+jieba tutorial setup vs tantivy.

Builds each system's index from the same corpus in a fresh process, measures
indexing throughput, index size, peak memory, cold start and in-process query
latency on short and long queries, then serves this project's index with
``python cli.py serve`` (gunicorn) and load-tests ``/api/search`` with wrk at
1, 4 and 16 concurrent clients. Prints an aligned table (with the ratios of
this project against the other two) and JSON. See benchmarks/README.md.

Run from the project root:

    python benchmarks/bench.py [--corpus PATH] [--queries [LABEL=]PATH ...] [--scale N]
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
    def __init__(self, index_dir: str) -> None:
        sys.path.insert(0, str(ROOT))
        import search

        self.engine = search.open_engine(search.load_settings(overrides={"INDEX": index_dir}))

    def search(self, q: str, size: int = 10) -> tuple[int, int]:
        res = self.engine.search(q, size=size)
        return len(res.hits), sum(1 for h in res.hits if h.snippet)


def ours_build(corpus: str, index_dir: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import search

    settings = search.load_settings(overrides={"INDEX": index_dir})
    store = search.open_engine(settings).store
    started = time.perf_counter()
    report = search.reindex(store, [corpus], full=True)
    seconds = time.perf_counter() - started
    return {
        "docs": report.doc_count,
        "seconds": seconds,
        "report": {k: v for k, v in report.to_json().items() if k not in ("errors", "warnings")},
        "errors": report.errors[:5],
    }


def worker(argv: list[str]) -> int:
    """``bench.py _worker ours {index|query|coldstart} ...``: the same protocol as naive.py / tantivy_ref.py."""
    sys.path.insert(0, str(HERE))
    from naive import run_queries  # the shared query loop (pure Python, no Whoosh import)

    cmd = argv[0]
    if cmd == "index":
        result = ours_build(argv[1], argv[2])
    elif cmd == "query":
        with open(argv[2], encoding="utf-8") as f:
            spec = json.load(f)
        budget = float(argv[3]) if len(argv) > 3 else 1e9
        result = run_queries(OursSearcher(argv[1]), spec, budget)
    elif cmd == "coldstart":
        s = OursSearcher(argv[1])
        opened = time.perf_counter()
        shown, _ = s.search(argv[2])
        answered = time.perf_counter()
        result = {"open_s": opened - T0, "first_query_s": answered - opened, "hits": shown}
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


def ratio(a: Any, b: Any) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return "—"
    r = a / b
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


def table(report: dict[str, Any]) -> str:
    sy = report["systems"]

    def get(system: str, *path: str) -> Any:
        node: Any = sy.get(system, {})
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    rows: list[tuple[str, ...] | str] = []

    def row(name: str, better: str, *path: str, systems: tuple[str, ...] = SYSTEMS) -> None:
        vals = [get(s, *path) if s in systems else None for s in SYSTEMS]
        rows.append((name, better, *[fmt(v) for v in vals], ratio(vals[0], vals[1]), ratio(vals[0], vals[2])))

    rows.append("indexing (fresh process per system)")
    row("  throughput, articles/s", "higher", "index", "articles_per_s")
    row("  build time, s", "lower", "index", "seconds")
    row("  CPU time, all processes, s", "lower", "index", "cpu_s")
    row("  index size on disk, MB", "lower", "index", "size_mb")
    row("  peak RSS, largest process, MB", "lower", "index", "max_rss_mb")
    row("  peak memory, process tree (PSS), MB", "lower", "index", "peak_tree_pss_mb")
    rows.append("cold start (process start → first answer)")
    row("  in-process, s", "lower", "coldstart", "seconds")
    sets = report["query_sets"]
    for label in sets:
        n = max((get(s, "queries", label, "n") or 0) for s in SYSTEMS)
        rows.append(f"query latency, {label} queries (n={n}, each once, after warm-up), top 10")
        for p in ("p50", "p95", "p99"):
            row(f"  {p}, ms", "lower", "queries", label, f"{p}_ms")
        row("  p50 CPU time, ms", "lower", "queries", label, "cpu_p50_ms")
        row("  p95 CPU time, ms", "lower", "queries", label, "cpu_p95_ms")
        row("  queries with no hit", "", "queries", label, "zero_hits")
    row("  query process peak RSS, MB", "lower", "query_process", "max_rss_mb")
    http = report.get("http", {})
    if http.get("runs") or http.get("killed"):
        rows.append(f"HTTP, ours only: GET /api/search, wrk, {report['config']['http_seconds']} s per level")

        def ours(label: str, better: str, value: str) -> None:
            rows.append((label, better, value, "—", "—", "—", "—"))

        procs = f"{fmt(http.get('server_processes'))} / {fmt(http.get('server_threads'))}"
        ours("  server processes / threads (after load)", "", procs)
        ours("  server start → /healthz, s", "lower", fmt(http.get("healthz_s")))
        ours("  server start → first search answer, s", "lower", fmt(http.get("first_answer_s")))
        ours("  server start → warm and idle, s", "lower", fmt(http.get("settled_s")))

        def p50_95_99(r: dict[str, Any], prefix: str = "") -> str:
            return " / ".join(fmt(r[f"{prefix}p{p}_ms"]) for p in (50, 95, 99))

        if floor := http.get("floor"):
            ours("  GET /healthz (no search), c=1: p50 / p95 / p99, ms", "lower", p50_95_99(floor))
        for label, r in http.get("once", {}).items():
            ours(f"  {label} queries each once, c=1: p50 / p95 / p99, ms", "lower", p50_95_99(r))
            if r.get("took_p50_ms") is not None:
                ours("    of which the search (took_ms): p50 / p95 / p99, ms", "lower", p50_95_99(r, "took_"))
            if r["failures"]:
                ours(f"  {label} queries each once: non-200 answers", "lower", str(r["failures"]))
        for c, r in http["runs"].items():
            if "error" in r:
                ours(f"  c={c}: not run or failed (see notes / JSON)", "", "—")
                continue
            ours(f"  c={c}: requests/s", "higher", fmt(r["rps"]))
            ours(f"  c={c}: p50 / p99, ms", "lower", f"{fmt(r['p50_ms'])} / {fmt(r['p99_ms'])}")
            ours(f"  c={c}: errors / requests", "lower", f"{r['errors']} / {r['requests']}")
            ours(f"  c={c}: server CPU, cores busy", "", fmt(r["server_cpu_cores"]))
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
    head = ("metric", "better", "ours", "naive", "tantivy", "ours/naive", "ours/tantivy")
    tuples = [r for r in rows if isinstance(r, tuple)]
    widths = [max(len(r[i]) for r in [head, *tuples]) for i in range(len(head))]
    lines = []
    line = "  ".join(h.ljust(widths[i]) if i < 2 else h.rjust(widths[i]) for i, h in enumerate(head))
    lines += [line, "-" * len(line)]
    for r in rows:
        if isinstance(r, str):
            lines.append(r)
        else:
            lines.append("  ".join(v.ljust(widths[i]) if i < 2 else v.rjust(widths[i]) for i, v in enumerate(r)))
    return "\n".join(lines)


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
        for system in SYSTEMS:
            if system not in systems:
                report["notes"].append(f"{system}: not selected (--systems)")
                continue
            why = available(system)
            if why:
                report["notes"].append(f"{system}: {why}")
                log(f"{system}: {why}")
                continue
            result = run_system(system, corpus, spec_path, spec, args, workdir)
            report["systems"][system] = result
            for key in ("error", "queries_error"):
                if key in result:
                    report["notes"].append(f"{system}: {result[key][:300]}")
            for phase, node in (("indexing", result.get("index")), ("queries", result.get("query_process"))):
                if node and node.get("foreign_cores", 0) > 0.25:
                    report["notes"].append(
                        f"{system} {phase}: other processes kept {node['foreign_cores']:.2f} of "
                        f"{os.cpu_count()} cores busy meanwhile; compare CPU-time rows"
                    )
            for label, s in result.get("queries", {}).items():
                if s["budget_stopped"]:
                    report["notes"].append(
                        f"{system}: {label} queries stopped after the {args.query_budget:.0f} s budget ({s['n']} measured)"
                    )
                if s["errors"]:
                    report["notes"].append(
                        f"{system}: {s['errors']} {label} queries raised errors {result['query_error_types']}"
                    )
        ours_index = report["systems"].get("ours", {}).get("index_dir")
        if args.no_http:
            report["http"] = {"skipped": "--no-http"}
        elif not ours_index or "index" not in report["systems"]["ours"]:
            report["http"] = {"skipped": "no index of ours to serve"}
        else:
            log(f"HTTP: serving {ours_index}")
            try:
                report["http"] = http_bench(Path(ours_index), spec, short, args, workdir / "logs")
            except Exception as exc:  # never lose the other results
                report["http"] = {"skipped": f"HTTP part failed: {exc!r}"}
        for key in ("skipped", "killed"):
            if key in report["http"]:
                report["notes"].append(f"HTTP: {report['http'][key]}")
        report["total_wall_s"] = time.perf_counter() - started
        summary = json.loads(json.dumps(report))
        for s in summary["systems"].values():
            s.pop("queries_raw_ms", None)
        print()
        print(
            f"news-search benchmark: {corpus_desc}; queries {', '.join(f'{k} {len(v)}' for k, v in spec['sets'].items())}; "
            f"{os.cpu_count()} cores; {report['config']['date']}"
        )
        print("ratios are ours ÷ other (for 'lower' rows, below 1× means ours is better; for 'higher', above 1×)")
        print(table(report))
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
