"""The news codec: what the analysis produced is what every reader of the index sees."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import query as Q

import search
from search.analysis import PhraseFinder
from search.documents import Documents
from search.readers import read_articles
from search.schema import NewsText
from search.storage import PackedPositions, blocks, codec, term_postings
from search.storage.terms import NewsTermsReader

from .conftest import body_bigrams, held_at_positions, write_jsonl

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
QUERIES = ["衡阳", "疫情防控", "大学生志愿者", "C919", "5G", "南华大学 新生", "hengyang", "蒸湘区 -反诈", "title:衡阳"]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory, analyzer: search.Analyzer) -> search.IndexStore:
    store = search.IndexStore(tmp_path_factory.mktemp("storage") / "index", analyzer)
    # the writers' segments kept (no merge): reading across segments is what these tests check
    report = search.reindex(store, [SAMPLE], full=True, workers=2, merge=search.MergePolicy(max_segments=0))
    assert report.ok, report.errors
    return store


def _segments(store: search.IndexStore) -> list[tuple]:
    reader = store.searcher().reader()
    return [(reader, 0)] if reader.is_atomic() else list(zip(reader.readers, reader.doc_offsets, strict=True))


def _analysed(store: search.IndexStore) -> dict[tuple[str, bytes], list[tuple[int, float, list[int] | None]]]:
    """Every text field's postings as the analysis produced them, by global document number."""
    searcher = store.searcher()
    documents = Documents(store.analyzer)
    expected: dict[tuple[str, bytes], list] = {}
    for article in read_articles([SAMPLE], lambda error: None):
        docnum = searcher.document_number(id=article.id)
        for name, value in documents(article).items():
            if isinstance(searcher.schema[name] if name in searcher.schema else None, NewsText):
                for btext, _freq, weight, encoded in value:
                    poses = np.frombuffer(encoded, dtype="<u4").tolist() if encoded is not None else None
                    expected.setdefault((name, btext), []).append((docnum, weight, poses))
    return {key: sorted(postings) for key, postings in expected.items()}


def test_every_posting_list_is_what_the_analysis_produced(sample_store):
    expected = _analysed(sample_store)
    assert len(expected) > 10_000
    got: dict[tuple[str, bytes], list] = {}
    for seg, offset in _segments(sample_store):
        for fieldname, btext in seg.all_terms():
            if (fieldname, btext) not in expected and not isinstance(seg.schema[fieldname], NewsText):
                continue
            m = seg.postings(fieldname, btext)  # Whoosh's matcher, as queries read it
            positions = m.supports("positions")
            listed = got.setdefault((fieldname, btext), [])
            while m.is_active():
                listed.append((m.id() + offset, m.weight(), m.value_as("positions") if positions else None))
                m.next()
            ids, weights = term_postings(seg, fieldname, btext, None)  # the scorer's arrays
            assert (ids + offset).tolist() == [p[0] for p in listed[-len(ids) :]]
            assert weights.tolist() == [p[1] for p in listed[-len(ids) :]]
    assert got == expected


def test_the_title_bigrams_keep_positions_and_the_body_phrases_are_found_on_its_text(sample_store):
    seg, _ = _segments(sample_store)[0]
    assert isinstance(seg.schema["title_bg"].format, PackedPositions)
    assert not seg.schema["body_bg"].format.supports("positions")
    assert not seg.schema["body"].format.supports("positions")
    analyzer = sample_store.analyzer
    searcher = sample_store.searcher()
    corpus = search.SearchEngine(sample_store).corpus(searcher)
    placed = [body_bigrams(analyzer, searcher.stored_fields(d)) for d in range(corpus.n)]
    for text, least in (
        ("衡阳市", 2),
        ("大学生志愿者", 2),
        ("南岳机场", 2),
        ("5G基站", 2),
        ("一带，一路", 0),
        ("2024年", 0),
    ):
        tokens = [(t.text, t.pos) for t in analyzer.bigrams(text)]
        expected = [d for d, grams in enumerate(placed) if held_at_positions(grams, tokens)]
        found = corpus.phrase_docs("body_bg", PhraseFinder(tokens), analyzer.normalizer.text).tolist()
        assert (text, found) == (text, expected)
        assert len(found) >= least, text


def _search_json(store: search.IndexStore) -> list[dict]:
    engine = search.SearchEngine(store)
    out = []
    for q in QUERIES:
        data = engine.search(q, facets=True).to_json()
        data.pop("took_ms")
        out.append(data)
    return out


def _through_matchers(seg, fieldname: str, btext: bytes, lock) -> tuple[np.ndarray, np.ndarray]:
    """A term's postings read through Whoosh's public matcher, one posting at a time."""
    if (fieldname, btext) not in seg:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    m, ids, tfs = seg.postings(fieldname, btext), [], []
    while m.is_active():
        ids.append(m.id())
        tfs.append(m.weight())
        m.next()
    return np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float32)


def test_search_is_the_same_through_arrays_and_through_whoosh_matchers(sample_store, monkeypatch):
    arrays = _search_json(sample_store)
    assert sum(r["total"] for r in arrays) > 20

    def through_matchers(segments, fieldname, btexts, lock):
        out = []
        for btext in btexts:
            read = [
                (ids + offset, tfs)
                for seg, offset in segments
                for ids, tfs in [_through_matchers(seg, fieldname, btext, lock)]
            ]
            out.append((np.concatenate([r[0] for r in read]), np.concatenate([r[1] for r in read])))
        return out

    monkeypatch.setattr("search.scoring.generation_postings", through_matchers)
    assert _search_json(sample_store) == arrays


def test_updates_deletes_and_a_merge_of_segments_keep_every_posting(tmp_path, analyzer, monkeypatch):
    store = search.IndexStore(tmp_path / "index", analyzer)
    search.reindex(store, [SAMPLE], full=True, workers=2, merge=search.MergePolicy(max_segments=0))
    first = json.loads((SAMPLE / "articles-1.jsonl").read_text(encoding="utf-8").splitlines()[0])
    update = [
        {
            "id": "new-1",
            "title": "衡阳新增一条公交线路",
            "published": "2025-01-02 08:00:00",
            "body": "衡阳公交集团开通新线路。",
        },
        {**first, "title": "衡阳 更新后的标题 疫情防控"},
    ]
    report = search.reindex(store, [write_jsonl(tmp_path / "update.jsonl", update)])
    assert report.ok and report.mode == "incremental"
    gone = search.SearchEngine(store).search("南华大学", size=5).hits[0].id
    assert search.delete(store, [gone]) == 1
    assert len(_segments(store)) == 3
    queries = QUERIES + ["公交线路", "更新后的标题", "南华大学"]

    def matches() -> list[tuple[int, set[str]]]:
        engine = search.SearchEngine(store)
        found = [engine.search(q, size=500, collapse=False) for q in queries]
        return [(r.total, {h.id for h in r.hits}) for r in found]

    before = matches()
    assert "new-1" in before[-3][1] and first["id"] in before[-2][1] and gone not in before[-1][1]
    # Whoosh merges every segment into one through the codec's matchers and flush (deleted documents go;
    # scores change with the collection, what matches does not)
    ix = store.open()
    writer = ix.writer(codec=codec(), compound=False)
    writer.commit(optimize=True)
    (seg, _), *rest = _segments(store)
    assert not rest and isinstance(seg._terms, NewsTermsReader) and not seg.has_deletions()
    assert matches() == before


class _Field:
    def __init__(self, format_) -> None:
        self.format = format_

    def from_bytes(self, b: bytes) -> str:
        return b.decode("utf-8")

    def to_bytes(self, text: str) -> bytes:
        return text.encode("utf-8")


def _write_segment(
    tmp_path: Path, terms: dict[str, list[tuple[bytes, list[int], list[float], list[list[int]] | None]]]
):
    from whoosh.filedb.filestore import FileStorage

    storage = FileStorage(str(tmp_path)).create()
    segment = codec().new_segment(storage, "T")
    writer = codec().field_writer(storage, segment)
    for fieldname in sorted(terms):
        positions = terms[fieldname][0][3] is not None
        writer.start_field(fieldname, _Field(PackedPositions() if positions else search.schema.formats.Frequency()))
        for btext, docnums, weights, poses in terms[fieldname]:
            writer.start_term(btext)
            for i, (d, w) in enumerate(zip(docnums, weights, strict=True)):
                writer.add(d, w, PackedPositions().encode(poses[i]) if poses else None, None)
            writer.finish_term()
        writer.finish_field()
    writer.close()
    segment.set_doc_count(10)
    return storage, segment


def test_terms_are_found_listed_and_walked_in_order(tmp_path):
    long_a, long_b = "中华人民共和国".encode(), "中华人民共和国国务院".encode()  # share their first 8 bytes
    storage, segment = _write_segment(
        tmp_path,
        {
            "body": [(b"5g", [1, 4], [1.0, 3.0], None), (long_a, [2], [1.0], None), (long_b, [0, 9], [2.0, 1.0], None)],
            "id": [(b"\x00\x01", [3], [1.0], None), (b"\x00\x01\x00", [5], [1.0], None)],  # zero bytes, as numbers have
            "title_bg": [("衡阳".encode(), [0, 7], [2.0, 1.0], [[3, 9], [0]])],
        },
    )
    terms = NewsTermsReader(storage, segment)
    assert list(terms.terms()) == [
        ("body", b"5g"),
        ("body", long_a),
        ("body", long_b),
        ("id", b"\x00\x01"),
        ("id", b"\x00\x01\x00"),
        ("title_bg", "衡阳".encode()),
    ]
    assert list(terms.terms_from("body", "中华人民共和国国".encode()))[0] == ("body", long_b)
    assert list(terms.terms_from("channel", b""))[0] == ("id", b"\x00\x01")  # no such field: the next one's
    assert [terms.doc_frequency("body", t) for t in (b"5g", long_a, long_b)] == [2, 1, 2]
    assert ("id", b"\x00\x01\x00") in terms and ("id", b"\x00") not in terms and ("nope", b"5g") not in terms
    assert terms.frequency("body", long_b) == 3.0
    ids, weights = terms.arrays("body", b"5g")
    assert (ids.tolist(), weights.tolist()) == ([1, 4], [1.0, 3.0])
    assert terms.arrays("body", "中华人民".encode()) is None
    # a query's terms looked up together (one searchsorted): the same as one by one, in the order asked
    asked = [long_b, "中华人民".encode(), b"5g", long_a, long_b, b"zz"]
    assert terms.find_many("body", asked) == [2, -1, 0, 1, 2, -1]
    assert terms.find_many("nope", asked[:2]) == [-1, -1] and terms.find_many("body", []) == []
    zeros = [b"\x00\x01\x00", b"\x00", b"\x00\x01", b"\x00\x01\x00\x00"]  # one key, shorter terms first
    assert terms.find_many("id", zeros) == [terms.find("id", t) for t in zeros] == [4, -1, 3, -1]
    together = [(a[0].tolist(), a[1].tolist()) if a else None for a in terms.arrays_many("body", asked)]
    assert together == [([0, 9], [2.0, 1.0]), None, ([1, 4], [1.0, 3.0]), ([2], [1.0]), ([0, 9], [2.0, 1.0]), None]
    m = terms.matcher("title_bg", "衡阳".encode(), PackedPositions())
    assert [(m.id(), m.weight(), m.value_as("positions")) for _ in range(1) if m.is_active()] == [(0, 2.0, [3, 9])]
    m.next()
    assert (m.id(), m.value_as("positions")) == (7, [0])
    cursor = terms.cursor("body", _Field(None))
    assert (
        cursor.text() == "5g"
        and cursor.next() == "中华人民共和国"
        and cursor.find("中华人民共和国国") == "中华人民共和国国务院"
    )
    assert cursor.next() is None and not cursor.is_valid()
    terms.close()


def test_terms_sharing_eight_bytes_and_their_length_are_told_apart(tmp_path):
    first, second = "中美关切".encode(), "中美关系".encode()  # 12 bytes each, the first 8 the same
    storage, segment = _write_segment(
        tmp_path, {"body": [(first, [1], [1.0], None), (second, [2, 3], [1.0, 1.0], None)]}
    )
    terms = NewsTermsReader(storage, segment)
    asked = [second, first, "中美关".encode(), b"x"]  # more than FEW_TERMS: one searchsorted for all
    assert terms.find_many("body", asked) == [terms.find("body", t) for t in asked] == [1, 0, -1, -1]
    terms.close()


def test_a_file_that_is_not_a_terms_file_is_refused(tmp_path):
    storage, segment = _write_segment(tmp_path, {"body": [(b"x", [0], [1.0], None)]})
    path = Path(storage.folder) / segment.make_filename(".ntx")
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="not a complete news terms file"):
        NewsTermsReader(storage, segment)
    path.write_bytes(b"NOPE" + b"\0" * 60)
    with pytest.raises(ValueError, match="not a news terms file"):
        NewsTermsReader(storage, segment)


def _term_postings(top_docnum: int, most: int) -> st.SearchStrategy:
    """One term's postings: (document number, weight, positions), document numbers distinct."""
    return st.lists(
        st.tuples(
            st.integers(0, top_docnum),
            st.sampled_from([1.0, 2.0, 300.0, 70_000.0, 1.5]),
            st.lists(st.integers(0, 70_000), max_size=4),
        ),
        min_size=1,
        max_size=most,
        unique_by=lambda p: p[0],
    )


@settings(max_examples=200, deadline=None)
@given(
    _term_postings(70_000, 40),
    st.booleans(),
)
def test_a_block_gives_back_what_was_written(postings, with_positions):
    postings.sort()
    docnums = [p[0] for p in postings]
    weights = [p[1] for p in postings]
    positions = None
    if with_positions:
        poses = [sorted(p[2]) if i % 2 else p[2] for i, p in enumerate(postings)]  # some out of order
        positions = b"".join(PackedPositions().encode(p) for p in poses)
        raw = blocks.encode(docnums, weights, positions, [len(p) for p in poses])
    else:
        raw = blocks.encode(docnums, weights)
    args = (docnums, weights, *((positions, [len(p) for p in poses]) if with_positions else (None, None)))
    assert blocks._encode_small(*args) == blocks._encode_arrays(*args) == raw  # plain Python, numpy: the same bytes
    found = blocks.decode(raw, len(docnums))
    assert found.ids.tolist() == docnums and found.weights.tolist() == weights
    ids, plain = blocks.decode_arrays(raw, len(docnums))  # what scoring reads
    assert (ids.dtype, plain.dtype, ids.tolist(), plain.tolist()) == (np.int64, np.float32, docnums, weights)
    if with_positions:
        assert found.counts.tolist() == [len(p) for p in poses]
        assert found.positions().tolist() == [x for p in poses for x in p]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_term_postings(5_000_000, 20), min_size=1, max_size=12), st.booleans(), st.sampled_from([1, 7, 1 << 20])
)
def test_many_blocks_encoded_at_once_are_the_blocks_encoded_one_by_one(terms, with_positions, chunk):
    """``encode_many`` (a build's flush, a merge) writes ``encode``'s bytes, in chunks of any size, and
    ``decode_region`` reads back what was written."""
    docnums, weights, counts, positions, expected = [], [], [], [], []
    for i, postings in enumerate(terms):
        postings = sorted(postings)
        d, w = [p[0] for p in postings], [p[1] for p in postings]
        poses = [sorted(p[2]) if (i + k) % 3 else p[2] for k, p in enumerate(postings)]  # some out of order
        docnums += d
        weights += w
        counts += [len(p) for p in poses]
        positions += [x for p in poses for x in p]
        if with_positions:
            raw = blocks.encode(d, w, b"".join(PackedPositions().encode(p) for p in poses), [len(p) for p in poses])
        else:
            raw = blocks.encode(d, w)
        expected.append(raw)
    dfs = np.array([len(t) for t in terms])
    extra = (np.array(counts), np.array(positions)) if with_positions else (None, None)
    original = blocks.CHUNK_POSTINGS
    blocks.CHUNK_POSTINGS = chunk
    try:
        blob, ends = blocks.encode_many(dfs, np.array(docnums), np.array(weights), *extra)
    finally:
        blocks.CHUNK_POSTINGS = original
    assert blob == b"".join(expected)
    assert ends.tolist() == np.cumsum([len(raw) for raw in expected]).tolist()
    found = blocks.decode_region(blob, ends, dfs, with_positions)
    assert found[0].tolist() == docnums and found[1].tolist() == weights
    if with_positions:
        assert (found[2].tolist(), found[3].tolist()) == (counts, positions)
    else:
        assert found[2] is None and found[3] is None


@pytest.mark.parametrize(
    ("docnums", "weights", "size"),
    [([5], [1.0], 2), ([5, 300], [1.0, 1.0], 5), ([0, 1], [2.0, 3.0], 5), ([0, 1], [300.0, 1.0], 7), ([0], [0.5], 6)],
)
def test_a_block_takes_the_narrowest_types(docnums, weights, size):
    assert len(blocks.encode(docnums, weights)) == size


def test_document_numbers_must_ascend():
    with pytest.raises(ValueError, match="unique and ascending"):
        blocks.encode([3, 1], [1.0, 1.0])


def test_a_body_is_stored_once_as_a_patch_on_its_normalized_column(tmp_path, analyzer):
    from whoosh.codec.whoosh3 import W3PerDocReader

    bodies = {
        "t": "疫情防控形勢穩定。ＡＢＣ　5G",  # traditional and full-width characters: a patch
        "s": "普通的正文，没有要改的字",
        "w": "新房120㎡……ＡＢ",  # characters that expand when normalized: stored whole
        "e": "",
    }
    records = [{"id": k, "title": f"标题{k}", "body": v} for k, v in bodies.items()]
    store = search.IndexStore(tmp_path / "index", analyzer)
    search.reindex(store, [write_jsonl(tmp_path / "a.jsonl", records)], full=True, workers=1)
    searcher = store.searcher()
    corpus = search.SearchEngine(store).corpus(searcher)
    (seg, _), *_ = _segments(store)
    kept = {}
    for article_id, body in bodies.items():
        d = searcher.document_number(id=article_id)
        assert searcher.stored_fields(d)["body"] == corpus.stored(d)["body"] == body
        kept[article_id] = W3PerDocReader.stored_fields(seg._perdoc, d)["body"]  # as written
    assert [k for k, v in kept.items() if isinstance(v, str)] == ["w"]
    assert kept["t"][3] == "勢穩ＡＢＣ\u3000G" and kept["s"][3] == "，"


def test_term_statistics_hold_across_segments_and_fields_without_lengths(sample_store):
    reader = sample_store.searcher().reader()
    assert not reader.is_atomic()
    for fieldname in ("body", "authors", "title_bg"):  # authors keeps no lengths
        walked = list(reader.iter_field(fieldname))  # Whoosh combines each term's statistics per segment
        assert len(walked) > 10
        assert all(info.doc_frequency() == reader.doc_frequency(fieldname, btext) for btext, info in walked)
        assert all(info.min_length() is not None for _, info in walked[:50])
    ids, weights = search.SearchEngine(sample_store).corpus(sample_store.searcher()).postings("body", "衡阳")
    info = reader.term_info("body", "衡阳")
    assert (info.doc_frequency(), info.weight(), info.min_id(), info.max_id(), info.max_weight()) == (
        len(ids),
        float(weights.sum()),
        int(ids[0]),
        int(ids[-1]),
        float(weights.max()),
    )
    assert 0 < info.min_length() <= info.max_length()


def test_whoosh_top_n_searches_ask_our_matchers_for_their_max_quality(sample_store):
    # A search with a limit smaller than its matches makes Whoosh's collector ask each matcher's
    # max quality (block_max_weight, block_min_length) to skip what cannot reach the top: the related
    # box does this. Our matchers carry term statistics for it (the soak found a 500 without them).
    with sample_store.searcher() as searcher:
        words = [Q.Term("body", w) for w in ("衡阳", "记者", "疫情", "市民", "工作", "开展")]
        query = Q.Or([Q.Or(words[:3], boost=2.0), Q.Or(words[3:])])
        everything = searcher.search(query, limit=None)
        top = searcher.search(query, limit=3)
        assert len(everything) > 3
        assert [h.docnum for h in top] == [h.docnum for h in everything][:3]


def test_blocks_decoded_together_are_the_blocks_decoded_one_by_one(monkeypatch):
    written = [
        ([5], [1.0], 0),
        ([0, 300, 70_000], [2.0, 300.0, 70_000.0], 100),
        ([3, 4], [1.5, 1.0], 100),
        ([7], [1.0], 1_000_000),
        ([1, 2, 3, 400], [1.0, 1.0, 2.0, 1.0], 1_000_000),
        ([9], [4.0], 2_000_000),
    ]
    raws = [blocks.encode(docnums, weights) for docnums, weights, _ in written]
    expected = (
        [d + offset for docnums, _, offset in written for d in docnums],
        [w for _, weights, _ in written for w in weights],
    )
    # the shared numpy calls, few blocks one by one, and large blocks (here: of 2 postings or more,
    # or every block) straight into their places among small ones
    for large, k in itertools.product((10**9, 2, 1), (len(written), 2, 0)):
        monkeypatch.setattr(blocks, "LARGE", large)
        ids, weights = blocks.decode_many(raws[:k], [len(d) for d, _, _ in written[:k]], [o for _, _, o in written[:k]])
        n = sum(len(d) for d, _, _ in written[:k])
        assert (ids.dtype, weights.dtype) == (np.int64, np.float32)
        assert (ids.tolist(), weights.tolist()) == (expected[0][:n], expected[1][:n])


def test_terms_of_one_key_and_one_length_are_found_together_as_one_by_one(tmp_path):
    # 中共中国 and 中共中央: the same first eight bytes (the key) and the same length; asked
    # together, the second was answered with the first's postings (15 for 中共中央's 1,169 on xwlb)
    first, second = "中共中国".encode(), "中共中央".encode()
    storage, segment = _write_segment(
        tmp_path, {"body": [(b"5g", [1], [1.0], None), (first, [2], [1.0], None), (second, [0, 9], [2.0, 1.0], None)]}
    )
    terms = NewsTermsReader(storage, segment)
    asked = [second, b"5g", first, "中共中共".encode()]
    assert terms.find_many("body", asked) == [terms.find("body", t) for t in asked] == [2, 0, 1, -1]
    assert terms.doc_frequencies("body", asked) == [2, 1, 1, 0]


def test_every_reader_of_a_segment_shares_its_term_table(sample_store):
    # each thread's searcher opens readers of its own: eight threads held eight copies of the tables
    def tables(reader):
        segments = [reader] if reader.is_atomic() else reader.readers
        return [search.storage.news_terms(seg)._table for seg in segments]

    first, second = sample_store.open().reader(), sample_store.open().reader()
    assert [id(t) for t in tables(first)] == [id(t) for t in tables(second)]
    assert len(set(map(id, tables(first)))) == len(tables(first)) >= 1
    ids = first.first_id("body", "衡阳"), second.first_id("body", "衡阳")
    assert ids[0] is not None and ids[0] == ids[1]
    first.close()
    second.close()


def test_a_commit_reaches_the_disk_before_its_table_of_contents_is_renamed(tmp_path, analyzer, monkeypatch):
    import os

    store = search.IndexStore(tmp_path / "index", analyzer)
    search.reindex(store, [SAMPLE], full=True, workers=1)
    events: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append("fsync " + os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src, dst) -> None:
        events.append(f"rename {os.path.basename(src)} -> {os.path.basename(dst)}")
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    gen = store.generation_dir()
    before = {p.name for p in gen.iterdir()}
    update = [
        {"id": "new-1", "title": "衡阳新增一条公交线路", "published": "2025-01-02 08:00:00", "body": "开通新线路。"}
    ]
    assert search.reindex(store, [write_jsonl(tmp_path / "update.jsonl", update)]).ok
    new_files = {p.name for p in gen.iterdir()} - before
    renamed = next(i for i, e in enumerate(events) if e.startswith("rename ") and e.endswith(".toc"))
    table = events[renamed].split(" -> ")[1]
    synced_first = {e.split(" ", 1)[1] for e in events[:renamed] if e.startswith("fsync ")}
    # every file of the new segment, and the table under its temporary name, before the rename;
    # the directory after it (files older than the last table are not synced again)
    assert new_files - {table} <= synced_first and new_files - {table}
    assert any(name.startswith(table + ".") for name in synced_first)
    assert f"fsync {gen.name}" in events[renamed + 1 :]
    assert not synced_first & {p for p in before if p.endswith(".col") or p.endswith(".npo")}
