"""Indexing: articles → documents → a generation, full or incremental.

``document(article, schema)`` is the one place that decides what an article
contributes to each field (the derived lead for articles without 核心提示,
the meta field of source/authors/channel/tags, the near-duplicate signature,
the normalized title and body that ranking's query-as-written boost reads).
``reindex`` streams articles from the readers, analyses them in worker
processes when there are many, and writes them with one Whoosh writer:

* full: into a fresh ``tmp-`` generation, merged into one segment and
  published atomically when complete;
* incremental: in place, replacing articles with the same id; then the
  merge policy (``MergePolicy``) merges small segments and segments with
  many deleted articles (``search.storage.merging``).

A bad record is reported and skipped; everything else is indexed. Duplicate
ids within one run: the last one wins, and each superseded copy is reported.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

from .analysis import Analyzer
from .articles import Article, ArticleError, author_names
from .dedup import signature
from .index import IndexStore
from .ranking import key_text
from .readers import DEFAULT_LIMITS, Limits, read_articles
from .schema import Postings, bind_schema, build_schema
from .settings import SETTINGS
from .storage import (
    MergeReport,
    NewsSegmentWriter,
    PreadStorage,
    codec,
    commit,
    drop_segment,
    finish_segment,
    merge_all,
    merge_segments,
    new_writer,
    plan_merge,
    segments_of,
)

ProgressHook = Callable[[int], None]

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
DERIVED_LEAD_CHARS = 120


def derive_lead(article: Article) -> str:
    """Return the 核心提示, or the opening sentences of the body (inverted pyramid)."""
    if article.lead:
        return article.lead
    first = article.body.split("\n", 1)[0] if article.body else ""
    lead = ""
    for sentence in _SENTENCE_END.split(first):
        if lead and len(lead) + len(sentence) > DERIVED_LEAD_CHARS:
            break
        lead += sentence
    return lead[: DERIVED_LEAD_CHARS * 2]


@dataclass(frozen=True)
class MergePolicy:
    """When an incremental update merges segments (``storage.plan_merge``): more than
    ``max_segments``, or a segment with more than ``max_deleted`` deleted. ``max_segments`` 0:
    never by count, and a full build keeps the segments its writers wrote."""

    max_segments: int = 8
    max_deleted: float = 0.2

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MergePolicy:
        """The policy the settings give (``load_settings``; missing ones: the table's defaults)."""
        values = {s.name: s.default for s in SETTINGS} | dict(settings)
        return cls(max_segments=int(values["MERGE_SEGMENTS"]), max_deleted=float(values["MERGE_DELETED"]))


DEFAULT_MERGE = MergePolicy.from_settings({})


def _merge_by_policy(gen_dir: Path, policy: MergePolicy) -> MergeReport:
    """Merge what ``policy`` asks for in a served generation (the caller holds the write lock)."""
    names = plan_merge(segments_of(gen_dir), policy.max_segments, policy.max_deleted)
    return merge_segments(gen_dir, names) if names else MergeReport()


def optimize(store: IndexStore) -> MergeReport:
    """Merge every segment of the current generation into one, dropping deleted articles."""
    with store.write_lock():
        gen_dir = store.generation_dir()
        store.check_compatible(store.meta(gen_dir.name))
        return merge_all(gen_dir)


@dataclass
class ReindexReport:
    """What a reindex did; ``failed`` records were reported and skipped."""

    mode: str
    indexed: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    deleted: int = 0
    merged: int = 0
    seconds: float = 0.0
    generation: str = ""
    doc_count: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "indexed": self.indexed,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": self.failed,
            "deleted": self.deleted,
            "merged": self.merged,
            "seconds": round(self.seconds, 3),
            "articles_per_second": round((self.indexed + self.updated) / self.seconds, 1) if self.seconds else None,
            "generation": self.generation,
            "doc_count": self.doc_count,
            "errors": self.errors,
            "warnings": self.warnings,
        }


class Documents:
    """Articles → keyword arguments for ``writer.add_document`` (picklable for workers)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.schema = build_schema()
        bind_schema(self.schema, analyzer)

    def __call__(self, article: Article) -> dict[str, Any]:
        a = self.analyzer
        schema = self.schema
        lead = derive_lead(article)
        names = author_names(article.authors)
        meta_text = " ".join([article.source, article.channel, *names, *article.tags])

        norm_title = a.normalizer(article.title)
        norm_lead = a.normalizer(lead)
        norm_body = a.normalizer(article.body)
        # Bigrams of the 核心提示 count with the body's; a derived lead is the body's own opening.
        lead_body = f"{article.lead}\n{article.body}" if article.lead else article.body
        norm_lead_body = a.normalizer(lead_body) if article.lead else norm_body
        published = article.published.astimezone(timezone.utc).replace(tzinfo=None) if article.published else None
        doc: dict[str, Any] = {
            "id": article.id,
            "url": article.url,
            "title": schema["title"].counted(a.word_counts(article.title, norm=norm_title)),
            "lead": schema["lead"].counted(a.word_counts(lead, norm=norm_lead)),
            "body": schema["body"].counted(a.word_counts(article.body, norm=norm_body)),
            "meta": schema["meta"].counted(a.word_counts(meta_text)) if meta_text else Postings(),
            "title_bg": schema["title_bg"].positioned(a.bigram_positions(article.title, norm=norm_title)),
            "body_bg": schema["body_bg"].positioned(a.bigram_positions(lead_body, norm=norm_lead_body)),
            "_stored_title": article.title,
            "_stored_lead": article.lead,
            "_stored_body": article.body,
            "source": article.source,
            "channel": article.channel,
            "views": article.views,
            "pages": [[p.title, len(p.text)] for p in article.pages] if len(article.pages) > 1 else None,
            "extra": {"derived_lead": lead} if not article.lead and lead else None,
            "signature": signature(norm_title[0] + "\n" + norm_body[0]),
            "title_text": key_text(norm_title[0]).encode("utf-8"),
            "body_text": norm_body[0].encode("utf-8"),
        }
        if names:
            doc["authors"] = ",".join(n.lower() for n in names)
        if article.tags:
            doc["tags"] = ",".join(t.replace(",", " ") for t in article.tags)
        if published is not None:
            doc["published"] = published
            doc["year"] = article.published.year  # type: ignore[union-attr]
        doc["_stored_authors"] = article.authors
        doc["_stored_tags"] = article.tags
        # Stored originals stay even when empty: without them Whoosh would store the postings.
        return {k: v for k, v in doc.items() if v is not None and (v != "" or k.startswith("_stored_"))}


# --- segment writers --------------------------------------------------------
#
# Whoosh's writer spends its time per posting and per term, in Python, so the
# writer is the bottleneck, not jieba. A full rebuild therefore runs one
# Whoosh ``SegmentWriter`` per worker process, each analysing and writing its
# share of the articles into a segment of its own (the scheme of Whoosh's
# ``MpWriter(multisegment=True)``, with our analysis inside the worker and
# per-article error isolation). The parent reads the files, deals out
# batches, and commits the finished segments together in one table of
# contents: nothing is visible until every segment is complete.

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


def _plan(
    articles: Iterator[Article], report: ReindexReport, existing: Callable[[str], bool]
) -> Iterator[tuple[int, Article]]:
    """Number the articles and count them as new or updated (duplicates counted once)."""
    seen: set[str] = set()
    for seq, article in enumerate(articles):
        if article.id in seen:
            pass
        elif existing(article.id):
            report.updated += 1
        else:
            report.indexed += 1
        seen.add(article.id)
        yield seq, article


def _write_segments(
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


def _global_docnums(parts: list[tuple[Any, list[tuple[int, int]]]]) -> dict[int, int]:
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


# --- the reindex pipeline --------------------------------------------------


def reindex(
    store: IndexStore,
    paths: Iterable[str | Path],
    full: bool = False,
    workers: int = 0,
    writer_mb: int = 256,
    progress: ProgressHook | None = None,
    crash_hook: Callable[[str], None] | None = None,
    articles: Iterable[Article] | None = None,
    before_publish: Callable[[Path], None] | None = None,
    limits: Limits | None = None,
    merge: MergePolicy | None = None,
) -> ReindexReport:
    """Index every article under ``paths``; see the module docstring for the modes.

    ``crash_hook`` is called at named points ("written", "committed") so tests
    can simulate a crash mid-build. ``articles``, when given, are indexed
    instead of reading ``paths`` (which then only name the source in the
    generation's metadata: a CMS database, ``search.cms``), and
    ``before_publish(gen_dir)`` runs after the index commit, before a full
    build is published (the CMS sync writes its state there).
    ``limits`` bound the input read (``search.readers.Limits``; default: the
    settings table's). A full build ends merged into one segment (unless
    ``merge.max_segments`` is 0: never merge); an incremental one merges what
    ``merge`` asks for (default: the settings table's policy).
    """
    paths = [str(p) for p in paths]
    report = ReindexReport(mode="full" if full or not store.exists() else "incremental")
    started = time.perf_counter()
    workers = workers or (os.cpu_count() or 1)

    def on_error(error: ArticleError) -> None:
        if error.warning:
            report.warnings.append(str(error))
            return
        report.failed += 1
        report.errors.append(str(error))

    from_files = articles is None
    articles = read_articles(paths, on_error, limits or DEFAULT_LIMITS) if articles is None else iter(articles)
    with store.write_lock():
        if report.mode == "full":
            store.cleanup()
            gen_dir = store.new_generation()
        else:
            store.cleanup()  # leftovers of a crashed full rebuild
            gen_dir = store.generation_dir()
            store.check_compatible(store.meta())
        try:
            ix = store.open(gen_dir.name, check=False)
            main = new_writer(ix, writer_mb)
        except BaseException:
            if report.mode == "full":
                shutil.rmtree(gen_dir, ignore_errors=True)
            raise
        reader = main.reader() if report.mode == "incremental" else None
        # live documents only: a deleted one keeps its term until a merge (an article back from deletion is new)
        existing: Callable[[str], bool] = (
            (lambda _id: reader.doc_frequency("id", _id) > 0 and reader.postings("id", _id).is_active())
            if reader is not None
            else (lambda _id: False)
        )
        last_seq: dict[str, tuple[int, str]] = {}
        seq_counter = iter(range(1 << 62))

        def on_article(article: Article) -> None:
            # Replace what the index holds under this id; remember in-run duplicates.
            seq = next(seq_counter)
            if article.id in last_seq:
                report.skipped += 1
                report.warnings.append(
                    f"duplicate id {article.id!r}: {article.origin} replaces {last_seq[article.id][1]}"
                )
            elif reader is not None:
                main.delete_by_term("id", article.id)
            last_seq[article.id] = (seq, article.origin)

        try:
            worker_parts, main_added, failed = _write_segments(
                ix,
                main,
                _plan(articles, report, existing),
                Documents(store.analyzer),
                workers if report.mode == "full" else 1,
                writer_mb,
                progress,
                on_article,
            )
            for _seq, message in failed:
                report.failed += 1
                report.errors.append(message)
            if crash_hook:
                crash_hook("written")
            parts = commit(main, main_added, worker_parts)
        except BaseException:
            main.cancel()
            if report.mode == "full":
                shutil.rmtree(gen_dir, ignore_errors=True)
            raise
        finally:
            if reader is not None:
                reader.close()
        keep = {seq for seq, _ in last_seq.values()}
        docnums = _global_docnums(parts)
        superseded = [docnum for seq, docnum in docnums.items() if seq not in keep]
        if superseded:
            fixer = ix.writer(codec=codec(), compound=False)
            for docnum in superseded:
                fixer.delete_document(docnum)
            fixer.commit(merge=False)
        if crash_hook:
            crash_hook("committed")
        policy = merge or DEFAULT_MERGE
        if report.mode == "full" and policy.max_segments:  # nobody reads it yet: the old files go at once
            report.merged = merge_all(gen_dir, keep_old=False).merged
        elif report.mode == "incremental":
            report.merged = _merge_by_policy(gen_dir, policy).merged
        if crash_hook:
            crash_hook("merged")
        with ix.reader() as r:
            report.doc_count = r.doc_count()
        previous = store.meta(gen_dir.name) if report.mode == "incremental" else {}
        sources = sorted(
            set(previous.get("sources", [])) | {str(Path(p).resolve()) if from_files else p for p in paths}
        )
        store.write_meta(
            gen_dir,
            doc_count=report.doc_count,
            built_at=previous.get("built_at") or _iso_now(),
            updated_at=_iso_now(),
            sources=sources,
        )
        if before_publish:
            before_publish(gen_dir)
        report.generation = store.publish(gen_dir) if report.mode == "full" else gen_dir.name
        if report.mode == "full":
            store.cleanup()
    report.seconds = time.perf_counter() - started
    return report


def delete(store: IndexStore, ids: Iterable[str], merge: MergePolicy | None = None) -> int:
    """Delete articles by id from the current generation; return how many went.

    Then merges what ``merge`` asks for (default: the settings table's policy).
    """
    with store.write_lock():
        ix = store.open()
        writer = ix.writer(codec=codec(), compound=False)
        count = 0
        try:
            for article_id in ids:
                count += writer.delete_by_term("id", article_id)
            writer.commit(merge=False)
        except BaseException:
            writer.cancel()
            raise
        gen_dir = store.generation_dir()
        if count:
            _merge_by_policy(gen_dir, merge or DEFAULT_MERGE)
        with ix.reader() as r:
            store.write_meta(gen_dir, doc_count=r.doc_count(), updated_at=_iso_now())
    return count


def _iso_now() -> str:
    from datetime import datetime

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
