"""Publishing: copy the current generation to read replicas, then switch them.

One indexer builds generations; replicas only read them. A publish is three
steps, the same for a local directory and a remote ``host:/path``::

    indexer root/gen-A/  --(hard-link snapshot, under the write lock)-->  root/snap-*/
    snap-*/  --rsync --link-dest=../gen-Z-->  replica root/tmp-pub-A-*/   (copy, fsync)
    on the replica: mv tmp-pub-A-* gen-A; CURRENT <- gen-A (temp file + rename)

A replica never sees a half-copied generation: rsync writes into a ``tmp-``
directory that no reader opens, and only a complete, fsynced copy is renamed
to a ``gen-`` name and then named by ``CURRENT``. An interrupted publish
leaves the replica on its old generation with a stale ``tmp-`` directory,
removed by a later publish. Whoosh segment files are immutable and uniquely
named, so rsync hard-links the ones a replica already holds in one of its
generations (``--link-dest``) instead of copying them again: after an
incremental update only the new segment, table of contents and ``meta.json``
travel.

The replica side is a short POSIX shell script (``REPLICA_SH``), run with
``sh -c`` for a local path and through ssh for a remote one, so the tests
exercise the very commands a remote replica runs. A generation that stopped
being current (a ``.retired-<name>`` marker records when) is removed once it
has been retired for ``keep_seconds``: a worker that read it keeps it until
its next request, when it notices the new ``CURRENT``.

An incremental update changes the indexer's generation in place, so a replica
that already holds that generation name gets the update under the name
``<generation>.<version>`` (Whoosh's table-of-contents number): a directory a
reader may have open is never rewritten.

Why one module of this size: a publish is one ordered, resumable operation
(snapshot, copy by rsync, switch) whose steps share the replica's state and
its failure rules.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .index import IndexStore

TOC_RE = re.compile(r"^_MAIN_(\d+)\.toc$")
LINK_DEST_MAX = 20  # rsync accepts at most 20 --link-dest directories

# The replica side. $1 = replica root, $2 = command; prints what the publisher parses.
REPLICA_SH = r"""
set -eu
root=$1
cmd=$2
mkdir -p "$root"
cd "$root"
case $cmd in
list)
  # "current NAME" then "gen NAME TOC" for each generation (its newest table of contents)
  printf 'current %s\n' "$(cat CURRENT 2>/dev/null || true)"
  for d in gen-*; do
    [ -d "$d" ] || continue
    toc=$(ls "$d" | grep -E '^_MAIN_[0-9]+\.toc$' | sed -e 's/^_MAIN_//' -e 's/\.toc$//' | sort -n | tail -n 1)
    printf 'gen %s %s\n' "$d" "${toc:-0}"
  done
  ;;
switch)
  # $3 = the finished tmp- directory ("" when the generation is already there), $4 = its name, $5 = keep seconds
  tmp=$3
  name=$4
  keep=$5
  exec 9>>publish.lock
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  old=$(cat CURRENT 2>/dev/null || true)
  if [ -n "$tmp" ]; then
    [ -d "$tmp" ] || { echo "no $tmp on the replica" >&2; exit 3; }
    [ "$name" != "$old" ] || { echo "$name is current: not replaced" >&2; exit 4; }
    [ ! -e "$name" ] || rm -rf -- "$name"  # a stale copy under this name that is not current
    mv -- "$tmp" "$name"
    sync .
  fi
  if [ "$old" != "$name" ]; then
    printf '%s\n' "$name" > ".CURRENT.$$.tmp"
    sync ".CURRENT.$$.tmp"
    mv -f -- ".CURRENT.$$.tmp" CURRENT
    sync .
    if [ -n "$old" ]; then touch -- ".retired-$old"; fi
  fi
  # garbage: generations retired for keep seconds, tmp- directories untouched for as long
  now=$(date +%s)
  for d in gen-*; do
    [ -d "$d" ] && [ "$d" != "$name" ] || continue
    [ -e ".retired-$d" ] || touch -- ".retired-$d"  # retired by something else (a reindex here): from now
    if [ $((now - $(stat -c %Y ".retired-$d"))) -ge "$keep" ]; then
      rm -rf -- "$d"
      rm -f -- ".retired-$d"
      printf 'removed %s\n' "$d"
    fi
  done
  for m in .retired-*; do
    [ -e "$m" ] || continue
    [ -d "${m#.retired-}" ] || rm -f -- "$m"
  done
  for d in tmp-*; do
    [ -d "$d" ] || continue
    if [ $((now - $(stat -c %Y "$d"))) -ge "$keep" ]; then
      rm -rf -- "$d"
      printf 'removed %s\n' "$d"
    fi
  done
  printf 'current %s\n' "$name"
  ;;
*)
  echo "unknown command $cmd" >&2
  exit 2
  ;;
esac
"""


class PublishError(Exception):
    """Copying to or switching a replica failed."""


@dataclass
class Replica:
    """One destination: a local directory or an rsync ``host:/path`` reached over ssh."""

    dest: str
    rsh: str = "ssh"

    @property
    def host(self) -> str | None:
        # rsync's rule: a colon before the first slash makes it a remote path
        head, sep, _ = self.dest.partition(":")
        return head if sep and "/" not in head and head else None

    @property
    def path(self) -> str:
        if self.host is None:
            return str(Path(self.dest).resolve())
        return self.dest.partition(":")[2] or "."

    def rsync_target(self, name: str) -> str:
        target = f"{self.path.rstrip('/')}/{name}/"
        return f"{self.host}:{target}" if self.host else target

    def run(self, *args: str, timeout: float = 120) -> str:
        """Run ``REPLICA_SH`` with ``args`` on the replica and return its output."""
        argv = ["sh", "-c", REPLICA_SH, "sh", self.path, *args]
        if self.host is not None:
            argv = [*shlex.split(self.rsh), self.host, " ".join(shlex.quote(a) for a in argv)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise PublishError(f"{args[0]} failed: {done.stderr.strip() or done.returncode}")
        return done.stdout


@dataclass
class ReplicaState:
    current: str | None
    generations: dict[str, int]  # name -> newest table-of-contents number


def replica_state(replica: Replica) -> ReplicaState:
    """Ask a replica which generations it holds and which one is current."""
    current, generations = None, {}
    for line in replica.run("list").splitlines():
        parts = line.split()
        if parts[:1] == ["current"] and len(parts) == 2:
            current = parts[1]
        elif parts[:1] == ["gen"] and len(parts) == 3:
            generations[parts[1]] = int(parts[2])
    return ReplicaState(current, generations)


@dataclass
class PublishResult:
    """What one replica received."""

    dest: str
    generation: str  # the name it now serves
    previous: str | None
    files_copied: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0
    removed: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Snapshot:
    """Hard links to one version of a generation, which later writes cannot change."""

    path: Path
    generation: str
    version: int  # the newest table of contents of the generation


def _version(files: Sequence[str]) -> int:
    return max((int(m.group(1)) for f in files if (m := TOC_RE.match(f))), default=0)


def snapshot(store: IndexStore) -> Snapshot:
    """Hard-link the current generation's files into ``root/snap-*`` under the write lock.

    A full rebuild never touches a published generation, but an incremental
    update commits new files into it (and replaces ``meta.json``): linking
    under the lock takes milliseconds and gives rsync one consistent version.
    """
    for stale in store.root.glob("snap-*"):  # left by a killed publisher
        pid = stale.name.split("-")[1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    with store.write_lock():
        name = store.current()
        gen_dir = store.generation_dir(name)
        snap = store.root / f"snap-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        snap.mkdir()
        files = sorted(p.name for p in gen_dir.iterdir() if p.is_file())
        for file in files:
            os.link(gen_dir / file, snap / file)
    return Snapshot(snap, gen_dir.name, _version(files))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def target_name(snap: Snapshot, state: ReplicaState) -> tuple[str, bool]:
    """The name the snapshot gets on a replica, and whether it must be copied."""
    for name in (snap.generation, f"{snap.generation}.{snap.version}"):
        held = state.generations.get(name)
        if held == snap.version:
            return name, False
        if held is None:
            return name, True
    # a name holding another version and never made current by us: copied again under it
    return f"{snap.generation}.{snap.version}", True


def _rsync_stats(output: str) -> tuple[int, int]:
    def number(label: str) -> int:
        m = re.search(label + r":\s*([\d,.]+)", output)
        return int(m.group(1).replace(",", "").replace(".", "")) if m else 0

    return number("Number of regular files transferred"), number("Total transferred file size")


def copy_to(
    snap: Snapshot, replica: Replica, bwlimit_kbps: int = 0, timeout: float = 3600
) -> tuple[PublishResult, str | None]:
    """Copy the snapshot into a fresh ``tmp-`` directory on the replica; return it and that name."""
    started = time.monotonic()
    state = replica_state(replica)
    name, needed = target_name(snap, state)
    result = PublishResult(replica.dest, name, state.current)
    if not needed:
        return result, None
    tmp = f"tmp-pub-{name[len('gen-') :] if name.startswith('gen-') else name}-{uuid.uuid4().hex[:6]}"
    # hard-link what the replica already holds: its current generation first, then the newest
    others = sorted((g for g in state.generations if g != state.current), reverse=True)
    bases = ([state.current] if state.current in state.generations else []) + others
    argv = ["rsync", "-a", "--fsync", "--stats", "-e", replica.rsh]
    argv += [f"--link-dest=../{g}" for g in bases[:LINK_DEST_MAX]]
    if bwlimit_kbps:
        argv.append(f"--bwlimit={bwlimit_kbps}")
    # Segment files (MAIN_<segment id>.*) are immutable and uniquely named: rsync's quick check
    # (size and time) may link them. The table of contents, meta.json and the generation's merged
    # postings table keep their names across generations, and two written in the same second
    # can agree in size: those are compared by checksum (small files, read on both sides).
    for filters in (["--include=MAIN_*", "--exclude=*"], ["--exclude=MAIN_*", "--checksum"]):
        done = subprocess.run(
            [*argv, *filters, f"{snap.path}/", replica.rsync_target(tmp)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise PublishError(f"rsync failed ({done.returncode}): {done.stderr.strip()}")
        files, size = _rsync_stats(done.stdout)
        result.files_copied += files
        result.bytes_copied += size
    result.seconds = time.monotonic() - started
    return result, tmp


def switch(replica: Replica, result: PublishResult, tmp: str | None, keep_seconds: float) -> None:
    """Rename the copy to its generation name, point ``CURRENT`` at it, collect old generations."""
    started = time.monotonic()
    output = replica.run("switch", tmp or "", result.generation, str(int(keep_seconds)))
    result.removed = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("removed ")]
    result.seconds += time.monotonic() - started


def publish(
    store: IndexStore,
    dests: Sequence[str],
    keep_seconds: float = 600,
    bwlimit_kbps: int = 0,
    rsh: str = "ssh",
    parallel: int = 4,
) -> list[PublishResult]:
    """Copy the current generation to every destination, then switch each one that received it.

    All copies finish before any replica switches, so replicas change
    generation within moments of each other. A destination that fails keeps
    its old generation and has ``error`` set in its result; the others switch.
    """
    snap = snapshot(store)
    try:
        replicas = [Replica(dest, rsh) for dest in dests]

        def copy(replica: Replica) -> tuple[PublishResult, str | None]:
            try:
                return copy_to(snap, replica, bwlimit_kbps)
            except (PublishError, OSError, subprocess.TimeoutExpired) as exc:
                return PublishResult(replica.dest, snap.generation, None, error=str(exc)), None

        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(replicas)))) as pool:
            copied = list(pool.map(copy, replicas))
        for replica, (result, tmp) in zip(replicas, copied, strict=True):
            if result.error is None:
                try:
                    switch(replica, result, tmp, keep_seconds)
                except (PublishError, OSError, subprocess.TimeoutExpired) as exc:
                    result.error = str(exc)
        return [result for result, _ in copied]
    finally:
        shutil.rmtree(snap.path, ignore_errors=True)
