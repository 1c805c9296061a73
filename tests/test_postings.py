from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import search
from search import postings
from search.postings import EXT, MERGED, Table, TableWriter, merge, term_key
from search.schema import BIGRAM_FIELDS, WORD_FIELDS
from search.scoring import _leaf_matcher, _read_postings

from .conftest import write_jsonl

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
QUERIES = ["衡阳", "疫情防控", "大学生志愿者", "C919", "5G", "南华大学 新生", "hengyang", "蒸湘区 -反诈", "title:衡阳"]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer) -> search.IndexStore:
    store = search.IndexStore(tmp_path_factory.mktemp("postings") / "index", analyzer)
    report = search.reindex(store, [SAMPLE], full=True, workers=2)
    assert report.ok, report.errors
    return store


@pytest.fixture(scope="module")
def segment_store(tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer) -> search.IndexStore:
    """The sample corpus with the segments' own tables, not merged (as an incremental update leaves them)."""
    store = search.IndexStore(tmp_path_factory.mktemp("segments") / "index", analyzer)
    with mock.patch("search.indexing._merge_tables"):
        report = search.reindex(store, [SAMPLE], full=True, workers=2)
    assert report.ok, report.errors
    assert not (store.generation_dir() / MERGED).exists()
    return store


def _segments(store: search.IndexStore) -> list:
    reader = store.searcher().reader()
    return [reader] if reader.is_atomic() else list(reader.readers)


def _as_lists(pair: tuple[np.ndarray, np.ndarray]) -> tuple[list[int], list[float]]:
    return pair[0].tolist(), pair[1].tolist()


def test_tables_hold_every_scoring_posting_whoosh_holds(segment_store):
    segments = _segments(segment_store)
    assert len(segments) >= 2  # one segment per indexing worker
    checked = 0
    for seg in segments:
        table = Table.of_segment(seg)
        assert table is not None and table.fields == frozenset(WORD_FIELDS + BIGRAM_FIELDS)
        terms = [(f, t) for f, t in seg.all_terms() if f in table.fields]
        assert len(table.keys) == len(terms)
        for fieldname, btext in terms:
            term = btext.decode("utf-8")
            whoosh = _read_postings(_leaf_matcher(seg, fieldname, term))
            assert _as_lists(table.get(fieldname, term_key(fieldname, btext))) == _as_lists(whoosh), (fieldname, term)
            checked += 1
        assert _as_lists(table.get("body", term_key("body", "没有这个词".encode()))) == ([], [])
        assert table.get("id", term_key("id", b"a1")) is None  # a field the table does not cover: ask Whoosh
    assert checked > 10_000


def test_the_merged_table_holds_every_posting_with_global_numbers(sample_store):
    reader = sample_store.searcher().reader()
    merged = Table.merged(reader)
    assert merged is not None
    assert merged.meta["segments"] == [[seg.segment().segment_id(), seg.doc_count_all()] for seg in reader.readers]
    expected: dict[tuple[str, bytes], tuple[list[int], list[float]]] = {}
    for seg, offset in zip(reader.readers, reader.doc_offsets, strict=True):
        for fieldname, btext in seg.all_terms():
            if fieldname in merged.fields:
                ids, tfs = _as_lists(_read_postings(_leaf_matcher(seg, fieldname, btext.decode("utf-8"))))
                have = expected.setdefault((fieldname, btext), ([], []))
                have[0].extend(i + offset for i in ids)
                have[1].extend(tfs)
    assert len(merged.keys) == len(expected)
    for (fieldname, btext), want in expected.items():
        assert _as_lists(merged.get(fieldname, term_key(fieldname, btext))) == want, (fieldname, btext)
    assert not list(sample_store.generation_dir().glob(f"*{EXT}"))  # merged: the segments' own tables are gone
    corpus = search.SearchEngine(sample_store).corpus(sample_store.searcher())
    assert [(table.path if table else None, len(covered)) for table, covered, _ in corpus.tables] == [
        (merged.path, len(reader.readers))
    ]


def test_a_term_is_read_once_then_served_length_normalised_from_the_cache(sample_store):
    corpus = search.SearchEngine(sample_store).corpus(sample_store.searcher())
    first = corpus.term_tf("body", "衡阳")
    assert len(first[0]) > 10 and corpus.term_tf("body", "衡阳") is first
    assert list(corpus._postings._items) == [("body", "衡阳")]
    ids, tfs = corpus.postings("body", "衡阳")  # as read, before length normalisation
    assert first[0].tolist() == ids.tolist()
    assert np.allclose(first[1], tfs * corpus.inverse_norms("body")[ids])


def _whoosh_only(engine: search.SearchEngine) -> search.SearchEngine:
    corpus = engine.corpus(engine.store.searcher())
    corpus.tables = [(None, [(seg, offset)], offset) for seg, offset in corpus.segments]
    return engine


def test_an_incremental_update_reads_the_merged_table_and_the_new_segment_table(sample_store, tmp_path, analyzer):
    store = search.IndexStore(tmp_path / "index", analyzer)
    search.reindex(store, [SAMPLE], full=True, workers=2)
    update = [
        {
            "id": "new-1",
            "title": "衡阳新增一条公交线路",
            "published": "2025-01-02 08:00:00",
            "body": "衡阳公交集团开通新线路。",
        },
    ]
    first = json.loads((SAMPLE / "articles-1.jsonl").read_text(encoding="utf-8").splitlines()[0])
    update.append({**first, "title": "衡阳 更新后的标题 疫情防控"})
    report = search.reindex(store, [write_jsonl(tmp_path / "update.jsonl", update)])
    assert report.ok and report.mode == "incremental"
    engine = search.SearchEngine(store)
    corpus = engine.corpus(store.searcher())
    (merged, covered, _), *rest = corpus.tables
    assert merged.meta["segments"] and len(covered) == len(merged.meta["segments"]) >= 2
    assert len(rest) == 1 and rest[0][0] is not None and rest[0][0].path.endswith(EXT)
    queries = QUERIES + ["公交线路", "更新后的标题"]
    got = [engine.search(q).to_json() for q in queries]
    want = [_whoosh_only(search.SearchEngine(store)).search(q).to_json() for q in queries]
    for data in got + want:
        data.pop("took_ms")
    assert got == want
    assert got[-2]["hits"][0]["id"] == "new-1" and got[-1]["hits"][0]["id"] == first["id"]


def test_a_delete_keeps_the_merged_table(tmp_path, analyzer):
    store = search.IndexStore(tmp_path / "index", analyzer)
    search.reindex(store, [SAMPLE], full=True, workers=2)
    before = search.SearchEngine(store)
    gone = before.search("衡阳", size=5).hits[0].id
    uncollapsed = before.search("衡阳", collapse=False).total
    assert search.delete(store, [gone]) == 1
    engine = search.SearchEngine(store)
    corpus = engine.corpus(store.searcher())
    assert len(corpus.tables) == 1 and corpus.tables[0][0].meta["segments"]
    got = [engine.search(q).to_json() for q in QUERIES]
    want = [_whoosh_only(search.SearchEngine(store)).search(q).to_json() for q in QUERIES]
    for data in got + want:
        data.pop("took_ms")
    assert got == want
    assert gone not in [h["id"] for h in got[0]["hits"]]
    assert engine.search("衡阳", collapse=False).total == uncollapsed - 1


def test_a_merged_table_of_other_segments_is_not_used(sample_store, tmp_path, analyzer):
    store = search.IndexStore(tmp_path / "index", analyzer)
    search.reindex(store, [SAMPLE], full=True, workers=2)
    path = store.generation_dir() / MERGED
    table = Table(str(path))
    segments = table.meta["segments"]
    table.close()
    raw = path.read_bytes().replace(segments[0][0].encode(), b"MAIN_" + b"x" * (len(segments[0][0]) - 5))
    path.write_bytes(raw)
    corpus = search.SearchEngine(store).corpus(store.searcher())
    assert [(table, len(covered)) for table, covered, _ in corpus.tables] == [(None, 1)] * len(segments)
    assert _search_json(store) == _search_json(store, whoosh_only=True)


def _search_json(store: search.IndexStore, whoosh_only: bool = False) -> list[dict]:
    engine = _whoosh_only(search.SearchEngine(store)) if whoosh_only else search.SearchEngine(store)
    out = []
    for q in QUERIES:
        data = engine.search(q, facets=True).to_json()
        data.pop("took_ms")
        out.append(data)
    return out


def test_search_is_the_same_through_tables_and_through_whoosh(sample_store, segment_store, tmp_path, analyzer):
    merged = _search_json(sample_store)
    assert sum(r["total"] for r in merged) > 20
    assert merged == _search_json(sample_store, whoosh_only=True)
    with_tables = _search_json(segment_store)
    assert with_tables == _search_json(segment_store, whoosh_only=True)
    # the same index with one table removed and one damaged: Whoosh answers for those segments
    copy = tmp_path / "copy"
    copy.mkdir()
    gen = segment_store.generation_dir()
    for path in gen.parent.iterdir():
        if path.is_dir():
            (copy / path.name).mkdir()
            for f in path.iterdir():
                (copy / path.name / f.name).write_bytes(f.read_bytes())
        else:
            (copy / path.name).write_bytes(path.read_bytes())
    tables = sorted((copy / gen.name).glob(f"*{EXT}"))
    assert len(tables) >= 2
    tables[0].unlink()
    tables[1].write_bytes(tables[1].read_bytes()[:-3])  # truncated
    other = search.IndexStore(copy, analyzer)
    assert [Table.of_segment(seg) for seg in _segments(other)].count(None) >= 2
    assert _search_json(other) == with_tables


class _Segment:
    def __init__(self, path: Path) -> None:
        self.path = path

    def create_file(self, storage, ext):
        return open(self.path, "wb")


def test_terms_sharing_a_key_are_read_through_whoosh(tmp_path, monkeypatch):
    real = postings.term_key
    monkeypatch.setattr(postings, "term_key", lambda f, b: 7 if b in (b"x", b"y") else real(f, b))
    writer = TableWriter(("body",))
    for btext, docnums, weights in ((b"w", [0, 3], [1.0, 2.0]), (b"x", [1], [1.0]), (b"y", [2], [5.0])):
        writer.add("body", btext, docnums, weights)
    assert writer.write(None, _Segment(tmp_path / f"seg{EXT}"))
    table = Table(str(tmp_path / f"seg{EXT}"))
    assert _as_lists(table.get("body", real("body", b"w"))) == ([0, 3], [1.0, 2.0])
    assert table.get("body", 7) is None
    assert _as_lists(table.get("body", real("body", b"z"))) == ([], [])


def test_merging_numbers_documents_globally_widens_frequencies_and_keeps_shared_keys_shared(tmp_path, monkeypatch):
    real = postings.term_key
    monkeypatch.setattr(postings, "term_key", lambda f, b: 7 if b in (b"x", b"y") else real(f, b))
    segments = {
        "a": [(b"w", [0, 3], [1.0, 2.0]), (b"x", [1], [1.0]), (b"y", [2], [1.0])],
        "b": [(b"w", [1], [300.0]), (b"z", [0], [1.0]), (b"x", [0], [1.0])],
    }
    for name, terms in segments.items():
        writer = TableWriter(("body", "title"))
        for btext, docnums, weights in terms:
            writer.add("body", btext, docnums, weights)
        writer.write(None, _Segment(tmp_path / f"{name}{EXT}"))
    parts = [(str(tmp_path / f"a{EXT}"), "SEG_a", 0, 4), (str(tmp_path / f"b{EXT}"), "SEG_b", 4, 2)]
    assert merge(parts, tmp_path / MERGED)
    table = Table(str(tmp_path / MERGED))
    assert table.meta == {"fields": ["body", "title"], "segments": [["SEG_a", 4], ["SEG_b", 2]]}
    assert table.tf_code == 2
    assert _as_lists(table.get("body", real("body", b"w"))) == ([0, 3, 5], [1.0, 2.0, 300.0])
    assert _as_lists(table.get("body", real("body", b"z"))) == ([4], [1.0])
    assert table.get("body", 7) is None
    assert not merge([*parts, (str(tmp_path / f"missing{EXT}"), "SEG_c", 6, 1)], tmp_path / "other.npt")


@pytest.mark.parametrize(
    ("weights", "dtype"),
    [([], "uint8"), ([1.0, 255.0], "uint8"), ([1.0, 300.0], "uint16"), ([70000.0], "float32"), ([1.5], "float32")],
)
def test_frequencies_are_stored_in_the_smallest_exact_type(tmp_path, weights, dtype):
    writer = TableWriter(("body",))
    writer.add("body", b"t", list(range(len(weights))), weights)
    writer.write(None, _Segment(tmp_path / f"seg{EXT}"))
    table = Table(str(tmp_path / f"seg{EXT}"))
    assert table._tf_dtype == np.dtype(dtype)
    assert _as_lists(table.get("body", term_key("body", b"t"))) == (list(range(len(weights))), weights)


def test_a_file_that_is_not_a_table_is_refused(tmp_path):
    (tmp_path / f"seg{EXT}").write_bytes(b"NOPE" + b"\0" * 60)
    with pytest.raises(ValueError, match="not a complete postings table"):
        Table(str(tmp_path / f"seg{EXT}"))
