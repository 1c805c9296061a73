"""Segment writers: Whoosh's ``SegmentWriter`` with the news codec, and the steps of a build.

A full build runs one segment writer per worker process and commits their
finished segments together; these functions are the steps it takes
(``finish_segment``, ``drop_segment``, ``commit``), so the indexer never
reaches into Whoosh's writer.
"""

from __future__ import annotations

from typing import Any

from whoosh.writing import PostingPool, SegmentWriter

from .codec import NewsCodec

FLUSH_AT = 0.85  # of the writer's memory: end the segment there rather than spill sorted runs to disk
# Stored texts kept as a patch on the column of their normalized form (search.indexing.Documents writes both)
DERIVED = {"body": "body_text"}


def codec() -> NewsCodec:
    """The index's codec.

    Segments are written as separate files, never Whoosh's compound files:
    a reader loads a whole compound file into memory, while separate files
    are read through the page cache.
    """
    return NewsCodec(derived=DERIVED)


class _PostingPool(PostingPool):
    """Whoosh's posting pool without per-posting type checks (our postings are built typed)."""

    def add(self, item: tuple) -> None:
        # the same size estimate as PostingPool.add, folded into constants
        self.currentsize += 150 + len(item[0]) + 2 * len(item[1]) + len(item[4] or b"")
        if self.currentsize > self.limit:
            self.save()
        self.current.append(item)


class NewsSegmentWriter(SegmentWriter):
    """Whoosh's segment writer with the news codec and a leaner posting pool."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", codec())
        kwargs.setdefault("compound", False)
        super().__init__(ix, **kwargs)
        self.pool = _PostingPool(self._tempstorage, self.newsegment, limitmb=kwargs.get("limitmb", 128))
        self._last_share = 0.0

    def local_docnum(self) -> int:
        """The segment's number for the next document added."""
        return self.docnum - self.docbase

    def pool_share(self) -> float:
        """How full the posting pool is (1.0: it would spill sorted runs to disk)."""
        return self.pool.currentsize / self.pool.limit

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
