"""Merging segments at the codec's level: blocks renumbered and concatenated, per-document files copied.

Whoosh merges segments through its generic path: every posting of every
segment read through a matcher and written back through the posting pool
(662 s for xwlb). The news codec's segments merge directly:

* the document numbers: a source segment's live documents take the next
  numbers in order, its deleted ones none (``_renumbering``);
* the terms: every field's terms of every source walked in order
  (``heapq.merge``), one term at a time, so memory holds the sources' terms
  tables (what a searcher holds) and one term's postings, never the index;
* a term in one source without deletions keeps its block's bytes with only
  the first document delta moved (``blocks.shift``); any other term's blocks
  are decoded, their deleted documents dropped, and encoded as one;
* the per-document columns (stored fields still compressed, lengths,
  sortable values, the normalized texts) copied value by value for the live
  documents; a body stored as a patch on its column stays valid;
* the field-length totals are the sources' minus what the dropped documents
  held (the sum of their postings' frequencies: exact, where the per-document
  length bytes are not).

``merge_segments`` writes the new segment's files beside the old ones, then a
new table of contents (Whoosh writes it to a temporary name and renames it):
a crash before that rename leaves the old table, whose files are untouched,
and the next write removes the orphans. The old segments' files stay until
the next write, so a query that started on them finishes.

Why one module of this size: a merge rewrites the three parts of a segment
(postings, columns, field-length totals) in one crash-safe step; the policy
that picks what to merge (``plan_merge``) is a few lines kept beside what it
plans.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from bisect import bisect_right
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3PerDocReader
from whoosh.columns import VarBytesColumn
from whoosh.index import TOC, clean_files

from . import blocks
from .codec import NewsCodec, NewsFieldWriter
from .files import PreadStorage
from .formats import PackedPositions
from .terms import NewsTermsReader
from .writer import codec as news_codec

FAN_IN = 20  # segments a merge reads at once (merge_all merges more in rounds): ~300 at 1M articles → 15 → 1
WINDOW_TERMS = 1 << 16  # terms a round of a merge takes from all its sources together …
WINDOW_POSTINGS = 1 << 18  # … or fewer, when their postings are more than this
STORED = "_stored"  # W3's stored-fields column: each document's pickled fields, zlib-compressed


@dataclass(frozen=True)
class SegmentInfo:
    """A segment of a generation: its name, documents (deleted included) and deleted documents."""

    name: str
    docs: int
    deleted: int

    @property
    def live(self) -> int:
        return self.docs - self.deleted


@dataclass
class MergeReport:
    """What a merge did (``merged`` 0: nothing to merge)."""

    segments_before: int = 0
    segments_after: int = 0
    merged: int = 0
    docs: int = 0
    dropped: int = 0
    seconds: float = 0.0
    names: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "segments_before": self.segments_before,
            "segments_after": self.segments_after,
            "merged": self.merged,
            "docs": self.docs,
            "dropped": self.dropped,
            "seconds": round(self.seconds, 3),
        }


def _toc(storage: PreadStorage) -> tuple[Any, TOC]:
    ix = storage.open_index()
    return ix, TOC.read(storage, ix.indexname)


def segments_of(gen_dir: str | Path) -> list[SegmentInfo]:
    """The segments of the Whoosh index in ``gen_dir``, in the order readers number documents."""
    _, toc = _toc(PreadStorage(str(gen_dir)))
    return [SegmentInfo(s.segment_id(), s.doc_count_all(), s.deleted_count()) for s in toc.segments]


def plan_merge(segments: list[SegmentInfo], max_segments: int, max_deleted: float) -> list[str]:
    """The segments to merge into one (none: leave the generation as it is).

    Log-structured: when there are more than ``max_segments``, the smallest
    (the latest updates) are merged until half that many are left, so the
    large segments of a full build are rewritten rarely; a segment whose
    deleted share exceeds ``max_deleted`` (0-1) joins the merge, which drops
    its deleted documents. ``max_segments`` 0 means never by count.
    """
    chosen: set[str] = set()
    if max_segments and len(segments) > max_segments:
        by_size = sorted(segments, key=lambda s: (s.live, s.name))
        chosen.update(s.name for s in by_size[: len(segments) - max(max_segments // 2, 1) + 1])
    chosen.update(s.name for s in segments if s.docs and s.deleted / s.docs > max_deleted)
    if len(chosen) == 1 and not any(s.deleted for s in segments if s.name in chosen):
        return []
    return [s.name for s in segments if s.name in chosen]


def merge_segments(gen_dir: str | Path, names: list[str] | None = None, keep_old: bool = True) -> MergeReport:
    """Merge the named segments of ``gen_dir`` (all by default) into one; call it holding the write lock.

    The merged segment takes the place of the first merged one. ``keep_old``
    leaves the merged segments' files for readers that still have them open
    (the next write removes them); a generation nobody reads yet can drop them
    at once.
    """
    started = time.perf_counter()
    storage = PreadStorage(str(gen_dir))
    ix, toc = _toc(storage)
    clean_files(storage, ix.indexname, toc.generation, toc.segments)  # leftovers of earlier merges and crashes
    sources = _sources(toc, names)
    if not sources or (len(sources) == 1 and not sources[0].has_deletions()):
        report = MergeReport(segments_before=len(toc.segments), segments_after=len(toc.segments))
    else:
        merged = _merge(storage, toc.schema, sources, ix.indexname)
        report = _replace(storage, [[s.segment_id() for s in sources]], [merged], keep_old)
    report.seconds = time.perf_counter() - started
    return report


def merge_all(gen_dir: str | Path, keep_old: bool = True, fan_in: int = FAN_IN, workers: int = 1) -> MergeReport:
    """Merge every segment of ``gen_dir`` into one, at most ``fan_in`` at a time; call it holding the write lock.

    A merge holds its sources' terms tables: a million-article build ends
    with a few hundred segments, too many tables at once. Runs of ``fan_in``
    neighbouring segments are merged into one (each in the place of its
    first, so documents keep the order a single merge gives them), and again,
    until ``fan_in`` or fewer are left for the last merge (Lucene's tiered
    merging has the same shape). The runs of one round are independent:
    ``workers`` processes merge them side by side (``_merge_run``), and each
    batch of ``workers`` runs is put in place by one new table of contents.
    """
    started = time.perf_counter()
    report = MergeReport()
    originals: set[str] = set()
    merged: set[str] = set()
    while True:
        segments = segments_of(gen_dir)
        if not report.segments_before:
            report.segments_before = len(segments)
            originals = {s.name for s in segments}
        if len(segments) <= fan_in:
            batches = [None]  # the last merge: all of them
        else:
            names = [s.name for s in segments]
            runs = [names[i : i + fan_in] for i in range(0, len(names), fan_in) if len(names[i : i + fan_in]) > 1]
            step = max(1, workers)
            batches = [runs[i : i + step] for i in range(0, len(runs), step)]
        for batch in batches:
            done = (
                merge_segments(gen_dir, keep_old=keep_old) if batch is None else _merge_batch(gen_dir, batch, keep_old)
            )
            merged.update(done.names)
            report.dropped += done.dropped
            report.docs = done.docs or report.docs
            report.segments_after = done.segments_after
        if batches == [None]:
            break
    report.merged = len(originals & merged)
    report.names = sorted(originals & merged)
    report.seconds = time.perf_counter() - started
    return report


def _merge_batch(gen_dir: str | Path, runs: list[list[str]], keep_old: bool) -> MergeReport:
    """Merge each run of segments into one, side by side in processes when there are several, and put them
    in place in one table of contents."""
    if len(runs) == 1:
        made = [_merge_run(str(gen_dir), runs[0])]
    else:
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(max_workers=len(runs), mp_context=context) as pool:
            made = list(pool.map(_merge_run, [str(gen_dir)] * len(runs), runs))  # a process that dies fails it
    return _replace(PreadStorage(str(gen_dir)), runs, made, keep_old)


def _merge_run(gen_dir: str, names: list[str]) -> Any:
    """One run's merged segment, its files written and not yet in any table of contents."""
    storage = PreadStorage(gen_dir)
    ix, toc = _toc(storage)
    return _merge(storage, toc.schema, _sources(toc, names), ix.indexname)


def _sources(toc: TOC, names: list[str] | None) -> list[Any]:
    """The segments of ``toc`` named (all: None), in its order; each must be the news codec's."""
    wanted = set(names) if names is not None else {s.segment_id() for s in toc.segments}
    sources = [s for s in toc.segments if s.segment_id() in wanted]
    for seg in sources:
        if not isinstance(seg.codec(), NewsCodec):
            raise ValueError(f"segment {seg.segment_id()} is not written by the news codec: rebuild the index")
    return sources


def _replace(storage: PreadStorage, runs: list[list[str]], made: list[Any], keep_old: bool) -> MergeReport:
    """Write a new table of contents in which each run of segments is its merged segment, in the place of the
    run's first (left out when it holds no document)."""
    ix, toc = _toc(storage)
    by_first = {run[0]: segment for run, segment in zip(runs, made, strict=True)}
    gone = {name for run in runs for name in run}
    final = []
    for seg in toc.segments:
        name = seg.segment_id()
        if name in by_first:
            if by_first[name].doc_count_all():
                final.append(by_first[name])
        elif name not in gone:
            final.append(seg)
    TOC(toc.schema, final, toc.generation + 1).write(storage, ix.indexname)
    if not keep_old:
        clean_files(storage, ix.indexname, toc.generation + 1, final)
    sources = [s for s in toc.segments if s.segment_id() in gone]
    return MergeReport(
        segments_before=len(toc.segments),
        segments_after=len(final),
        merged=len(sources),
        docs=sum(m.doc_count_all() for m in made),
        dropped=sum(s.deleted_count() for s in sources),
        names=[s.segment_id() for s in sources],
    )


def _renumbering(sources: list[Any]) -> list[np.ndarray]:
    """Each source's new document numbers (-1: deleted), live documents numbered in order."""
    out = []
    base = 0
    for seg in sources:
        live = np.ones(seg.doc_count_all(), dtype=bool)
        deleted = np.fromiter(seg.deleted_docs(), dtype=np.int64)
        live[deleted] = False
        numbers = np.cumsum(live, dtype=np.int64) - 1 + base
        numbers[~live] = -1
        base += int(live.sum())
        out.append(numbers)
    return out


def _merge(storage: PreadStorage, schema: Any, sources: list[Any], indexname: str) -> Any:
    numbers = _renumbering(sources)
    total = sum(int((n >= 0).sum()) for n in numbers)
    segment = news_codec().new_segment(storage, indexname)
    segment.set_doc_count(total)
    lengths: dict[str, float] = {}
    for seg in sources:
        for name, length in seg._fieldlengths.items():
            lengths[name] = lengths.get(name, 0) + length
    _merge_postings(storage, schema, sources, numbers, segment, lengths)
    _copy_columns(storage, schema, sources, numbers, segment, total)
    segment._fieldlengths = {name: int(round(length)) for name, length in lengths.items()}
    return segment


def _merge_postings(
    storage: PreadStorage,
    schema: Any,
    sources: list[Any],
    numbers: list[np.ndarray],
    segment: Any,
    lengths: dict[str, float],
) -> None:
    readers = [NewsTermsReader(storage, seg) for seg in sources]
    bases = [int(n[n >= 0][0]) if (n >= 0).any() else 0 for n in numbers]
    clean = [not seg.has_deletions() for seg in sources]
    writer = NewsFieldWriter(storage, segment)
    try:
        for fieldname in sorted({name for r in readers for name in r.indexed_field_names()}):
            fieldobj = schema[fieldname]
            writer.start_field(fieldname, fieldobj)
            dropped = _merge_field(writer, readers, fieldname, numbers, bases, clean, fieldobj)
            if dropped and fieldname in lengths:  # what the dropped documents added to the field's length
                lengths[fieldname] -= dropped
            writer.finish_field()
        writer.close()
    finally:
        for r in readers:
            r.close()


def _merge_field(
    writer: NewsFieldWriter,
    readers: list[NewsTermsReader],
    fieldname: str,
    numbers: list[np.ndarray],
    bases: list[int],
    clean: list[bool],
    fieldobj: Any,
) -> float:
    """Write a field's terms of every source in order; return the frequencies of the dropped documents.

    The sources' terms are walked in windows (``_Walk``): each round takes every source's terms up to
    the smallest last term of the windows that do not reach their source's end, decodes their blocks at
    once, renumbers, drops and encodes them at once (``blocks.decode_region``, ``blocks.encode_many``).
    Memory holds a window per source whatever the vocabulary.
    """
    positions = isinstance(fieldobj.format, PackedPositions)
    share = max(len(readers), 1)  # a round holds about WINDOW_POSTINGS postings whatever the sources
    walks = [_Walk(r, fieldname, max(WINDOW_TERMS // share, 1), max(WINDOW_POSTINGS // share, 1)) for r in readers]
    dropped = 0.0
    while any(w.texts for w in walks):
        open_ends = [w.texts[-1] for w in walks if w.texts and not w.last]
        bound = min(open_ends) if open_ends else None
        taken = [(s, w.take(bound)) for s, w in enumerate(walks)]
        dropped += _merge_round(writer, readers, [(s, t) for s, t in taken if t[0]], numbers, positions)
    return dropped


class _Walk:
    """A source's terms of a field, a window at a time (``terms`` terms or ``postings`` postings, at least
    one term)."""

    def __init__(self, reader: NewsTermsReader, fieldname: str, terms: int, postings: int) -> None:
        self.reader = reader
        self.terms, self.postings = terms, postings
        self.first, self.end = reader._fields.get(fieldname, (0, 0))  # the window's first term's number
        self.at = self.first  # the next term's number after the window
        self.texts: list[bytes] = []
        self._fill()

    @property
    def last(self) -> bool:
        """Whether the window holds the source's last terms."""
        return self.at >= self.end

    def _fill(self) -> None:
        if self.last:
            return
        r = self.reader
        self.first = self.at
        counts = np.cumsum(r._dfs[self.at : min(self.at + self.terms, self.end)], dtype=np.int64)
        self.at += max(1, int(np.searchsorted(counts, self.postings, side="right")))
        edges = r._text_offsets[self.first : self.at + 1].tolist()
        blob = r._blob
        self.texts = [blob[x:y] for x, y in zip(edges, edges[1:], strict=False)]

    def take(self, bound: bytes | None) -> tuple[list[bytes], int, int]:
        """The window's terms up to ``bound`` (all: None) and their range of term numbers."""
        k = len(self.texts) if bound is None else bisect_right(self.texts, bound)
        texts, self.texts = self.texts[:k], self.texts[k:]
        lo = self.first
        self.first += k
        if not self.texts:
            self._fill()
        return texts, lo, lo + k


def _merge_round(
    writer: NewsFieldWriter,
    readers: list[NewsTermsReader],
    taken: list[tuple[int, tuple[list[bytes], int, int]]],
    numbers: list[np.ndarray],
    positions: bool,
) -> float:
    """Merge one window's terms of every source (see ``_merge_field``); return the dropped frequencies."""
    merged = sorted(set().union(*(texts for _, (texts, _, _) in taken)))
    place = {text: k for k, text in enumerate(merged)}
    terms, docnums, weights, counts, poses = [], [], [], [], []
    for s, (texts, lo, hi) in taken:
        r = readers[s]
        start, stop = int(r._offsets[lo]), int(r._offsets[hi])
        raw = os.pread(r._fd, stop - start, start)  # not the reader's map: a merge touches every page
        dfs = r._dfs[lo:hi].astype(np.int64)
        d, w, c, p = blocks.decode_region(raw, r._offsets[lo + 1 : hi + 1].astype(np.int64) - start, dfs, positions)
        terms.append(np.repeat(np.fromiter(map(place.__getitem__, texts), dtype=np.int64, count=len(texts)), dfs))
        docnums.append(numbers[s][d])
        weights.append(w)
        if positions:
            counts.append(c)
            poses.append(p)
    term_of = np.concatenate(terms)
    new = np.concatenate(docnums)
    w = np.concatenate(weights)
    keep = new >= 0
    # sources in order, each's documents ascending and numbered above the ones before: a stable sort by term
    order = np.argsort(term_of, kind="stable")
    order = order[keep[order]]
    dfs = np.bincount(term_of[order], minlength=len(merged))
    held = dfs > 0
    texts = [text for text, h in zip(merged, held.tolist(), strict=True) if h]
    if not positions:
        blob, ends = blocks.encode_many(dfs[held], new[order], w[order])
        writer.add_blocks(texts, blob, ends, dfs[held])
        return float(w[~keep].sum())
    c = np.concatenate(counts)
    p = np.concatenate(poses)
    blob, ends = blocks.encode_many(dfs[held], new[order], w[order], c[order], p[blocks.position_runs(c, order)])
    writer.add_blocks(texts, blob, ends, dfs[held])
    return float(c[~keep].sum())


def _column_names(storage: PreadStorage, seg: Any) -> set[str]:
    prefix, suffix = seg.segment_id() + ".", W3Codec.COLUMN_EXT
    if storage.file_exists(seg.make_filename(W3Codec.VPOSTS_EXT)):
        raise ValueError(f"segment {seg.segment_id()} has term vectors, which the news codec does not merge")
    return {f[len(prefix) : -len(suffix)] for f in storage.list() if f.startswith(prefix) and f.endswith(suffix)}


def _column(schema: Any, name: str) -> Any:
    """How to copy a column's values: stored fields as their compressed bytes, the rest as their type."""
    if name == STORED:
        return VarBytesColumn()
    if name.startswith("_") and name.endswith("_len"):
        return LENGTHS_COLUMN
    column = schema[name].column_type if name in schema else None
    if column is None:
        raise ValueError(f"column {name!r} is not in the schema: rebuild the index")
    return column


def _copy_columns(
    storage: PreadStorage, schema: Any, sources: list[Any], numbers: list[np.ndarray], segment: Any, total: int
) -> None:
    names = sorted(set().union(*(_column_names(storage, seg) for seg in sources)))
    perdocs = [W3PerDocReader(storage, seg) for seg in sources]
    try:
        for name in names:
            column = _column(schema, name)
            handle = storage.create_file(W3Codec.column_filename(segment, name))
            try:
                out = column.writer(handle)
                for perdoc, renumbered in zip(perdocs, numbers, strict=True):
                    if not perdoc.has_column(name):
                        continue
                    values = perdoc.column_reader(name, column)
                    add = out.add
                    for old, new in zip(
                        np.flatnonzero(renumbered >= 0).tolist(), renumbered[renumbered >= 0].tolist(), strict=True
                    ):
                        add(new, values[old])
                out.finish(total)
            finally:
                handle.close()
    finally:
        for perdoc in perdocs:
            perdoc.close()
