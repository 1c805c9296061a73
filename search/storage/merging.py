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
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Iterator
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

CHUNK = 4096  # terms a source's walk slices at once
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
    wanted = set(names) if names is not None else {s.segment_id() for s in toc.segments}
    sources = [s for s in toc.segments if s.segment_id() in wanted]
    report = MergeReport(segments_before=len(toc.segments), segments_after=len(toc.segments))
    if not sources or (len(sources) == 1 and not sources[0].has_deletions()):
        report.seconds = time.perf_counter() - started
        return report
    for seg in sources:
        if not isinstance(seg.codec(), NewsCodec):
            raise ValueError(f"segment {seg.segment_id()} is not written by the news codec: rebuild the index")
    merged = _merge(storage, toc.schema, sources, ix.indexname)
    first = toc.segments.index(sources[0])
    kept = [s for s in toc.segments if s.segment_id() not in wanted]
    final = kept[:first] + ([merged] if merged.doc_count_all() else []) + kept[first:]
    TOC(toc.schema, final, toc.generation + 1).write(storage, ix.indexname)
    if not keep_old:
        clean_files(storage, ix.indexname, toc.generation + 1, final)
    report.segments_after = len(final)
    report.merged = len(sources)
    report.docs = merged.doc_count_all()
    report.dropped = sum(s.deleted_count() for s in sources)
    report.names = [s.segment_id() for s in sources]
    report.seconds = time.perf_counter() - started
    return report


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

    The terms are walked, not listed: memory holds one term per source whatever the vocabulary.
    """
    positions = isinstance(fieldobj.format, PackedPositions)
    firsts = [r._fields.get(fieldname, (0, 0))[0] for r in readers]
    at = list(firsts)  # each source's next term
    fds = [r._fd for r in readers]  # pread, not the readers' maps: a merge touches every page, counted in its RSS
    offsets = [r._offsets for r in readers]
    dfs = [r._dfs for r in readers]
    add_block, shift, pread = writer.add_block, blocks.shift, os.pread
    dropped = 0.0
    btext: bytes | None = None
    group: list[int] = []

    def flush() -> float:
        if len(group) == 1 and clean[group[0]]:  # most terms: one source, nothing dropped
            s = group[0]
            i = at[s]
            df = int(dfs[s][i])
            start = int(offsets[s][i])
            add_block(btext, shift(pread(fds[s], int(offsets[s][i + 1]) - start, start), df, bases[s]), df)
            return 0.0
        block, df, lost = blocks.renumber(
            [_block(fds[s], offsets[s], at[s]) for s in group],
            [int(dfs[s][at[s]]) for s in group],
            [numbers[s] for s in group],
            positions,
        )
        if block is not None:
            add_block(btext, block, df)
        return lost

    for text, s in heapq.merge(*(_terms_of(r, s, fieldname) for s, r in enumerate(readers))):
        if text != btext:
            if group:
                dropped += flush()
                for g in group:
                    at[g] += 1
            btext, group = text, []
        group.append(s)
    if group:
        dropped += flush()
    return dropped


def _block(fd: int, offsets: np.ndarray, i: int) -> bytes:
    start = int(offsets[i])
    return os.pread(fd, int(offsets[i + 1]) - start, start)


def _terms_of(reader: NewsTermsReader, s: int, fieldname: str) -> Iterator[tuple[bytes, int]]:
    """A source's terms of a field in order, each with the source's number."""
    lo, hi = reader._fields.get(fieldname, (0, 0))
    if hi <= lo:
        return
    blob, bounds = reader._blob, reader._text_offsets
    for start in range(lo, hi, CHUNK):
        edges = bounds[start : min(start + CHUNK, hi) + 1].tolist()
        for a, b in zip(edges, edges[1:], strict=False):
            yield blob[a:b], s


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
