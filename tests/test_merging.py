"""Merging segments (``search.storage.merging``): a merged index is the index a fresh build of its live articles gives."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import search
from search.readers import read_articles
from search.storage import SegmentInfo, merging, plan_merge, segments_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
QUERIES = ["衡阳", "疫情防控", "大学生志愿者", "C919", "5G", "南华大学 新生", "公交线路", "更新后的标题", "title:衡阳"]
COLUMNS = ("signature", "title_text", "body_text", "source", "channel", "published", "year", "views")
NEVER = search.MergePolicy(max_segments=0, max_deleted=1.0)
NEW = search.Article(id="new-1", title="衡阳新增一条公交线路", body="衡阳公交集团开通新线路，方便市民出行。")


def _sample() -> list[search.Article]:
    return list(read_articles([SAMPLE], lambda error: None))


def _updated(article: search.Article) -> search.Article:
    return dataclasses.replace(article, title="衡阳 更新后的标题 疫情防控")


def _dump(store: search.IndexStore) -> dict[str, Any]:
    """Everything a reader sees, keyed by article id (document numbers differ between builds)."""
    reader = store.searcher().reader()
    ids = {docnum: fields["id"] for docnum, fields in reader.iter_docs()}
    postings: dict[tuple[str, bytes], list] = {}
    for fieldname, btext in reader.all_terms():
        m = reader.postings(fieldname, btext)
        positions = m.is_active() and m.supports("positions")
        listed = postings.setdefault((fieldname, btext), [])
        while m.is_active():
            listed.append((ids[m.id()], m.weight(), m.value_as("positions") if positions else None))
            m.next()
        listed.sort()
    columns = {}
    for name in COLUMNS:
        values = list(reader.column_reader(name, translate=False))
        columns[name] = {article_id: values[docnum] for docnum, article_id in ids.items()}
    text_fields = ("title", "lead", "body", "meta", "title_bg", "body_bg")
    engine = search.SearchEngine(store)
    found = [engine.search(q, size=500, collapse=False) for q in QUERIES]
    return {
        "doc_count": (reader.doc_count(), reader.doc_count_all()),
        "postings": postings,
        "stored": {ids[docnum]: fields for docnum, fields in reader.iter_docs()},
        "columns": columns,
        "lengths": {f: {a: reader.doc_field_length(d, f) for d, a in ids.items()} for f in text_fields},
        "field_lengths": {f: reader.field_length(f) for f in text_fields},
        "search": [(r.total, sorted((h.id, round(h.score, 4)) for h in r.hits)) for r in found],
    }


@pytest.fixture(scope="module", params=[None, (3, 7)], ids=["windows", "tiny-windows"])
def merged_and_fresh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer
) -> Any:
    """An index updated, deleted from, then merged; and a fresh build of the same live articles.

    ``tiny-windows``: the merges walk 3 terms or 7 postings of each source at a time, so a window ends
    inside nearly every run of terms the sources share (the budget is shared by the sources).
    """
    with pytest.MonkeyPatch.context() as patch:
        if request.param:
            patch.setattr(merging, "WINDOW_TERMS", request.param[0])
            patch.setattr(merging, "WINDOW_POSTINGS", request.param[1])
        yield _merged_and_fresh(tmp_path_factory.mktemp("merging"), analyzer)


def _merged_and_fresh(root: Path, analyzer: search.Analyzer) -> tuple:
    articles = _sample()
    store = search.IndexStore(root / "merged", analyzer)
    assert search.reindex(store, ["sample"], full=True, workers=2, articles=articles).ok
    report = search.reindex(store, ["update"], articles=[NEW, _updated(articles[0])], merge=NEVER)
    assert (report.updated, report.indexed, report.merged) == (1, 1, 0)
    gone = [articles[5].id, articles[60].id]
    assert search.delete(store, gone, merge=NEVER) == 2
    before = segments_of(store.generation_dir())
    merged = search.optimize(store)
    live = [_updated(articles[0]), *(a for a in articles[1:] if a.id not in gone), NEW]
    fresh = search.IndexStore(root / "fresh", analyzer)
    assert search.reindex(fresh, ["fresh"], full=True, workers=2, articles=live).ok
    return store, fresh, before, merged


def test_a_merge_after_updates_and_deletes_is_a_fresh_build_of_the_live_articles(merged_and_fresh):
    store, fresh, before, merged = merged_and_fresh
    assert [(s.docs, s.deleted) for s in before] == [(169, 3), (2, 0)]
    assert merged.to_json() | {"seconds": 0} == {
        "segments_before": 2,
        "segments_after": 1,
        "merged": 2,
        "docs": 168,
        "dropped": 3,
        "seconds": 0,
    }
    assert [(s.docs, s.deleted) for s in segments_of(store.generation_dir())] == [(168, 0)]
    got, expected = _dump(store), _dump(fresh)
    assert len(expected["postings"]) > 10_000 and expected["search"][0][0] > 10
    for key in expected:
        assert got[key] == expected[key], key


def test_a_full_build_ends_as_one_segment(merged_and_fresh):
    _, fresh, _, _ = merged_and_fresh
    assert [(s.docs, s.deleted) for s in segments_of(fresh.generation_dir())] == [(168, 0)]


def test_the_policy_merges_the_smallest_segments_and_those_with_many_deleted():
    sizes = [SegmentInfo(f"s{i}", docs, 0) for i, docs in enumerate([5000, 40, 900, 30, 20, 10, 10, 5, 3, 1])]
    assert plan_merge(sizes[:8], max_segments=8, max_deleted=0.2) == []
    # ten segments, at most eight: the seven smallest become one, four are left
    assert plan_merge(sizes, max_segments=8, max_deleted=0.2) == ["s3", "s4", "s5", "s6", "s7", "s8", "s9"]
    assert plan_merge(sizes, max_segments=0, max_deleted=0.2) == []
    deleted = [SegmentInfo("a", 1000, 100), SegmentInfo("b", 100, 30), SegmentInfo("c", 10, 0)]
    assert plan_merge(deleted, max_segments=8, max_deleted=0.2) == ["b"]  # alone: its deleted go
    assert plan_merge(deleted, max_segments=8, max_deleted=0.05) == ["a", "b"]
    assert plan_merge(deleted, max_segments=2, max_deleted=1.0) == ["a", "b", "c"]  # down to one


def test_incremental_updates_and_deletes_merge_by_the_policy(tmp_path, analyzer):
    store = search.IndexStore(tmp_path / "index", analyzer)
    articles = _sample()
    search.reindex(store, ["sample"], full=True, workers=2, articles=articles)
    policy = search.MergePolicy(max_segments=2, max_deleted=1.0)
    first = search.reindex(store, ["u1"], articles=[NEW], merge=policy)
    second = search.reindex(store, ["u2"], articles=[_updated(articles[0])], merge=policy)
    assert (first.merged, second.merged) == (0, 3)
    assert [(s.docs, s.deleted) for s in segments_of(store.generation_dir())] == [(170, 0)]
    engine = search.SearchEngine(store)
    assert [h.id for h in engine.search("更新后的标题").hits][:1] == [articles[0].id]
    assert [h.id for h in engine.search("公交线路").hits][:1] == ["new-1"]
    # a segment with more deleted than allowed is merged alone, its deleted articles dropped
    search.reindex(store, ["u3"], articles=[search.Article(id=f"x{i}", title=f"临时稿件{i}") for i in range(4)])
    assert search.delete(store, ["x0", "x1"], merge=search.MergePolicy(max_segments=8, max_deleted=0.3)) == 2
    assert [(s.docs, s.deleted) for s in segments_of(store.generation_dir())] == [(170, 0), (2, 0)]
    found = {h.id for h in search.SearchEngine(store).search("临时稿件", size=50).hits}
    assert {"x2", "x3"} <= found and not {"x0", "x1"} & found


def _segment_files(gen_dir: Path) -> set[str]:
    return {p.name.split(".")[0] for p in gen_dir.iterdir() if p.name.startswith("MAIN_") and "." in p.name}


def test_a_kill_mid_merge_leaves_the_served_generation_readable(tmp_path, analyzer):
    store = search.IndexStore(tmp_path / "index", analyzer)
    articles = _sample()
    search.reindex(store, ["sample"], full=True, workers=2, articles=articles)
    search.reindex(store, ["u1"], articles=[NEW, _updated(articles[0])], merge=NEVER)
    gen_dir = store.generation_dir()
    before, served = segments_of(gen_dir), _dump(store)
    marker = tmp_path / "merging"
    script = (
        "import time, search\n"
        "from search.storage import merging\n"
        "def stall(*args):\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    time.sleep(120)\n"
        "merging._copy_columns = stall  # the postings are written, the columns not yet, no new table\n"
        f"search.optimize(search.IndexStore({str(store.root)!r}, search.Analyzer()))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the merge never reached its columns"
    finally:
        proc.kill()
        proc.wait()
    orphans = _segment_files(gen_dir) - {s.name for s in before}
    assert len(orphans) == 1  # the killed merge's half-written segment
    reopened = search.IndexStore(store.root, analyzer)
    assert segments_of(gen_dir) == before
    assert _dump(reopened) == served
    report = search.optimize(reopened)  # the next write removes the orphan and merges
    assert (report.merged, report.segments_after) == (2, 1)
    assert not orphans & _segment_files(gen_dir)


def test_merging_in_rounds_of_a_few_segments_writes_what_one_merge_writes(tmp_path, analyzer):
    """``merge_all`` merges neighbouring runs of ``fan_in`` segments, then the rest: the same files, byte for
    byte, as one merge of every segment (the documents keep their order), also with a round's runs merged
    side by side in two processes."""
    store = search.IndexStore(tmp_path / "ix", analyzer)
    articles = _sample()
    assert search.reindex(store, ["sample"], full=True, workers=2, articles=articles[:100], merge=NEVER).ok
    for start in range(100, len(articles), 20):  # an incremental update is a segment of its own
        assert search.reindex(store, ["more"], articles=articles[start : start + 20], merge=NEVER).ok
    assert search.delete(store, [a.id for a in articles[::9]], merge=NEVER) > 10
    source = store.generation_dir()
    assert len(segments_of(source)) >= 6
    files = {}
    for name, merge in (
        ("once", lambda d: merging.merge_segments(d, keep_old=False)),
        ("rounds", lambda d: merging.merge_all(d, keep_old=False, fan_in=2)),
        ("rounds in two processes", lambda d: merging.merge_all(d, keep_old=False, fan_in=2, workers=2)),
    ):
        copy = tmp_path / name
        shutil.copytree(source, copy)
        report = merge(copy)
        assert (report.segments_before, report.segments_after, report.merged) == (
            len(segments_of(source)),
            1,
            report.segments_before,
        )
        (segment,) = segments_of(copy)
        files[name] = {p.name[len(segment.name) :]: p.read_bytes() for p in copy.glob(segment.name + ".*")}
    assert len(files["once"]) > 10 and files["rounds"] == files["once"] == files["rounds in two processes"]
