"""Indexing: articles → documents → a generation, full or incremental.

``reindex`` streams articles from the readers, has them analysed
(``search.documents``) and written into segments (``search.writers``, a
writer process per core for a full build), and commits them:

* full: into a fresh ``tmp-`` generation, merged into one segment and
  published atomically when complete;
* incremental: in place, replacing articles with the same id; then the
  merge policy (``MergePolicy``) merges small segments and segments with
  many deleted articles (``search.storage.merging``).

A bad record is reported and skipped; everything else is indexed. Duplicate
ids within one run: the last one wins, and each superseded copy is reported.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

from .articles import Article, ArticleError
from .documents import Documents
from .index import IndexStore
from .readers import DEFAULT_LIMITS, Limits, read_articles
from .settings import SETTINGS
from .storage import (
    MergeReport,
    codec,
    commit,
    merge_all,
    merge_segments,
    new_writer,
    plan_merge,
    segments_of,
)
from .writers import ProgressHook, global_docnums, write_segments


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
            worker_parts, main_added, failed = write_segments(
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
        docnums = global_docnums(parts)
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
            report.merged = merge_all(gen_dir, keep_old=False, workers=workers).merged
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
