"""Segment writers: articles analysed and written into finished segments, in worker processes.

A full rebuild deals batches of articles to one writer process per core;
each analyses its share (``search.documents``) and writes segments of its
own, a new one whenever its postings fill ``WRITER_MB``; the parent commits
them together. A single-process or incremental build runs the same loop in
its own process. A worker that dies fails the build within ``WATCH_EVERY``
seconds, and a worker whose parent died exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .articles import Article
from .documents import Documents
from .schema import bind_schema
from .storage import NewsSegmentWriter, PreadStorage, drop_segment, finish_segment, new_writer

ProgressHook = Callable[[int], None]

BATCH = 64
WATCH_EVERY = 0.2  # seconds between checks that every writer process lives, while the parent waits on them


class WriterProcessError(RuntimeError):
    """An index writer process failed or died (killed, out of memory, a crash in native code)."""


def _fill_segment(
    writer: NewsSegmentWriter, documents: Documents, batches: Iterable[list[tuple[int, Article]]]
) -> tuple[list[tuple[int, int]], list[tuple[int, str]]]:
    """Add articles to ``writer``; return (seq, local docnum) pairs and (seq, error) pairs."""
    added: list[tuple[int, int]] = []
    failed: list[tuple[int, str]] = []
    for batch in batches:
        for seq, article in batch:
            try:
                doc = documents(article)
            except Exception as exc:  # one broken article never stops a reindex
                failed.append(
                    (
                        seq,
                        f"{article.origin or article.id}: cannot analyse article {article.id!r}: {type(exc).__name__}: {exc}",
                    )
                )
                continue
            added.append((seq, writer.local_docnum()))
            writer.add_document(**doc)
    return added, failed


def _fill_segments(
    ix: Any, documents: Documents, writer_mb: int, batches: Iterable[list[tuple[int, Article]]]
) -> tuple[list[tuple[Any, list[tuple[int, int]]]], list[tuple[int, str]]]:
    """Write batches into finished segments, a new one whenever the postings fill the writer's memory;
    return each segment with its (seq, local docnum) pairs, and the failures."""
    parts: list[tuple[Any, list[tuple[int, int]]]] = []
    failed: list[tuple[int, str]] = []
    writer, added = new_writer(ix, writer_mb, lock=False), []
    try:
        for batch in batches:
            batch_added, batch_failed = _fill_segment(writer, documents, [batch])
            added += batch_added
            failed += batch_failed
            if writer.should_flush():
                parts.append((finish_segment(writer), added))
                writer, added = new_writer(ix, writer_mb, lock=False), []
        if added:
            parts.append((finish_segment(writer), added))
        else:
            drop_segment(writer)
    except BaseException:
        with contextlib.suppress(Exception):
            writer.cancel()
        raise
    return parts, failed


def _segment_worker(gen_dir: str, documents: Documents, writer_mb: int, jobs: Any, results: Any, parent: int) -> None:
    """Write batches into segments; a new segment whenever the postings fill the writer's memory.

    Whoosh's writer would spill sorted runs to disk and merge them back through
    pickle, a round trip per posting (at 100,000 articles most of the build);
    several in-memory segments are cheaper to write than one merged one.
    """
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    try:
        ix = PreadStorage(gen_dir).open_index()
        bind_schema(ix.schema, documents.analyzer)
        parts, failed = _fill_segments(ix, documents, writer_mb, iter(jobs.get, None))  # until the end marker
        results.put(("ok", parts, failed))
    except BaseException as exc:  # report, so the parent fails the build cleanly
        results.put(("error", f"{type(exc).__name__}: {exc}", []))


def _watch_parent(parent: int, every: float = 0.1) -> None:
    """Exit the worker within ``every`` seconds of its parent's death, whatever it is doing.

    A worker holds the write lock it inherited. Orphaned, it must not finish its
    batch or its segment's flush (seconds on a busy machine), nor wait to read
    jobs or to write its result into a pipe nobody reads any more.
    """
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def write_segments(
    ix: Any,
    main: NewsSegmentWriter,
    numbered: Iterator[tuple[int, Article]],
    documents: Documents,
    workers: int,
    writer_mb: int,
    progress: ProgressHook | None,
    on_article: Callable[[Article], None],
) -> tuple[list[tuple[Any, list[tuple[int, int]]]], list[tuple[int, int]], list[tuple[int, str]]]:
    """Write all articles.

    Returns the workers' segments each with its (seq, local docnum) pairs, the
    (seq, local docnum) pairs added to ``main`` itself, and the failures.
    """

    def counted() -> Iterator[list[tuple[int, Article]]]:
        done = 0
        batch: list[tuple[int, Article]] = []
        for item in numbered:
            on_article(item[1])
            batch.append(item)
            done += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
                if progress:
                    progress(done)
        if batch:
            yield batch
        if progress:
            progress(done)

    if workers <= 1:  # in this process, into segments of its own: the main writer holds only the deletions
        parts, failed = _fill_segments(ix, documents, writer_mb, counted())
        return parts, [], failed

    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    jobs = ctx.Queue(workers * 4)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_segment_worker,
            args=(ix.storage.folder, documents, writer_mb, jobs, results, os.getpid()),
            daemon=True,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    finished = False
    try:
        for batch in counted():
            _put(jobs, batch, procs)
        for _ in procs:
            _put(jobs, None, procs)
        outcomes = _results(results, procs)
        finished = True
    finally:
        if not finished:  # nobody will read what is still queued: neither wait for it nor for the writers
            jobs.cancel_join_thread()
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    problems = [o[1] for o in outcomes if o[0] == "error"]
    if problems:
        raise WriterProcessError("an index writer process failed: " + "; ".join(problems))
    segments, failed = [], []
    for _, parts, seg_failed in outcomes:
        failed.extend(seg_failed)
        segments.extend(parts)
    return segments, [], failed


def _check_alive(procs: list[Any]) -> None:
    """Raise ``WriterProcessError`` when a writer process has ended abnormally."""
    for number, proc in enumerate(procs, start=1):
        code = proc.exitcode
        if code:
            if code < 0:
                try:
                    how = f"was killed by {signal.Signals(-code).name}"
                except ValueError:
                    how = f"was killed by signal {-code}"
            else:
                how = f"exited with status {code}"
            raise WriterProcessError(
                f"index writer process {number} of {len(procs)} (pid {proc.pid}) {how} before finishing its "
                "segment (out of memory? see the kernel log); nothing was published"
            )


def _put(jobs: Any, item: Any, procs: list[Any]) -> None:
    """Queue a job for the writers, failing within ``WATCH_EVERY`` seconds of one's death."""
    _check_alive(procs)
    while True:
        try:
            jobs.put(item, timeout=WATCH_EVERY)
            return
        except queue.Full:
            _check_alive(procs)


def _results(results: Any, procs: list[Any]) -> list[tuple]:
    """Every writer's outcome, failing within ``WATCH_EVERY`` seconds of one's death."""
    outcomes: list[tuple] = []
    while len(outcomes) < len(procs):
        try:
            outcomes.append(results.get(timeout=WATCH_EVERY))
        except queue.Empty:
            _check_alive(procs)
            if all(proc.exitcode is not None for proc in procs):
                try:  # a writer's result is in the pipe before the writer exits
                    outcomes.append(results.get(timeout=1.0))
                except queue.Empty:
                    raise WriterProcessError(
                        f"{len(procs) - len(outcomes)} index writer process(es) exited without a result; "
                        "nothing was published"
                    ) from None
    return outcomes


def global_docnums(parts: list[tuple[Any, list[tuple[int, int]]]]) -> dict[int, int]:
    """seq → docnum in the committed index, from its segments in table-of-contents order.

    A reader numbers documents segment after segment, each segment taking
    ``doc_count_all()`` numbers (deleted ones included).
    """
    docnums: dict[int, int] = {}
    base = 0
    for segment, added in parts:
        docnums.update((seq, base + local) for seq, local in added)
        base += segment.doc_count_all()
    return docnums
