"""Replicas behind nginx: three ``serve`` replicas, ``deploy/nginx.conf``, publishes under load.

One machine stands in for a cluster, on loopback only: an indexer's index
(the project's sample corpus), three replica index directories filled by
``cli.py publish``, three ``cli.py serve`` replicas started with the command
and environment of ``deploy/news-search.service`` (one worker each, to fit two
cores) and nginx run as the test user from ``deploy/nginx.conf`` itself, its
placeholders filled. wrk loads nginx for ``NEWS_SEARCH_REPLICA_SECONDS``
(default 60) while:

1. a publish of a new generation (the indexer's, with one extra article, built
   before the load) to one replica is killed halfway through its copy (rsync
   slowed with ``--bwlimit``);
2. the generation is published to all three replicas;
3. one replica is killed with SIGKILL and restarted.

It passes when wrk saw no failed request (no socket errors, no non-2xx) but
at most one that nginx's error log lays on the killed replica (``KILL_LOSS``), a
poller asking each live replica directly saw no failure, every replica
answered from the new generation (``/healthz`` and a search for the extra
article) within 5 s of the publish, and the interrupted replica answered from
its old generation until the complete publish. A quicker test checks the
config's rate limit, gzip and static files. Marked slow; needs nginx, wrk and
rsync (``tests/setup_system.sh``).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pwd
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import write_jsonl
from .parts import require_executable
from .test_soak import WRK_LUA, _free_port, _get, _tree, request_mix

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SECONDS = int(os.environ.get("NEWS_SEARCH_REPLICA_SECONDS", "60"))
SWITCH_LIMIT_S = 5.0
CONNECTIONS = 4
KILL_LOSS = 1  # wrk requests the SIGKILLed replica may take down with it: one answer cut off mid-way
EXTRA = {
    "id": "replica-extra-1",
    "title": "蓝鲸湾灯塔音乐节周末开幕",
    "published": "2024-05-01 09:00:00",
    "source": "衡阳晚报",
    "body": "首届蓝鲸湾灯塔音乐节本周末在湘江边开幕，主办方增开了夜间公交。",
}
EXTRA_QUERY = "/api/search?size=50&q=" + urllib.parse.quote("蓝鲸湾灯塔音乐节")

pytestmark = pytest.mark.slow


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, timeout=300, **kwargs
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def unit_command(host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The replica's command and environment, read from deploy/news-search.service."""
    unit = (DEPLOY / "news-search.service").read_text(encoding="utf-8")
    exec_start = shlex.split(re.search(r"^ExecStart=(.+)$", unit, re.M).group(1))
    env = dict(re.findall(r"^Environment=(\w+)=(.*)$", unit, re.M))
    argv = [sys.executable, *exec_start[1:]]  # the unit's interpreter is the deployed .venv's
    argv[argv.index("--host") + 1] = host
    argv[argv.index("--port") + 1] = str(port)
    return argv, env


def render_nginx(path: Path, listen: str, upstream_ports: list[int], rate: str) -> Path:
    """Fill deploy/nginx.conf's placeholders for a run as the test user in ``path``."""
    for sub in ("logs", "state"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    values = {
        "@USER@": pwd.getpwuid(os.getuid()).pw_name,  # only used (and needed) when the test runs as root
        "@LISTEN@": listen,
        "@UPSTREAMS@": " ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstream_ports),
        "@STATIC_ROOT@": str(ROOT / "search" / "web" / "static"),
        "@STATE@": str(path / "state"),
        "@LOGS@": str(path / "logs"),
        "@SEARCH_RATE@": rate,
    }
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(key, value)
    assert not re.search(r"@[A-Z_]+@", text), "a placeholder of deploy/nginx.conf is not filled"
    conf = path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


@contextlib.contextmanager
def running_nginx(path: Path, upstream_ports: list[int], rate: str) -> Iterator[tuple[str, int]]:
    """Run nginx from deploy/nginx.conf; yield its base URL and the master's pid."""
    nginx = require_executable("/usr/sbin/nginx", "nginx")
    port = _free_port()
    conf = render_nginx(path, f"127.0.0.1:{port}", upstream_ports, rate)
    argv = [nginx, "-p", str(path), "-c", str(conf), "-e", str(path / "logs" / "error.log")]
    pid = f"pid {path / 'nginx.pid'};"  # the default, /run/nginx.pid, is root's
    check = subprocess.run([*argv, "-g", pid, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        [*argv, "-g", f"daemon off; {pid}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base + "/static/search.css"), 10, "nginx did not start")
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (nginx's master and workers)."""
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _answers(url: str) -> bool:
    try:
        return _get(url, timeout=2)[0] == 200
    except OSError:
        return False


def wait_until(condition, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.1)


@dataclass
class Replica:
    index: Path
    port: int
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        argv, env = unit_command("127.0.0.1", self.port)
        env = {**os.environ, **env, "NEWS_SEARCH_INDEX": str(self.index), "NEWS_SEARCH_SERVE_WORKERS": "1"}
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def wait_ready(self) -> None:
        wait_until(lambda: _answers(self.base + "/healthz"), 60, f"replica on {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def generation(self) -> str:
        return json.loads(_get(self.base + "/healthz")[1])["generation"]


@dataclass
class Cluster:
    source: Path
    replicas: list[Replica]
    tmp: Path
    article_ids: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    require_executable("rsync", "rsync")
    require_executable("/usr/sbin/nginx", "nginx")
    tmp = tmp_path_factory.mktemp("replicas")
    source = tmp / "indexer"
    cli("--index", str(source), "reindex", str(ROOT / "sample"), "--full")
    dests = [tmp / f"replica{i}" for i in (1, 2, 3)]
    cli("--index", str(source), "publish", *[a for d in dests for a in ("--to", str(d))])
    replicas = [Replica(d, _free_port(), tmp / f"replica{i}.log") for i, d in enumerate(dests, 1)]
    try:
        for replica in replicas:
            replica.launch()
        for replica in replicas:
            replica.wait_ready()
        import search

        engine = search.SearchEngine(search.IndexStore(dests[0], search.Analyzer()))
        ids = [hit.id for q in ("疫情防控", "高铁", "大学生", "会议", "经济") for hit in engine.search(q, size=12).hits]
        yield Cluster(source, replicas, tmp, list(dict.fromkeys(ids)))
    finally:
        for replica in replicas:
            replica.stop()


def test_nginx_config_limits_search_rate_compresses_and_serves_static_files(cluster, tmp_path):
    ports = [r.port for r in cluster.replicas]
    with running_nginx(tmp_path, ports, "1r/m") as (base, _):
        request = urllib.request.Request(base + "/static/search.css", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            css_headers, css = answer.headers, answer.read()
        statuses = [_get(base + "/api/search?q=" + urllib.parse.quote("衡阳"))[0] for _ in range(45)]
        limited = _get(base + "/api/suggest?q=" + urllib.parse.quote("衡阳"))[0]
        static = _get(base + "/static/search.js")[0]
    assert css_headers["Content-Encoding"] == "gzip"
    assert css_headers["Expires"] is not None  # nginx served it (a replica's Flask sets no Expires)
    assert gzip.decompress(css) == (ROOT / "search" / "web" / "static" / "search.css").read_bytes()
    # one request and a burst of 40 pass; then a client asking faster than the rate gets 429,
    # for every request to the replicas, but not for static files
    assert statuses == [200] * 41 + [429] * 4
    assert (limited, static) == (429, 200)


def test_publish_under_load_through_nginx(cluster, tmp_path, capsys):
    require_executable("wrk", "wrk")
    replicas, source = cluster.replicas, cluster.source
    old = replicas[0].generation()
    assert [r.generation() for r in replicas] == [old] * 3
    # the indexer's new generation: built before the load, so that the events fit any machine's minute
    cli("--index", str(source), "reindex", str(ROOT / "sample"), str(write_jsonl(tmp_path / "x.jsonl", [EXTRA])), "--full")  # fmt: skip
    samples: list[tuple[float, int, str | None, bool | None]] = []  # (t, replica, generation or None, extra found)
    via_nginx: list[tuple[float, int]] = []
    down: dict[int, tuple[float, float]] = {}  # replica -> (killed, answering again)
    stop = threading.Event()
    t0 = time.monotonic()

    with running_nginx(tmp_path / "nginx", [r.port for r in replicas], "100000r/s") as (base, nginx_pid):

        def poll() -> None:
            while not stop.wait(0.1):
                for i, replica in enumerate(replicas):
                    t = time.monotonic() - t0
                    try:
                        health = json.loads(_get(replica.base + "/healthz", timeout=5)[1])
                        hits = json.loads(_get(replica.base + EXTRA_QUERY, timeout=5)[1])["hits"]
                        found = any(hit["id"] == EXTRA["id"] for hit in hits)
                        samples.append((t, i, health.get("generation"), found))
                    except (OSError, ValueError, KeyError):
                        samples.append((t, i, None, None))
                try:
                    via_nginx.append((time.monotonic() - t0, _get(base + "/healthz", timeout=10)[0]))
                except OSError:
                    via_nginx.append((time.monotonic() - t0, 0))

        paths = request_mix(cluster.article_ids)
        script = tmp_path / "mix.lua"
        script.write_text(WRK_LUA % ",\n".join(json.dumps(p) for p in paths), encoding="utf-8")
        wrk = subprocess.Popen(
            ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout=10s", "-s", str(script), base],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        nginx_cpu = cpu_seconds(nginx_pid)
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            # 1. a publish of the new generation to replica 3, killed halfway through its copy
            time.sleep(2)
            gen_bytes = sum(p.stat().st_size for p in (source / (source / "CURRENT").read_text().strip()).iterdir())
            slow = subprocess.Popen(
                [sys.executable, str(ROOT / "cli.py"), "--index", str(source), "publish", "--to", str(replicas[2].index), "--bwlimit", "2000"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

            def copied() -> int:
                total = 0
                for d in replicas[2].index.glob("tmp-pub-*"):
                    for f in d.iterdir():
                        with contextlib.suppress(FileNotFoundError):  # rsync renames its temporary files
                            total += f.stat().st_size
                return total

            wait_until(lambda: copied() > gen_bytes * 0.4, 30, "the slowed publish did not copy 40 %")
            os.killpg(slow.pid, signal.SIGKILL)
            slow.wait()
            t_interrupted = time.monotonic() - t0
            halfway = copied() / gen_bytes
            assert halfway < 0.95 and (replicas[2].index / "CURRENT").read_text().strip() == old
            time.sleep(2)  # the interrupted replica serves on

            # 2. the new generation to all three
            t_publish = time.monotonic() - t0
            done = cli(
                "--index", str(source), "publish", "--json", *[a for r in replicas for a in ("--to", str(r.index))]
            )
            t_published = time.monotonic() - t0
            results = json.loads(done.stdout)
            new = results[0]["generation"]
            assert new != old and [(r["generation"], r["error"]) for r in results] == [(new, None)] * 3
            time.sleep(SWITCH_LIMIT_S + 0.5)

            # 3. replica 2 killed with SIGKILL, then restarted
            time.sleep(max(0.0, SECONDS * 0.45 - (time.monotonic() - t0)))
            t_killed = time.monotonic() - t0
            replicas[1].kill()
            time.sleep(2)
            replicas[1].start()
            down[1] = (t_killed, time.monotonic() - t0)
            assert replicas[1].generation() == new
            events_end = time.monotonic() - t0
        finally:
            out, _ = wrk.communicate(timeout=SECONDS + 120)
            nginx_cpu = cpu_seconds(nginx_pid) - nginx_cpu
            stop.set()
            poller.join(timeout=30)

    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    assert line is not None, out
    w = json.loads(line[len("WRKJSON ") :])
    wrk_failed = sum(w[k] for k in ("connect", "read", "write", "status", "timeout"))
    poll_failed = [
        s for s in samples if s[2] is None and not (s[1] in down and down[s[1]][0] - 0.5 <= s[0] <= down[s[1]][1])
    ]
    nginx_failed = [s for s in via_nginx if s[1] != 200]
    # when each replica first answered from the new generation, from the start of the publish
    # (copying included); it must be within SWITCH_LIMIT_S of the publish's end
    switch_s = []
    for i in range(3):
        first_new = next((s[0] for s in samples if s[1] == i and s[0] >= t_publish and s[2] == new and s[3]), None)
        switch_s.append(None if first_new is None else first_new - t_publish)
    summary = (
        f"replicas: 3 × 1 worker behind nginx, {SECONDS} s of wrk ({CONNECTIONS} connections, {len(paths)} distinct "
        f"requests): {w['requests']} requests, {w['requests'] / (w['duration_us'] / 1e6):.0f} req/s, "
        f"p50 {w['p50_us'] / 1000:.1f} ms, p99 {w['p99_us'] / 1000:.1f} ms, {wrk_failed} failed "
        f"{ {k: w[k] for k in ('connect', 'read', 'write', 'status', 'timeout') if w[k]} }, "
        f"nginx {nginx_cpu * 1e6 / max(1, w['requests'] + len(via_nginx)):.0f} µs CPU a request; "
        f"poller {len(samples)} replica samples, {len(poll_failed)} failed, {len(nginx_failed)} of {len(via_nginx)} "
        f"nginx /healthz failed; interrupted publish at {halfway:.0%} (t={t_interrupted:.1f} s), publish to 3 "
        f"took {t_published - t_publish:.1f} s, each replica answered from it after "
        + ", ".join("never" if s is None else f"{s:.1f} s" for s in switch_s)
        + f"; replica 2 down {down[1][1] - down[1][0]:.1f} s; events over at t={events_end:.0f} s"
    )
    with capsys.disabled():
        print("\n" + summary)

    assert events_end < SECONDS - 3, f"the events took {events_end:.0f} s: raise NEWS_SEARCH_REPLICA_SECONDS"

    logs = tmp_path / "nginx" / "logs"
    errors = [x for x in (logs / "error.log").read_text(errors="replace").splitlines() if "[error]" in x]
    not_200 = [x for x in (logs / "access.log").read_text(errors="replace").splitlines() if '" 200 ' not in x]
    on_killed = [x for x in errors if f"127.0.0.1:{replicas[1].port}" in x]
    # nginx retries a request a dead replica failed unless it has begun passing its answer on: a
    # response the SIGKILL cut off midway is lost to its client (KILL_LOSS), and nginx says so
    # against the killed replica; any other failure fails the test
    lost = w["read"] + w["status"]
    assert w["requests"] > 0 and wrk_failed == lost <= KILL_LOSS, (summary, errors[-5:], not_200[:5])
    assert not lost or on_killed, (summary, errors[-5:], not_200[:5])
    assert not poll_failed and not nginx_failed, (summary, poll_failed[:5], nginx_failed[:5])
    assert all(s is not None and s <= t_published - t_publish + SWITCH_LIMIT_S for s in switch_s), summary
    # every replica stays on the new generation once it answered from it
    for i in range(3):
        first_new = next(s[0] for s in samples if s[1] == i and s[2] == new and s[3])
        assert all(s[2] in (new, None) and s[3] in (True, None) for s in samples if s[1] == i and s[0] > first_new)
    # the interrupted replica answered from its old generation until the complete publish
    r3 = [s for s in samples if s[1] == 2 and t_interrupted <= s[0] <= t_publish]
    assert r3 and all((s[2], s[3]) == (old, False) for s in r3), summary
