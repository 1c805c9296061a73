"""Segment writers: Whoosh's ``SegmentWriter`` with the news codec, and the steps of a build.

A full build runs one segment writer per worker process and commits their
finished segments together; these functions are the steps it takes
(``finish_segment``, ``drop_segment``, ``commit``), so the indexer never
reaches into Whoosh's writer.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import numpy as np
from whoosh.writing import SegmentWriter

from .codec import GatheredPostings, NewsCodec, PooledPostings
from .formats import PackedPositions

FLUSH_AT = 0.85  # of the pool's estimate: end the segment there (the pool never spills to disk)
# Stored texts kept as a patch on the column of their normalized form (search.documents.Documents writes both)
DERIVED = {"body": "body_text"}


def codec() -> NewsCodec:
    """The index's codec.

    Segments are written as separate files, never Whoosh's compound files:
    a reader loads a whole compound file into memory, while separate files
    are read through the page cache.
    """
    return NewsCodec(derived=DERIVED)


class TermPool:
    """A new segment's postings in compact arrays: Whoosh's posting pool's place.

    Whoosh's ``PostingPool`` keeps a tuple per posting (~170 bytes), sorts
    them all at the flush and spills sorted runs through pickle past its
    memory; most of a build's time went there. Here Whoosh's writer appends
    its posting tuples to a list (``add`` is the list's own ``append``), and
    every ``FOLD_AT`` postings they are folded into arrays with a handful of
    calls that loop in C: per posting a field number, a term number (one
    dictionary numbers every term of every field), the document number, the
    weight and, in a positions field, the positions. The flush sorts each
    field's terms, not its postings (documents arrive in order), and encodes
    the field's blocks at once (``blocks.encode_many``).

    ``currentsize`` estimates the bytes held, the flush's own arrays
    included; the segment writer ends the segment before it passes ``limit``
    (``NewsSegmentWriter.should_flush``), so memory stays within the writer's
    ``limitmb`` whatever the corpus.
    """

    FOLD_AT = 1 << 16  # postings gathered as tuples before they are folded into the arrays (~10 MB)
    POSTING_BYTES = 48  # 21 held, and what the flush's sorting and encoding arrays take per posting
    POSITION_BYTES = 24  # 4 held, and the flush's arrays per position
    TERM_BYTES = 160  # a dictionary entry and its bytes object, besides the term's text

    def __init__(self, schema: Any, limitmb: int) -> None:
        self.positional = frozenset(
            name for name, fieldobj in schema.items() if isinstance(fieldobj.format, PackedPositions)
        )
        self.limit = limitmb * 1024 * 1024
        self.gathered = GatheredPostings()
        self.pending: list[tuple] = []
        self.add = self.pending.append  # Whoosh's writer calls add((field, term, docnum, weight, value))
        self.currentsize = 0

    def fold(self) -> None:
        """Move the pending posting tuples into the arrays."""
        pending = self.pending
        if not pending:
            return
        g = self.gathered
        fieldnames, btexts, docnums, weights, values = (list(map(itemgetter(k), pending)) for k in range(5))
        numbers, field_numbers = g.numbers, g.field_numbers
        for name in dict.fromkeys(fieldnames).keys() - field_numbers.keys():
            field_numbers[name] = len(field_numbers)
            g.field_names.append(name)
            g.positional.append(name in self.positional)
        new = [t for t in dict.fromkeys(btexts) if t not in numbers]
        numbers.update(zip(new, range(len(numbers), len(numbers) + len(new)), strict=True))
        fields = np.fromiter(map(field_numbers.__getitem__, fieldnames), dtype=np.uint8, count=len(pending))
        counts = np.zeros(len(pending), dtype=np.uint32)
        chosen = np.flatnonzero(np.asarray(g.positional, dtype=bool)[fields])
        kept = [values[i] for i in chosen.tolist()]
        counts[chosen] = np.fromiter(map(len, kept), dtype=np.uint32, count=len(kept)) >> 2
        positions = np.frombuffer(b"".join(kept), dtype=np.uint32)
        g.add(
            fields,
            np.fromiter(map(numbers.__getitem__, btexts), dtype=np.uint32, count=len(pending)),
            np.array(docnums, dtype=np.uint32),
            np.array(weights, dtype=np.float64),
            counts,
            positions,
        )
        self.currentsize += (
            self.POSTING_BYTES * len(pending)
            + self.POSITION_BYTES * len(positions)
            + sum(self.TERM_BYTES + len(t) for t in new)
        )
        pending.clear()

    def size(self) -> int:
        """The bytes held (an estimate, the flush's arrays included), pending postings folded first."""
        self.fold()
        return self.currentsize

    def iter_postings(self) -> PooledPostings:
        self.fold()
        return PooledPostings(self.gathered, self.positional)

    def cleanup(self) -> None:
        self.pending.clear()
        self.gathered = GatheredPostings()
        self.currentsize = 0


class NewsSegmentWriter(SegmentWriter):
    """Whoosh's segment writer with the news codec and its pool of postings by term (``TermPool``)."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", codec())
        kwargs.setdefault("compound", False)
        super().__init__(ix, **kwargs)
        self.pool = TermPool(self.schema, kwargs.get("limitmb", 128))
        self._last_share = 0.0

    def add_document(self, **fields: Any) -> None:
        super().add_document(**fields)
        pool = self.pool
        if isinstance(pool, TermPool) and len(pool.pending) >= pool.FOLD_AT:
            pool.fold()

    def local_docnum(self) -> int:
        """The segment's number for the next document added."""
        return self.docnum - self.docbase

    def pool_share(self) -> float:
        """How full the posting pool is (1.0: its estimate reached the writer's memory)."""
        return self.pool.size() / self.pool.limit

    def should_flush(self, at: float = FLUSH_AT) -> bool:
        """Whether to end the segment now, between batches: the pool is ``at`` full, or
        another batch as large as the last would make it spill sorted runs to disk."""
        share = self.pool_share()
        grew, self._last_share = share - self._last_share, share
        return share >= at or share + grew >= 1.0


def new_writer(ix: Any, limitmb: int, lock: bool = True) -> NewsSegmentWriter:
    """A segment writer on ``ix`` (``lock=False`` in a worker: its parent holds the index's lock)."""
    return NewsSegmentWriter(ix, _lk=lock, limitmb=limitmb)


def finish_segment(writer: NewsSegmentWriter) -> Any:
    """Write the segment's files and return the segment (not yet in the index)."""
    return writer._finalize_segment()


def drop_segment(writer: NewsSegmentWriter) -> None:
    """Close a writer that added nothing."""
    writer._close_segment()


def commit(
    writer: NewsSegmentWriter, added: list[tuple[int, int]], others: list[tuple[Any, Any]]
) -> list[tuple[Any, Any]]:
    """Commit ``writer``'s own segment (when it added documents) with the finished ``others``.

    ``added`` pairs go with the writer's segment, ``others`` are (segment,
    pairs); returns every segment of the index with its pairs, in the order
    readers number documents (the index's existing segments first, with no pairs).
    """
    parts: list[tuple[Any, Any]] = [(segment, []) for segment in writer._merge_segments(None, False, False)]
    if writer._added:
        parts.append((writer._finalize_segment(), added))
    else:
        writer._close_segment()
    parts.extend(others)
    writer._commit_toc([segment for segment, _ in parts])
    writer._finish()
    return parts
