"""The command line: reindex, delete, optimize, search, stats, related, eval, serve, bench, sync.

Every command takes the group-level ``--index`` (or ``NEWS_SEARCH_INDEX``)
and turns library errors into clear messages with a non-zero exit status.

Why one module of this size: click commands, one function each with its help
and example; the commands call the public API only (``search``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

import search
from search import SETTINGS_BY_NAME


class Context:
    def __init__(self, index: str) -> None:
        self.settings = search.load_settings(overrides={"INDEX": index})
        self._engine: search.SearchEngine | None = None

    @property
    def engine(self) -> search.SearchEngine:
        if self._engine is None:
            self._engine = search.open_engine(self.settings)
        return self._engine


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


LIBRARY_ERRORS = (
    search.NoIndexError,
    search.IndexMismatchError,
    search.IndexBusyError,
    search.QueryError,
    FileNotFoundError,
    search.WriterProcessError,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--index",
    envvar=SETTINGS_BY_NAME["INDEX"].envvar,
    default=SETTINGS_BY_NAME["INDEX"].default,
    show_default=True,
    help=SETTINGS_BY_NAME["INDEX"].help + f" [env: {SETTINGS_BY_NAME['INDEX'].envvar}]",
)
@click.pass_context
def cli(ctx: click.Context, index: str) -> None:
    """Site search for Chinese news: reindex articles, search them, serve them."""
    ctx.obj = Context(index)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--full", is_flag=True, help="Build a new generation and switch to it when complete.")
@click.option("--workers", type=int, default=None, help="Analysis/writer processes (default: one per core).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--publish-to",
    "publish_to",
    multiple=True,
    metavar="DEST",
    help="When the build succeeds, publish it to this replica (a path or host:/path; repeatable).",
)
@click.pass_obj
def reindex(
    obj: Context, paths: tuple[str, ...], full: bool, workers: int | None, as_json: bool, publish_to: tuple[str, ...]
) -> None:
    """Index articles from files or directories (JSONL, .txt pages, HTML).

    Example: python cli.py reindex sample/ --full --publish-to /srv/replica1/index
    """
    engine = obj.engine
    started = time.monotonic()
    show = sys.stderr.isatty() and not as_json

    def progress(done: int) -> None:
        if show:
            rate = done / max(time.monotonic() - started, 1e-6)
            click.echo(f"\r  {done:,} articles read ({rate:,.0f}/s)", nl=False, err=True)

    try:
        report = search.reindex(
            engine.store,
            paths,
            full=full,
            workers=workers if workers is not None else int(obj.settings["WORKERS"]),
            writer_mb=int(obj.settings["WRITER_MB"]),
            progress=progress,
            limits=search.Limits.from_settings(obj.settings),
            merge=search.MergePolicy.from_settings(obj.settings),
        )
    except LIBRARY_ERRORS as exc:
        raise _fail(exc) from None
    if show:
        click.echo(err=True)
    data = report.to_json()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        for line in report.errors[:50]:
            click.echo(f"error: {line}", err=True)
        if len(report.errors) > 50:
            click.echo(f"error: … and {len(report.errors) - 50} more", err=True)
        for line in report.warnings[:20]:
            click.echo(f"warning: {line}", err=True)
        click.echo(
            f"{report.mode} reindex: {report.indexed} indexed, {report.updated} updated, "
            f"{report.skipped} skipped, {report.failed} failed; {report.doc_count} articles in "
            f"{report.generation} ({report.seconds:.1f} s, {data['articles_per_second'] or 0:,.0f} articles/s)"
        )
    if not report.ok:
        sys.exit(1)
    if publish_to:
        _publish(obj, publish_to, 0, as_json)


def _publish(obj: Context, dests: tuple[str, ...], bwlimit: int, as_json: bool) -> None:
    """Publish the current generation to ``dests``, print one line (or JSON) per replica, exit 1 on a failure."""
    settings = obj.settings
    try:
        results = search.publish(
            obj.engine.store,
            dests,
            keep_seconds=float(settings["PUBLISH_KEEP_SECONDS"]),
            bwlimit_kbps=bwlimit,
            rsh=str(settings["PUBLISH_RSH"]),
        )
    except LIBRARY_ERRORS as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=1))
    for r in results:
        if r.error:
            click.echo(f"error: {r.dest}: {r.error}", err=True)
        elif not as_json:
            click.echo(
                f"published {r.generation} to {r.dest} (was {r.previous or 'empty'}): {r.files_copied} files, "
                f"{r.bytes_copied:,} bytes copied in {r.seconds:.1f} s"
                + (f"; removed {', '.join(r.removed)}" if r.removed else "")
            )
    if any(r.error for r in results):
        sys.exit(1)


@cli.command()
@click.option(
    "--to", "dests", multiple=True, required=True, metavar="DEST", help="Replica index directory (repeatable)."
)
@click.option("--bwlimit", type=click.IntRange(0), default=0, help="Limit rsync's bandwidth, KB/s (0 = none).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def publish(obj: Context, dests: tuple[str, ...], bwlimit: int, as_json: bool) -> None:
    """Copy the current generation to read replicas (paths or host:/path over ssh) and switch them.

    Every copy completes before any replica's CURRENT is replaced; files a
    replica already holds are hard-linked, not copied again.
    Example: python cli.py publish --to /srv/replica1/index --to web2:/srv/news-search/index
    """
    _publish(obj, dests, bwlimit, as_json)


@cli.command()
@click.argument("ids", nargs=-1, required=True)
@click.pass_obj
def delete(obj: Context, ids: tuple[str, ...]) -> None:
    """Delete articles by id.

    Example: python cli.py delete 1001 1002
    """
    try:
        count = search.delete(obj.engine.store, ids, merge=search.MergePolicy.from_settings(obj.settings))
    except LIBRARY_ERRORS as exc:
        raise _fail(exc) from None
    click.echo(f"deleted {count} of {len(ids)} articles")
    if count < len(ids):
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def optimize(obj: Context, as_json: bool) -> None:
    """Merge the index's segments into one, dropping deleted articles (queries get faster).

    Incremental updates add segments and merge them by the MERGE_SEGMENTS and
    MERGE_DELETED settings; this merges everything now.
    Example: python cli.py optimize
    """
    try:
        report = search.optimize(obj.engine.store)
    except LIBRARY_ERRORS as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=1))
    else:
        click.echo(
            f"merged {report.merged} of {report.segments_before} segments into one: {report.docs} articles, "
            f"{report.dropped} deleted dropped, {report.segments_after} segments left ({report.seconds:.1f} s)"
        )


@cli.command(name="search")
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits to show.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Result page.")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--explain", is_flag=True, help="Show the parts of each score.")
@click.pass_obj
def search_cmd(obj: Context, query: str, limit: int, page: int, sort: str, as_json: bool, explain: bool) -> None:
    """Search the index.

    Example: python cli.py search '疫情防控 after:2020-01-01' --json
    """
    try:
        res = obj.engine.search(query, page=page, size=limit, sort=sort, explain=explain)
    except LIBRARY_ERRORS as exc:
        raise _fail(exc) from None
    if as_json:
        data = res.to_json()
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    if res.inexact_notice:
        click.echo(res.inexact_notice)
    if res.rewritten:
        click.echo(f"showing results for {res.rewritten} ({res.rewrite_reason})")
    click.echo(f"{res.total} results ({res.took_ms:.1f} ms)")
    for i, hit in enumerate(res.hits, start=(page - 1) * limit + 1):
        click.echo(f"{i:>3}. {hit.title}  [{hit.id}] {hit.source} {(hit.published or '')[:10]}  score {hit.score:.3f}")
        click.echo(f"     {search.plain(hit.snippet)}")
        if hit.duplicates:
            click.echo("     also reported by: " + "、".join(d["source"] or d["id"] for d in hit.duplicates))
        if hit.explain:
            click.echo(f"     explain: {json.dumps(hit.explain, ensure_ascii=False)}")
    if res.suggestion:
        click.echo(f"did you mean: {res.suggestion}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--check", is_flag=True, help="Fail unless this version can read the index (schema and analyzer).")
@click.pass_obj
def stats(obj: Context, as_json: bool, check: bool) -> None:
    """Show the index: generation, document count, build time, analyzer.

    Example: python cli.py stats --json
    """
    store = obj.engine.store
    try:
        meta: dict[str, Any] = dict(store.meta())
        if check:
            store.check_compatible(meta)
        meta["generation"] = store.current()
        meta["path"] = str(Path(store.root).resolve())
        meta["analyzer_in_use"] = store.analyzer.fingerprint
        meta["size_bytes"] = sum(p.stat().st_size for p in store.generation_dir().iterdir() if p.is_file())
    except LIBRARY_ERRORS as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(meta, ensure_ascii=False, indent=1))
    else:
        for key, value in meta.items():
            click.echo(f"{key:16} {value}")


@cli.command()
@click.argument("article_id")
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True, help="Related articles to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def related(obj: Context, article_id: str, limit: int, as_json: bool) -> None:
    """Show the related articles (相关内容) of one article.

    Example: python cli.py related 1001 --limit 5
    """
    try:
        items = search.related_articles(obj.engine, article_id, limit)
    except LIBRARY_ERRORS as exc:
        raise _fail(exc) from None
    if items is None:
        raise click.ClickException(f"no article with id {article_id!r}")
    if as_json:
        click.echo(json.dumps({"id": article_id, "related": items}, ensure_ascii=False, indent=1))
        return
    for item in items:
        click.echo(f"{(item['published'] or '')[:10]}  {item['title']}  [{item['id']}]")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=5000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=int, default=None, help="Worker processes (default NEWS_SEARCH_SERVE_WORKERS).")
@click.option("--threads", type=int, default=None, help="Threads per worker (default NEWS_SEARCH_SERVE_THREADS).")
@click.pass_obj
def serve(obj: Context, host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve the search page and JSON API with gunicorn (pre-forked workers, threads).

    Each worker notices a new index generation on its next request: a full
    reindex needs no restart. Example: python cli.py --index indexes/default serve --port 5000
    """
    from search.web import create_app
    from search.web.server import gunicorn_options, run

    settings = obj.settings
    options = gunicorn_options(
        host, port, workers or int(settings["SERVE_WORKERS"]), threads or int(settings["SERVE_THREADS"])
    )
    click.echo(
        f"serving {settings['INDEX']} on http://{host}:{port}/ ({options['workers']} workers × {options['threads']} threads)"
    )
    run(lambda: create_app({"INDEX": settings["INDEX"]}), options)


@cli.command(name="eval")
@click.argument("task_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@click.option("--run", "run_file", type=click.Path(dir_okay=False), help="Write a TREC run file.")
@click.option("--keep-index", type=click.Path(file_okay=False), help="Build the task index here (reused when present).")
@click.pass_obj
def eval_cmd(obj: Context, task_dir: str, as_json: bool, run_file: str | None, keep_index: str | None) -> None:
    """Evaluate ranking on a judged task: nDCG@10, MRR@10, Recall@100.

    Example: python cli.py eval ../shared/data/relevance/news-topics-dev
    """

    def factory(root: Path) -> search.SearchEngine:
        return search.open_engine({**obj.settings, "INDEX": str(root)})

    result = search.evaluate(task_dir, factory, index_dir=keep_index, run_file=run_file)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))


@cli.command(name="eval-related")
@click.argument("task_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@click.option("--keep-index", type=click.Path(file_okay=False), help="Build the task index here (reused when present).")
@click.pass_obj
def eval_related_cmd(obj: Context, task_dir: str, as_json: bool, keep_index: str | None) -> None:
    """Evaluate related articles (相关内容): on-topic@5, precision over the judged, seeds and reprints shown.

    Example: python cli.py eval-related ../shared/data/relevance/related-dev
    """

    def factory(root: Path) -> search.SearchEngine:
        return search.open_engine({**obj.settings, "INDEX": str(root)})

    result = search.evaluate_related(task_dir, factory, index_dir=keep_index)
    click.echo(json.dumps(result, ensure_ascii=False, indent=None if as_json else 1))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Run the benchmark (benchmarks/bench.py); its options: python benchmarks/bench.py --help.

    Example: python cli.py bench --quick
    """
    script = Path(__file__).resolve().parent / "benchmarks" / "bench.py"
    if not script.exists():
        raise click.ClickException(f"{script} is missing (the benchmark ships with the source tree)")
    import subprocess

    sys.exit(subprocess.call([sys.executable, str(script), *ctx.args]))


@cli.group()
def report() -> None:
    """Reports from the query log."""


@report.command(name="zero-results")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Queries to list.")
@click.option("--days", type=float, default=30.0, show_default=True, help="Look back this many days.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def zero_results(obj: Context, limit: int, days: float, as_json: bool) -> None:
    """List searches that found nothing, most frequent first (what readers miss).

    Example: python cli.py report zero-results --days 7
    """
    settings = obj.settings
    path = search.query_log_path(settings)
    if not path.exists():
        raise click.ClickException(f"no query log at {path} (the web service writes it)")
    # Queries are readers' input: an escape sequence among them must not reach this terminal
    # (the log strips control characters when writing; a log written before that may hold them).
    rows = [
        dict(row, query=search.terminal_safe(row["query"])) for row in search.QueryLog(path).zero_results(limit, days)
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for row in rows:
        click.echo(f"{row['count']:>6}  {row['query']}  (last {row['last_seen']})")
    if not rows:
        click.echo("no zero-result searches")


def _read_dsn(dsn: str | None, dsn_file: str | None, settings: dict[str, Any]) -> search.Dsn:
    """The DSN from --dsn-file, --dsn or NEWS_SEARCH_CMS_DSN (never echoed: messages mask the password)."""
    if dsn_file:
        text = Path(dsn_file).read_text(encoding="utf-8").strip()
    else:
        text = dsn or str(settings["CMS_DSN"])
    if not text:
        raise click.ClickException(
            f"no CMS database: set {SETTINGS_BY_NAME['CMS_DSN'].envvar} or pass --dsn-file (or --dsn)"
        )
    try:
        return search.Dsn.parse(text)
    except search.CmsError as exc:
        raise _fail(exc) from None


def _print_sync(report: search.SyncReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        return
    for line in report.errors[:50]:  # CMS text: control characters shown, not sent to the terminal
        click.echo(f"error: {search.terminal_safe(line)}", err=True)
    for line in report.warnings[:20]:
        click.echo(f"warning: {search.terminal_safe(search.mask_dsn(line))}", err=True)
    passes = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in report.passes.items())
    click.echo(
        f"{report.mode} sync: {report.indexed} indexed, {report.updated} updated, {report.deleted} deleted, "
        f"{report.skipped} skipped, {report.failed} failed; {report.doc_count} articles in {report.generation} "
        f"({report.seconds:.1f} s: {passes})"
    )


@cli.command()
@click.option("--dsn", help="mysql://user:password@host/db[?unix_socket=PATH]; prefer the env variable or --dsn-file.")
@click.option("--dsn-file", type=click.Path(exists=True, dir_okay=False), help="A file holding the DSN (mode 600).")
@click.option("--cms", type=click.Choice(sorted(search.CMS_READERS)), default="dedecms", show_default=True)
@click.option("--table-prefix", default="", help="Table prefix (default: dede_, v9_ or wp_).")
@click.option("--charset", type=click.Choice(search.CMS_CHARSETS), default="auto", show_default=True)
@click.option("--include-member-only", is_flag=True, help="Also index DedeCMS member-only articles (arcrank > 0).")
@click.option("--timezone", default="Asia/Shanghai", show_default=True, help="The site's timezone (URL dates).")
@click.option("--site-url", default="", help="Prefix for site-relative article URLs, e.g. https://www.example.com.")
@click.option("--full", is_flag=True, help="Import everything into a new generation, forgetting the sync state.")
@click.option("--every", type=float, default=0, help="Keep syncing, every SECONDS (0 = once).")
@click.option("--workers", type=int, default=None, help="Writer processes of a full import (default: one per core).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def sync(
    obj: Context,
    dsn: str | None,
    dsn_file: str | None,
    cms: str,
    table_prefix: str,
    charset: str,
    include_member_only: bool,
    timezone: str,
    site_url: str,
    full: bool,
    every: float,
    workers: int | None,
    as_json: bool,
) -> None:
    """Import a CMS database (DedeCMS, PHPCMS, WordPress), then apply only what changed.

    Example: NEWS_SEARCH_CMS_DSN=mysql://search@localhost/dedecms python cli.py sync --cms dedecms
    """
    target = _read_dsn(dsn, dsn_file, obj.settings)
    options = search.CmsOptions(
        prefix=table_prefix, include_member_only=include_member_only, timezone=timezone, site_url=site_url
    )
    while True:
        try:
            report = search.sync_cms(
                obj.engine.store,
                target,
                cms,
                options,
                charset=charset,
                full=full,
                workers=workers if workers is not None else int(obj.settings["WORKERS"]),
                writer_mb=int(obj.settings["WRITER_MB"]),
            )
        except search.IndexBusyError as exc:  # another sync is at work: not a failure (cron every minute)
            click.echo(f"skipped: {exc}", err=True)
        except (search.CmsError, *LIBRARY_ERRORS) as exc:
            if not every:
                raise click.ClickException(search.mask_dsn(str(exc))) from None
            click.echo(f"error: {search.mask_dsn(str(exc))}", err=True)
        else:
            _print_sync(report, as_json)
            if not every and not report.ok:
                sys.exit(1)
        if not every:
            return
        full = False
        time.sleep(every)


@cli.command(name="settings")
def settings_cmd() -> None:
    """Print the configuration reference: every setting, its variable, default and help (Markdown).

    Example: python cli.py settings > docs/configuration.md
    """
    click.echo(search.settings_reference(), nl=False)


def main() -> None:
    cli(prog_name="news-search")


if __name__ == "__main__":
    main()
