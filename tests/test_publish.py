"""Publishing generations to replicas: copy with rsync, switch CURRENT, collect old ones."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import search
from cli import cli
from search.publish import Replica, copy_to, replica_state, snapshot

from .conftest import write_jsonl
from .parts import require_executable

EXTRA = {"id": "x1", "title": "回雁峰公园新增步道", "body": "回雁峰公园新增三公里步道，市民可以沿江散步。"}


@pytest.fixture(autouse=True)
def _rsync() -> None:
    require_executable("rsync", "rsync")


def files(gen_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(gen_dir.iterdir())}


def ids(root: Path, analyzer: search.Analyzer, query: str) -> list[str]:
    engine = search.SearchEngine(search.IndexStore(root, analyzer))
    return [hit.id for hit in engine.search(query).hits]


def entries(root: Path) -> list[str]:
    """What a replica root holds, less the lock file publish keeps there."""
    return sorted(p.name for p in root.iterdir() if p.name != "publish.lock")


def test_publish_copies_the_generation_and_switches_current(engine, store, tmp_path, analyzer):
    dests = [tmp_path / "r1", tmp_path / "r2"]
    gen = store.current()

    results = search.publish(store, [str(d) for d in dests])

    assert [(r.dest, r.generation, r.previous, r.error) for r in results] == [(str(d), gen, None, None) for d in dests]
    assert all(r.files_copied == len(files(store.generation_dir())) for r in results)
    for dest in dests:
        assert entries(dest) == ["CURRENT", gen]
        assert (dest / "CURRENT").read_text() == gen + "\n"
        assert files(dest / gen) == files(store.generation_dir())
        assert ids(dest, analyzer, "联防联控") == ["a1"]
    assert not list(store.root.glob("snap-*"))  # the snapshot is removed


def test_publishing_again_copies_nothing(engine, store, tmp_path):
    search.publish(store, [str(tmp_path / "r1")])

    [again] = search.publish(store, [str(tmp_path / "r1")])

    assert (again.generation, again.previous, again.files_copied, again.bytes_copied) == (
        store.current(),
        store.current(),
        0,
        0,
    )


def test_an_incremental_update_is_published_under_a_new_name_linking_unchanged_files(engine, store, tmp_path, analyzer):
    dest = tmp_path / "r1"
    gen = store.current()
    search.publish(store, [str(dest)])
    assert search.reindex(store, [write_jsonl(tmp_path / "extra.jsonl", [EXTRA])]).mode == "incremental"
    source = files(store.generation_dir())

    [result] = search.publish(store, [str(dest)])

    # the replica's generation is never rewritten in place: the update gets Whoosh's version number
    assert (result.generation, result.previous) == (f"{gen}.2", gen)
    assert (dest / "CURRENT").read_text() == f"{gen}.2\n"
    assert files(dest / f"{gen}.2") == source
    old, new = dest / gen, dest / f"{gen}.2"
    # unchanged files are hard links to the old generation's; only the update travelled
    copied = sorted(n for n in source if not (old / n).exists() or (old / n).stat().st_ino != (new / n).stat().st_ino)
    added = sorted(n for n in source if not (old / n).exists())
    assert copied == sorted([*added, "meta.json"])
    assert len(copied) < len(source) / 2
    assert result.files_copied == len(copied)
    assert ids(dest, analyzer, "回雁峰 步道") == ["x1"]


def test_an_interrupted_copy_leaves_the_replica_on_its_old_generation(engine, store, tmp_path, corpus, analyzer):
    dest = tmp_path / "r1"
    old = store.current()
    search.publish(store, [str(dest)])
    search.reindex(store, [corpus, write_jsonl(tmp_path / "extra.jsonl", [EXTRA])], full=True, workers=1)
    snap = snapshot(store)

    result, tmp = copy_to(snap, Replica(str(dest)))  # copied, and the publisher dies before the switch

    assert tmp is not None and tmp.startswith("tmp-pub-") and (dest / tmp).is_dir()
    assert (dest / "CURRENT").read_text() == old + "\n"
    assert replica_state(Replica(str(dest))).current == old
    assert ids(dest, analyzer, "回雁峰 步道") == []
    [done] = search.publish(store, [str(dest)])  # the next publish completes
    assert (done.generation, done.previous) == (store.current(), old)
    assert ids(dest, analyzer, "回雁峰 步道") == ["x1"]


def test_old_generations_and_stale_copies_are_removed_after_the_grace_period(engine, store, tmp_path, corpus):
    dest = tmp_path / "r1"
    first = store.current()
    search.publish(store, [str(dest)], keep_seconds=600)
    search.reindex(store, [corpus], full=True, workers=1)
    second = store.current()
    stale = dest / "tmp-pub-crashed-123456"
    stale.mkdir()
    (stale / "_MAIN_1.toc").write_bytes(b"part")

    [kept] = search.publish(store, [str(dest)], keep_seconds=600)

    assert kept.removed == []
    assert entries(dest) == sorted([f".retired-{first}", "CURRENT", first, second, stale.name])
    os.utime(stale, (1, 1))  # untouched for longer than the grace period
    search.reindex(store, [corpus], full=True, workers=1)
    third = store.current()

    [collected] = search.publish(store, [str(dest)], keep_seconds=0)

    assert sorted(collected.removed) == sorted([first, second, stale.name])
    assert entries(dest) == ["CURRENT", third]


def test_a_failing_replica_does_not_stop_the_others(engine, store, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    good = tmp_path / "r1"

    bad, ok = search.publish(store, [str(blocked), str(good)])

    assert bad.error is not None and "blocked" in bad.error
    assert (ok.error, (good / "CURRENT").read_text()) == (None, store.current() + "\n")


def test_a_remote_replica_is_reached_through_the_remote_shell(engine, store, tmp_path, analyzer):
    # A stand-in for ssh that runs the command on this machine the way sshd would: the
    # host name dropped, the words joined and given to a shell.
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text('#!/bin/sh\nshift\nexec sh -c "$*"\n')
    fake_ssh.chmod(fake_ssh.stat().st_mode | stat.S_IXUSR)
    dest = tmp_path / "remote" / "index"

    [result] = search.publish(store, [f"replica1:{dest}"], rsh=str(fake_ssh))

    assert (result.dest, result.generation, result.error) == (f"replica1:{dest}", store.current(), None)
    assert ids(dest, analyzer, "联防联控") == ["a1"]


def test_replica_destinations_follow_rsync_rules():
    assert (Replica("web2:/srv/ix").host, Replica("web2:/srv/ix").path) == ("web2", "/srv/ix")
    assert Replica("user@web2:ix").host == "user@web2"
    assert Replica("/srv/a:b").host is None
    assert Replica("./a:b").host is None


def test_cli_publish_and_reindex_publish_to(tmp_path, corpus):
    index, r1, r2 = tmp_path / "ix", tmp_path / "r1", tmp_path / "r2"
    runner = CliRunner()

    built = runner.invoke(cli, ["--index", str(index), "reindex", str(corpus), "--full", "--publish-to", str(r1)])
    gen = (index / "CURRENT").read_text().strip()
    published = runner.invoke(cli, ["--index", str(index), "publish", "--to", str(r1), "--to", str(r2)])
    failed = runner.invoke(cli, ["--index", str(tmp_path / "none"), "publish", "--to", str(r2)])

    assert built.exit_code == 0, built.output
    assert built.output.splitlines()[-1].startswith(f"published {gen} to {r1} (was empty): ")
    assert published.exit_code == 0, published.output
    lines = published.output.splitlines()
    assert lines[0] == f"published {gen} to {r1} (was {gen}): 0 files, 0 bytes copied in " + lines[0].split(" in ")[-1]
    assert lines[1].startswith(f"published {gen} to {r2} (was empty): ")
    assert failed.exit_code == 1 and "no index in" in failed.output
