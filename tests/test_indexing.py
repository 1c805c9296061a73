import json
from pathlib import Path

import pytest

import search
from search import index as index_module
from search.dedup import signature
from search.index import IndexBusyError, IndexMismatchError

from .conftest import ARTICLES, ids, write_jsonl


def test_full_reindex_report_and_meta(store, corpus):
    report = search.reindex(store, [corpus], full=True, workers=1)
    assert (report.mode, report.indexed, report.updated, report.skipped, report.failed, report.doc_count) == (
        "full",
        4,
        0,
        0,
        0,
        4,
    )
    meta = store.meta()
    assert meta["doc_count"] == 4 and meta["fingerprint"] == store.analyzer.fingerprint
    assert meta["sources"] == [str(corpus.resolve())]
    assert store.current().startswith("gen-")


def test_parallel_writers_match_single_writer(tmp_path, analyzer, corpus):
    many = write_jsonl(tmp_path / "many.jsonl", [dict(a, id=f"{a['id']}-{i}") for i in range(60) for a in ARTICLES])
    one = search.IndexStore(tmp_path / "one", analyzer)
    two = search.IndexStore(tmp_path / "two", analyzer)
    assert search.reindex(one, [many], full=True, workers=1).doc_count == 240
    assert search.reindex(two, [many], full=True, workers=2).doc_count == 240
    r1 = search.SearchEngine(one).search("大学生", size=300, collapse=False)
    r2 = search.SearchEngine(two).search("大学生", size=300, collapse=False)
    assert sorted(ids(r1)) == sorted(ids(r2)) and r1.total == r2.total


def test_writers_start_new_segments_when_their_memory_fills(tmp_path, analyzer):
    records = [dict(a, id=f"{a['id']}-{i}") for i in range(200) for a in ARTICLES]
    records.append(dict(ARTICLES[1], id="a1-0", title="重复编号的新版本"))  # last wins, segments apart
    many = write_jsonl(tmp_path / "many.jsonl", records)
    store = search.IndexStore(tmp_path / "ix", analyzer)
    never = search.MergePolicy(max_segments=0)  # keep the writers' segments
    report = search.reindex(store, [many], full=True, workers=2, writer_mb=1, merge=never)
    assert (report.doc_count, report.skipped, report.merged) == (800, 1, 0)
    with store.open().searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) >= 4  # no spilled runs: a segment each time
    for merged in (False, True):  # and the same once merged into one (the superseded copy dropped)
        if merged:
            assert search.optimize(store).segments_after == 1
        engine = search.SearchEngine(store)
        assert engine.article("a1-0")["title"] == "重复编号的新版本"
        assert engine.article("a1-1")["title"] == ARTICLES[0]["title"]
        assert engine.search("大学生", size=10, collapse=False).total == 401  # a2, a4 copies and the new a1-0


def test_incremental_update_and_delete(store, corpus, tmp_path):
    search.reindex(store, [corpus], full=True, workers=1)
    generation = store.current()
    changed = write_jsonl(
        tmp_path / "changed.jsonl", [dict(ARTICLES[0], title="衡阳召开防汛工作会议"), {"id": "a9", "title": "新文章"}]
    )
    report = search.reindex(store, [changed])
    assert (report.mode, report.indexed, report.updated, report.doc_count) == ("incremental", 1, 1, 5)
    assert store.current() == generation
    engine = search.SearchEngine(store)
    assert ids(engine.search("防汛")) == ["a1"]
    assert search.delete(store, ["a9", "nope"]) == 1
    assert engine.article("a9") is None and store.meta()["doc_count"] == 4


def test_searchers_see_every_update_when_they_trust_file_stamps(store, corpus, tmp_path, monkeypatch):
    """A thread reuses its searcher while CURRENT and the generation's directory keep their stamps;
    stamps trusted at once (not only once older than a timestamp tick) still show every update."""
    monkeypatch.setattr(index_module, "STAMP_SETTLE_NS", -(10**18))
    search.reindex(store, [corpus], full=True, workers=1)
    engine = search.SearchEngine(store)
    first = store.searcher()
    assert store.searcher() is first and ids(engine.search("防汛")) == []
    search.reindex(store, [write_jsonl(tmp_path / "u.jsonl", [dict(ARTICLES[0], title="衡阳召开防汛工作会议")])])
    assert ids(engine.search("防汛")) == ["a1"]  # an incremental commit: a new table of contents
    search.delete(store, ["a1"])
    assert ids(engine.search("防汛")) == []
    search.reindex(store, [corpus], full=True, workers=1)
    assert ids(engine.search("衡阳召开疫情防控工作会议"))[:1] == ["a1"]  # a full rebuild: a new CURRENT
    assert store.generation_of(store.searcher()) == store.current()


def test_column_values_of_every_segment_even_one_without_the_column(store, corpus, tmp_path):
    search.reindex(store, [corpus], full=True, workers=1)
    short = write_jsonl(tmp_path / "short.jsonl", [{"id": "z", "title": "短", "body": "很短"}])
    search.reindex(store, [short])  # a segment of one document too short for a sketch: no signature column
    searcher = store.searcher()
    corpus_ = search.SearchEngine(store).corpus(searcher)
    assert len(corpus_.segments) == 2 and not corpus_.segments[1][0].has_column("signature")
    for article in ARTICLES:
        docnum = searcher.document_number(id=article["id"])
        assert corpus_.value("signature", docnum) == signature(
            store.analyzer.normalizer.text(article["title"] + "\n" + article["body"])
        )
    z = searcher.document_number(id="z")
    assert (corpus_.value("signature", z), corpus_.value("title_text", z)) == (b"", "短".encode())


def test_stored_fields_of_every_segment_read_as_whoosh_reads_them(store, corpus, tmp_path):
    search.reindex(store, [corpus], full=True, workers=1)
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "z", "title": "短", "body": "很短"}])
    search.reindex(store, [more])
    searcher = store.searcher()
    corpus_ = search.SearchEngine(store).corpus(searcher)
    corpus_.stored(0)
    assert len(corpus_.segments) == 2
    assert corpus_._stored_fields().direct() == [True, True]  # read directly, not through Whoosh
    assert [corpus_.stored(d) for d in range(corpus_.n)] == [searcher.stored_fields(d) for d in range(corpus_.n)]
    assert {corpus_.stored(d)["id"] for d in range(corpus_.n)} == {a["id"] for a in ARTICLES} | {"z"}


def test_duplicate_ids_last_one_wins(store, tmp_path):
    path = write_jsonl(
        tmp_path / "dup.jsonl",
        [{"id": "x", "title": "旧标题"}, {"id": "y", "title": "别的"}, {"id": "x", "title": "新标题"}],
    )
    report = search.reindex(store, [path], full=True, workers=1)
    assert (report.indexed, report.skipped, report.doc_count) == (2, 1, 2)
    assert report.warnings == [f"duplicate id 'x': {path}:3 replaces {path}:1"]
    assert search.SearchEngine(store).article("x")["title"] == "新标题"


def test_bad_records_reported_nothing_else_lost(store, tmp_path, corpus):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "b1", "title": "好"}\n{broken\n{"id": "b2"}\n', encoding="utf-8")
    report = search.reindex(store, [corpus, bad], full=True, workers=1)
    assert (report.indexed, report.failed, report.doc_count, report.ok) == (5, 2, 5, False)
    assert report.errors[0].startswith(f"{bad}:2: invalid JSON")
    assert report.errors[1] == f"{bad}:3: article 'b2' has neither title nor body"


def test_crash_mid_build_leaves_old_generation_serving(store, corpus, tmp_path):
    search.reindex(store, [corpus], full=True, workers=1)
    old = store.current()
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "z", "title": "别的新闻"}])

    def crash(point: str) -> None:
        raise KeyboardInterrupt(point)

    with pytest.raises(KeyboardInterrupt):
        search.reindex(store, [other], full=True, workers=1, crash_hook=crash)
    assert store.current() == old
    assert [p.name for p in store.root.iterdir() if p.name.startswith(("tmp-", "gen-"))] == [old]
    assert store.meta()["doc_count"] == 4 and search.SearchEngine(store).search("疫情").total == 2
    report = search.reindex(store, [other], full=True, workers=1)
    assert report.doc_count == 1 and store.current() != old


def test_second_writer_gets_busy_error(store, corpus):
    search.reindex(store, [corpus], full=True, workers=1)
    with store.write_lock():
        with pytest.raises(IndexBusyError, match="being written"):
            search.reindex(store, [corpus])


def test_index_built_with_other_dictionary_is_refused(store, corpus, tmp_path):
    search.reindex(store, [corpus], full=True, workers=1)
    extra = tmp_path / "dict.txt"
    extra.write_text("湘江新区 100 ns\n", encoding="utf-8")
    other = search.IndexStore(store.root, search.Analyzer(userdict=[extra]))
    with pytest.raises(IndexMismatchError, match="built with analyzer"):
        search.SearchEngine(other).search("衡阳")
    meta = json.loads((store.generation_dir() / "meta.json").read_text())
    assert meta["fingerprint"] == store.analyzer.fingerprint


def test_no_index_message(tmp_path, analyzer):
    with pytest.raises(search.NoIndexError, match="reindex PATH --full"):
        search.SearchEngine(search.IndexStore(Path(tmp_path / "none"), analyzer)).search("x")


@pytest.mark.parametrize("limitmb", [128, 1])
def test_the_term_at_a_time_flush_writes_the_files_whoosh_protocol_writes(tmp_path, analyzer, limitmb):
    """Our pool (postings in arrays, every block of a field encoded at once), and Whoosh's own pool and
    posting-at-a-time loop (``start_term``, ``add``, ``finish_term``) into the same codec, write
    byte-identical segment files (also from a pool that spilled sorted runs to disk)."""
    from whoosh.codec.base import FieldWriter
    from whoosh.filedb.filestore import FileStorage
    from whoosh.writing import PostingPool

    from search.documents import Documents
    from search.readers import read_articles
    from search.schema import bind_schema, build_schema
    from search.storage import NewsSegmentWriter, PreadStorage, finish_segment

    class StockFlush(NewsSegmentWriter):
        def __init__(self, ix, **kwargs) -> None:
            super().__init__(ix, **kwargs)
            self.pool = PostingPool(self._tempstorage, self.newsegment, limitmb=kwargs["limitmb"])

        def _flush_segment(self) -> None:
            self.perdocwriter.close()
            FieldWriter.add_postings(self.fieldwriter, self.schema, None, self.pool.iter_postings())
            self.fieldwriter.close()

    sample = Path(__file__).resolve().parents[1] / "sample"
    articles = list(read_articles([sample], lambda error: None))
    documents = Documents(analyzer)
    files = {}
    for name, writer_class in (("ours", NewsSegmentWriter), ("stock", StockFlush)):
        schema = build_schema()
        bind_schema(schema, analyzer)
        storage = PreadStorage if name == "ours" else FileStorage  # ours counts its writes: no lseek per tell
        ix = storage(str(tmp_path / name)).create().create_index(schema)
        writer = writer_class(ix, limitmb=limitmb)
        for article in articles:
            writer.add_document(**documents(article))
        if name == "stock":
            assert bool(writer.pool.runs) == (limitmb == 1)  # 1 MB: Whoosh's pool spilled sorted runs to disk
        segment = finish_segment(writer)
        writer.cancel()
        prefix = segment.make_filename("")
        files[name] = {p.name[len(prefix) :]: p.read_bytes() for p in (tmp_path / name).glob(prefix + "*")}
    assert len(files["ours"][".npo"]) > 100_000 and {".ntx", "._stored.col", ".body_text.col"} <= set(files["ours"])
    assert not {".trm", ".pst"} & set(files["ours"])  # no W3 postings
    assert files["ours"] == files["stock"]


def test_ranking_columns_hold_the_normalized_title_and_body(store, tmp_path):
    path = write_jsonl(
        tmp_path / "one.jsonl",
        [
            {"id": "t", "title": "ＣＯＶＩＤ－19：衛生部發佈通報", "body": "疫情防控形勢穩定。ＡＢＣ　5G"},
            {"id": "s", "title": "短"},
            {"id": "w", "title": "面积", "body": "新房120㎡……ＡＢ"},  # characters that expand when normalized
        ],
    )
    search.reindex(store, [path], full=True, workers=1)
    engine = search.SearchEngine(store)
    searcher = store.searcher()
    corpus = engine.corpus(searcher)
    t, s = searcher.document_number(id="t"), searcher.document_number(id="s")
    # Snippets take a body's normalized text from its column when it maps one to one, else normalize again.
    normalizer = store.analyzer.normalizer
    for docnum in (t, s, searcher.document_number(id="w")):
        body = corpus.stored(docnum).get("body", "")
        assert corpus.normalized_from("body_text", docnum, body, normalizer) == normalizer(body)
    assert normalizer("新房120㎡……ＡＢ") == ("新房120m2......ab", [0, 1, 2, 3, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 9])
    assert corpus.value("title_text", t).decode() == "covid19卫生部发布通报"
    assert corpus.value("body_text", t).decode() == "疫情防控形势稳定。abc 5g"
    assert (corpus.value("title_text", s), corpus.value("body_text", s)) == ("短".encode(), b"")
    assert corpus.value("signature", t) == signature("covid-19:卫生部发布通报\n疫情防控形势稳定。abc 5g")
    assert corpus.value("signature", s) == b""  # too short for a sketch


def test_a_writer_process_killed_mid_build_fails_the_run_promptly(store, corpus, tmp_path):
    import multiprocessing
    import os
    import signal
    import threading
    import time

    search.reindex(store, [corpus], full=True, workers=1)
    old = store.current()
    many = write_jsonl(tmp_path / "many.jsonl", [dict(a, id=f"{a['id']}-{i}") for i in range(200) for a in ARTICLES])
    killed: list[int] = []

    def kill_a_writer(done: int) -> None:  # the parent's progress hook: SIGKILL one writer after the first batch
        if not killed:
            writer = multiprocessing.active_children()[0]
            killed.append(writer.pid)
            os.kill(writer.pid, signal.SIGKILL)

    outcome: list[BaseException | search.ReindexReport] = []

    def run() -> None:
        try:
            outcome.append(search.reindex(store, [many], full=True, workers=2, progress=kill_a_writer))
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "reindex still waits on a dead writer process after 60 s"
    assert time.monotonic() - started < 30
    assert isinstance(outcome[0], search.WriterProcessError), outcome
    assert f"(pid {killed[0]}) was killed by SIGKILL" in str(outcome[0])
    assert store.current() == old
    assert [p.name for p in store.root.iterdir() if p.name.startswith(("tmp-", "gen-"))] == [old]
    assert search.SearchEngine(store).search("疫情").total == 2
    assert search.reindex(store, [many], full=True, workers=2).doc_count == 800  # the lock was released


def test_an_index_of_the_previous_schema_is_refused_and_stats_check_says_so(store, corpus):
    from click.testing import CliRunner

    from cli import cli

    search.reindex(store, [corpus], full=True, workers=1)
    meta_path = store.generation_dir() / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["schema_version"] == index_module.SCHEMA_VERSION == 9
    runner = CliRunner()
    assert runner.invoke(cli, ["--index", str(store.root), "stats", "--check"]).exit_code == 0
    meta_path.write_text(json.dumps({**meta, "schema_version": 8}), encoding="utf-8")
    with pytest.raises(
        IndexMismatchError, match="schema version 8, this program needs 9: rebuild it with reindex --full"
    ):
        search.SearchEngine(store).search("衡阳")
    result = runner.invoke(cli, ["--index", str(store.root), "stats", "--check"])
    assert result.exit_code == 1 and "rebuild it with reindex --full" in result.output
