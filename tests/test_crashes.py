"""Crashes and concurrency: SIGKILL mid-write, two writers, searching while writing.

The writers are real ``python cli.py ... reindex`` processes (started in their
own session so the test can kill exactly them), the readers are this process.
After every simulated crash the served generation (CURRENT) must open and
search with a complete document count: the old one or the new one, never a mix.

Counts (inputs tried, crashes simulated, searches done, errors seen) are
printed at the end of the module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import search
from cli import cli

ROOT = Path(__file__).resolve().parents[1]
MARKER = "常见词"  # in every article: a query that always has hits
UPDATED = "更新版本"  # in the titles written by the incremental update
WORDS = (
    "衡阳 长沙 湘江 疫情 防控 会议 市民 政府 经济 发展 项目 建设 学校 医院 交通 文化 旅游 农业 企业 工人 "
    "志愿者 社区 环境 保护 科技 创新 改革 服务 群众 安全 生产 检查 活动 开展 推进 落实 工作 部署 要求 强调"
).split()
OLD_DOCS = 3000  # the index every test starts from
NEW_EXTRA = 60  # the full rebuild adds these: a different, complete count
UPDATE_CHANGED, UPDATE_NEW = 1500, 500  # the incremental update
STATS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    capman = request.config.pluginmanager.getplugin("capturemanager")
    line = "crash counts: " + ", ".join(f"{k} {v}" for k, v in sorted(STATS.items()))
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print("\n" + line)
    else:  # pragma: no cover
        print(line)


# --- corpora and processes ----------------------------------------------------


def article(rng: random.Random, article_id: str, title_prefix: str = "") -> dict:
    body = "".join(rng.choice(WORDS) + ("。" if rng.random() < 0.15 else "") for _ in range(22))
    title = title_prefix + "".join(rng.choice(WORDS) for _ in range(4))
    return {"id": article_id, "title": title, "body": f"{MARKER}，{body}", "published": "2021-06-01 08:00:00"}


def write_corpus(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def cli_command(index: Path, *args: str) -> list[str]:
    return [sys.executable, "cli.py", "--index", str(index), *args]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NEWS_SEARCH_")}


def start(index: Path, *args: str) -> subprocess.Popen:
    """Start a CLI writer in its own session (its process group holds it and its workers only)."""
    return subprocess.Popen(
        cli_command(index, *args),
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def run(index: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli_command(index, *args), cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=300
    )


def group_members(pgid: int) -> list[int]:
    return [pid for pid, state in group_states(pgid).items() if state != "Z"]


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the writer and every process it started (they share its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def wait_gone(pgid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_lock(index: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until ``proc`` holds the index write lock (the lock file names its pid)."""
    deadline = time.monotonic() + timeout
    lock = index / "write.lock"
    while time.monotonic() < deadline:
        try:
            if lock.read_text().startswith(f"pid {proc.pid} "):
                return
        except OSError:
            pass
        assert proc.poll() is None, "the writer ended before taking the lock"
        time.sleep(0.02)
    raise AssertionError("the writer never took the lock")


def lock_held(index: Path, pid: int) -> bool:
    """Whether the write lock is held now, by ``pid`` (or the workers that inherited it): the file names the holder."""
    try:
        named = (index / "write.lock").read_text().startswith(f"pid {pid} ")
    except OSError:
        return False
    with open(index / "write.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return named
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@dataclass(frozen=True)
class AtKill:
    """What the writer was doing when it was killed, seen while its processes were stopped."""

    locked: bool  # it held the index write lock: it was writing
    new_tmp: bool  # a tmp- generation of its own existed: a full build in progress
    current: str | None


def stop_look_kill(index: Path, proc: subprocess.Popen, tmp_before: list[str]) -> AtKill:
    """SIGSTOP the writer's process group, record the lock and its tmp- generation, then SIGKILL it.

    Stopped, the processes cannot move on between the look and the kill: the
    record says exactly where the kill landed.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while any(state not in "TZX" for state in group_states(proc.pid).values()) and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = AtKill(
        locked=proc.poll() is None and lock_held(index, proc.pid),
        new_tmp=bool(set(leftovers(index)) - set(tmp_before)),
        current=(index / "CURRENT").read_text().strip() if (index / "CURRENT").exists() else None,
    )
    kill_group(proc)
    return seen


def group_states(pgid: int) -> dict[int, str]:
    states = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:
                states[int(entry.name)] = fields[0]
    return states


@dataclass
class Corpora:
    old: Path
    new: Path
    update: Path
    small: Path
    old_ids: frozenset[str]
    new_ids: frozenset[str]
    updated_ids: frozenset[str]
    template: Path
    build_seconds: float


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> Corpora:
    base = tmp_path_factory.mktemp("crash-corpora")
    rng = random.Random(42)
    old_records = [article(rng, f"n{i}") for i in range(OLD_DOCS)]
    new_records = [article(rng, f"n{i}", "新版") for i in range(OLD_DOCS)]
    new_records += [article(rng, f"m{i}", "新增") for i in range(NEW_EXTRA)]
    update_records = [article(rng, f"n{i}", UPDATED) for i in range(0, 2 * UPDATE_CHANGED, 2)]
    update_records += [article(rng, f"u{i}", UPDATED) for i in range(UPDATE_NEW)]
    old = write_corpus(base / "old" / "corpus.jsonl", old_records)
    new = write_corpus(base / "new" / "corpus.jsonl", new_records)
    update = write_corpus(base / "update" / "update.jsonl", update_records)
    small = write_corpus(base / "small" / "small.jsonl", [article(rng, f"s{i}") for i in range(5)])
    STATS["articles generated"] += len(old_records) + len(new_records) + len(update_records)
    template = base / "template"
    started = time.monotonic()
    result = run(template, "reindex", str(old), "--full")
    build_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return Corpora(
        old=old,
        new=new,
        update=update,
        small=small,
        old_ids=frozenset(r["id"] for r in old_records),
        new_ids=frozenset(r["id"] for r in new_records),
        updated_ids=frozenset(r["id"] for r in old_records) | {r["id"] for r in update_records},
        template=template,
        build_seconds=build_seconds,
    )


def fresh_index(corpora: Corpora, tmp_path: Path) -> Path:
    index = tmp_path / "ix"
    shutil.copytree(corpora.template, index)
    return index


@dataclass(frozen=True)
class State:
    generation: str
    count: int
    meta_count: int
    ids: frozenset[str]
    updated_titles: int


def served_state(index: Path, analyzer: search.Analyzer) -> State:
    """Open what CURRENT names, as a new reader would, and check it is whole and searchable."""
    store = search.IndexStore(index, analyzer)
    generation = store.current()
    assert generation is not None and generation.startswith("gen-"), f"CURRENT names {generation!r}"
    meta = store.meta()
    with store.open().searcher() as searcher:
        count = searcher.doc_count()
        fields = list(searcher.all_stored_fields())
    ids = frozenset(f["id"] for f in fields)
    assert len(ids) == count == len(fields), "one live document per id"
    engine = search.SearchEngine(store)
    res = engine.search(MARKER, size=5, collapse=False, snippets=False)
    STATS["searches"] += 1
    assert res.total == count and len(res.hits) == 5
    title_hit = engine.search(fields[0]["title"], size=5, collapse=False)
    STATS["searches"] += 1
    assert title_hit.total >= 1
    engine.store.close()
    return State(generation, count, meta["doc_count"], ids, sum(UPDATED in f["title"] for f in fields))


def leftovers(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("tmp-"))


# --- SIGKILL during a full rebuild --------------------------------------------

FULL_KILLS = 8


@pytest.mark.slow
def test_sigkill_during_full_rebuild(corpora, tmp_path, analyzer):
    """Kill ``reindex --full`` (and its workers) at random moments of its build: CURRENT always serves a whole generation.

    Each kill is recorded (the writer's processes stopped first): it held the
    lock and its own ``tmp-`` generation existed, so the kill landed mid-build.
    """
    index = fresh_index(corpora, tmp_path)
    state = served_state(index, analyzer)
    assert (state.count, state.ids) == (OLD_DOCS, corpora.old_ids)
    rng = random.Random(20261129)
    mid_build, kills = 0, []
    for _ in range(FULL_KILLS):
        before = state
        tmp_before = leftovers(index)
        proc = start(index, "reindex", str(corpora.new), "--full")
        wait_for_lock(index, proc)
        deadline = time.monotonic() + 30
        while not set(leftovers(index)) - set(tmp_before) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # its own tmp- generation: the build has begun
        time.sleep(rng.uniform(0.05, max(0.3, corpora.build_seconds * 0.4)))
        seen = stop_look_kill(index, proc, tmp_before)
        kills.append(seen)
        STATS["crashes simulated (full rebuild)"] += 1
        state = served_state(index, analyzer)
        if seen.locked and seen.new_tmp and seen.current == before.generation:  # mid-build: the old one serves
            mid_build += 1
            assert state.generation == before.generation
        if state.generation == before.generation:
            assert (state.count, state.ids) == (before.count, before.ids)
            assert state.meta_count == before.count
        else:  # the kill came after the switch: the new generation is complete
            assert (state.count, state.ids, state.meta_count) == (OLD_DOCS + NEW_EXTRA, corpora.new_ids, state.count)
        assert wait_gone(proc.pid), "the writer's processes outlived the kill"
    STATS["kills that landed mid-build (lock held, own tmp- generation)"] += mid_build
    assert mid_build >= FULL_KILLS - 2, f"only {mid_build} of {FULL_KILLS} kills landed mid-build: {kills}"
    # a normal rebuild afterwards succeeds and removes what the crashes left behind
    result = run(index, "reindex", str(corpora.new), "--full")
    assert result.returncode == 0, result.stderr
    assert f"{OLD_DOCS + NEW_EXTRA} indexed" in result.stdout
    state = served_state(index, analyzer)
    assert (state.count, state.ids, state.meta_count) == (OLD_DOCS + NEW_EXTRA, corpora.new_ids, state.count)
    assert leftovers(index) == []
    assert len([p for p in index.iterdir() if p.name.startswith("gen-")]) <= 2


@pytest.mark.slow
def test_sigkill_of_the_indexer_alone_does_not_keep_the_index_locked(corpora, tmp_path, analyzer):
    index = fresh_index(corpora, tmp_path)
    proc = start(index, "reindex", str(corpora.new), "--full", "--workers", "2")
    try:
        wait_for_lock(index, proc)
        deadline = time.monotonic() + 30
        while len(group_members(proc.pid)) < 3 and time.monotonic() < deadline:  # parent + 2 workers
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)  # the indexer dies; nobody kills its workers
        proc.wait(timeout=30)
        STATS["crashes simulated (parent only)"] += 1
        assert served_state(index, analyzer).ids == corpora.old_ids
        store = search.IndexStore(index, analyzer)
        deadline = time.monotonic() + 5
        while True:
            try:
                report = search.reindex(store, [corpora.small], workers=1)
                break
            except search.IndexBusyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert report.doc_count == OLD_DOCS + 5
    finally:
        kill_group(proc)  # the orphaned workers are still in the writer's process group


ORPHAN_SCRIPT = """
import multiprocessing, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from search.writers import _watch_parent

def worker(parent):
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    end = time.monotonic() + 60
    while time.monotonic() < end:  # a long batch (analysis, a segment's flush): never back in the job loop
        pass

child = multiprocessing.get_context("fork").Process(target=worker, args=(os.getpid(),))
child.start()
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_worker_busy_with_a_batch_exits_soon_after_its_parent_dies():
    """An orphaned writer holds the index lock it inherited: it must not finish its batch first."""
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, str(ROOT)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        child = int(proc.stdout.readline())
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert wait_gone(proc.pid, timeout=5), f"the worker {child} outlived its parent by 5 s"
    finally:
        kill_group(proc)


@pytest.mark.slow
def test_next_incremental_reindex_removes_crash_leftovers(corpora, tmp_path, analyzer):
    index = fresh_index(corpora, tmp_path)
    proc = start(index, "reindex", str(corpora.new), "--full", "--workers", "1")
    try:
        wait_for_lock(index, proc)
        time.sleep(min(1.0, corpora.build_seconds / 3))
    finally:
        kill_group(proc)
    STATS["crashes simulated (full rebuild)"] += 1
    assert leftovers(index), "precondition: the crash left a tmp- generation"
    report = search.reindex(search.IndexStore(index, analyzer), [corpora.small], workers=1)
    assert report.ok and report.doc_count == OLD_DOCS + 5
    assert leftovers(index) == []


# --- SIGKILL during an incremental update -------------------------------------

INCREMENTAL_KILLS = 4


@pytest.mark.slow
def test_sigkill_during_incremental_update(corpora, tmp_path, analyzer):
    """Kill ``reindex PATH`` (in-place update) while it holds the lock: the index holds the old or the new documents, whole."""
    index = fresh_index(corpora, tmp_path)
    old = served_state(index, analyzer)
    new_count = OLD_DOCS + UPDATE_NEW
    rng = random.Random(7)
    outcomes = Counter()
    mid_write = 0
    for _ in range(INCREMENTAL_KILLS):
        proc = start(index, "reindex", str(corpora.update))
        wait_for_lock(index, proc)
        time.sleep(rng.uniform(0.05, max(0.3, corpora.build_seconds * 0.4)))
        seen = stop_look_kill(index, proc, leftovers(index))
        mid_write += seen.locked
        STATS["crashes simulated (incremental)"] += 1
        state = served_state(index, analyzer)
        assert state.generation == old.generation
        if state.count == OLD_DOCS:
            assert (state.ids, state.updated_titles) == (corpora.old_ids, 0)
            outcomes["old"] += 1
        else:
            assert state.count == new_count, f"{state.count} documents: neither {OLD_DOCS} nor {new_count}"
            assert (state.ids, state.updated_titles) == (corpora.updated_ids, UPDATE_CHANGED + UPDATE_NEW)
            outcomes["new"] += 1
        assert state.meta_count in (OLD_DOCS, new_count)
    STATS["incremental kills leaving the old documents"] += outcomes["old"]
    STATS["incremental kills leaving the new documents"] += outcomes["new"]
    STATS["incremental kills that landed mid-write (lock held)"] += mid_write
    assert mid_write >= INCREMENTAL_KILLS - 1, f"only {mid_write} of {INCREMENTAL_KILLS} kills landed while writing"
    result = run(index, "reindex", str(corpora.update))
    assert result.returncode == 0, result.stderr
    state = served_state(index, analyzer)
    assert (state.count, state.meta_count, state.updated_titles) == (new_count, new_count, UPDATE_CHANGED + UPDATE_NEW)


# --- two writers --------------------------------------------------------------


@pytest.mark.slow
def test_second_writer_is_refused_while_one_runs(corpora, tmp_path, analyzer):
    index = fresh_index(corpora, tmp_path)
    store = search.IndexStore(index, analyzer)
    proc = start(index, "reindex", str(corpora.new), "--full", "--workers", "1")
    try:
        wait_for_lock(index, proc)
        for attempt in (
            lambda: search.reindex(store, [corpora.small], workers=1),
            lambda: search.reindex(store, [corpora.small], full=True, workers=1),
            lambda: search.delete(store, ["n1"]),
        ):
            with pytest.raises(search.IndexBusyError, match="being written"):
                attempt()
            STATS["second writers refused"] += 1
        result = CliRunner().invoke(cli, ["--index", str(index), "reindex", str(corpora.small)])
        assert result.exit_code == 1 and "being written" in result.output and "Traceback" not in result.output
        STATS["second writers refused"] += 1
        # readers are not blocked and still see the old generation, whole
        assert served_state(index, analyzer).ids == corpora.old_ids
        assert proc.wait(timeout=300) == 0
    finally:
        kill_group(proc)
    state = served_state(index, analyzer)
    assert (state.count, state.ids, state.meta_count) == (OLD_DOCS + NEW_EXTRA, corpora.new_ids, state.count)
    assert leftovers(index) == []
    report = search.reindex(store, [corpora.small], workers=1)  # the lock is free again
    assert report.doc_count == OLD_DOCS + NEW_EXTRA + 5


# --- reading while writing ----------------------------------------------------


# Regression: SearchEngine.corpus() used to key its shared Corpus cache on store.current() (the name
# CURRENT holds now) instead of the generation of the searcher it was given, and the Corpus kept that
# searcher's reader. A search that took its searcher just before a full rebuild switched CURRENT cached
# the OLD reader under the NEW generation's key; once the owning thread moved on and closed it, every
# later search failed with whoosh.reading.ReaderClosed. The tests below pin the interleaving
# deterministically and under load.


def test_search_racing_a_generation_switch_stays_correct(tmp_path, analyzer):
    """Deterministic interleaving: a search takes its searcher, then a full rebuild switches CURRENT."""
    first = write_corpus(tmp_path / "a" / "a.jsonl", [{"id": f"x{i}", "title": f"湘江旧闻{i}"} for i in range(5)])
    second = write_corpus(tmp_path / "b" / "b.jsonl", [{"id": f"y{i}", "title": f"南岳新闻{i}"} for i in range(5)])
    store = search.IndexStore(tmp_path / "ix", analyzer)
    search.reindex(store, [first], full=True, workers=1)
    engine = search.SearchEngine(store)
    assert engine.search("湘江").total == 5
    take_searcher = store.searcher

    def searcher_then_switch():
        held = take_searcher()
        store.searcher = take_searcher
        search.reindex(store, [second], full=True, workers=1)  # the writer publishes right now
        return held

    store.searcher = searcher_then_switch
    engine.search("湘江")  # answered from the generation it started on: fine either way
    assert store.searcher == take_searcher
    # every later search must see the new generation
    hits = [h.id for h in engine.search("南岳", collapse=False).hits]
    assert sorted(hits) == [f"y{i}" for i in range(5)]
    assert engine.search("湘江").total == 0


READERS = 3
# Writer runs while the readers search: (kind, where). "process" is the CLI in another process (the
# usual deployment), "thread" is search.reindex in this process (an admin endpoint).
ROUNDS = [("full", "process"), ("incremental", "process"), ("full", "thread"), ("incremental", "thread")]
ROUNDS += [("full", "process"), ("full", "thread")] * 2  # same corpus, same count: the ReaderClosed race
BASE_DOCS = 600


@pytest.mark.slow
def test_search_while_writing(tmp_path, analyzer):
    """Threads search one shared engine while full rebuilds and incremental updates run.

    Zero exceptions, never an empty result for a query that always has hits, totals never below the
    old count.
    """
    rng = random.Random(99)
    base = write_corpus(tmp_path / "base" / "base.jsonl", [article(rng, f"r{i}") for i in range(BASE_DOCS)])
    batches = [
        write_corpus(tmp_path / f"add{k}" / "add.jsonl", [article(rng, f"r{k}-{i}", UPDATED) for i in range(40)])
        for k in range(len(ROUNDS))
    ]
    index = tmp_path / "ix"
    assert run(index, "reindex", str(base), "--full").returncode == 0
    engine = search.SearchEngine(search.IndexStore(index, analyzer))
    writer = search.IndexStore(index, analyzer)
    stop = threading.Event()
    errors: list[str] = []
    problems: list[str] = []
    done = Counter()

    def reader(seed: int) -> None:
        local = random.Random(seed)
        while not stop.is_set():
            always = local.random() < 0.3
            q = MARKER if always else " ".join(local.sample(WORDS, local.randint(1, 3)))
            try:
                res = engine.search(q, size=5, collapse=local.random() < 0.02)
            except Exception as exc:  # noqa: BLE001 - any exception is a finding
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                time.sleep(0.01)
                continue
            done["searches"] += 1
            if always:
                if not res.hits:
                    problems.append(f"no hits for {MARKER!r}")
                elif res.total < BASE_DOCS:
                    problems.append(f"total {res.total} below the old count {BASE_DOCS}")

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(READERS)]
    for thread in threads:
        thread.start()
    rounds = Counter()
    try:
        for k, (kind, where) in enumerate(ROUNDS):
            path = base if kind == "full" else batches[k]
            if where == "process":
                result = run(index, "reindex", str(path), *(["--full"] if kind == "full" else []))
                assert result.returncode == 0, result.stderr
            else:
                assert search.reindex(writer, [path], full=kind == "full", workers=1).ok
            rounds[f"{kind} ({where})"] += 1
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    STATS["searches"] += done["searches"]
    STATS["errors seen while writing"] += len(errors)
    for name, count in rounds.items():
        STATS[f"writer runs while searching: {name}"] += count
    kinds = Counter(e.split(":")[0] for e in errors)
    assert done["searches"] > 100
    assert not errors, f"{len(errors)} errors in {done['searches'] + len(errors)} searches: {dict(kinds)}; {errors[0]}"
    assert not problems, problems[:5]
    # after the writers: the shared engine and a fresh one answer from the current generation, whole
    for reader_engine in (engine, search.SearchEngine(search.IndexStore(index, analyzer))):
        res = reader_engine.search(MARKER, size=5, collapse=False)
        assert res.total == writer.meta()["doc_count"] == BASE_DOCS
