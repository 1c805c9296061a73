"""DedeCMS sync benchmark: a full import from MariaDB vs ``reindex`` of the same articles from JSONL,
the time of each pass of an incremental sync, and one sync of 100 changes.

    python benchmarks/cms_bench.py [--articles 100000] [--workdir DIR] [--out results.json]

It starts a private ``mariadbd`` (``tests/cms_server.py``) in the work
directory, fills a DedeCMS 5.7 database (``tests/data/cms/dedecms.sql``)
with xwlb + sina2018 articles replicated with new ids to ``--articles``,
writes the same articles as JSONL, and times (each once, on a shared
machine: run it with ``nice`` and read the numbers as an order of size):

* ``sync --full`` (the first import) and ``reindex --full`` of the JSONL, in articles/s;
* an incremental sync with nothing to do: its status pass (``dede_arctiny``)
  and its hash pass (MD5 in SQL over id ranges);
* an incremental sync after 100 changes (40 edits, 20 to the recycle bin,
  20 hard deletes, 20 new articles).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import search  # noqa: E402
from search.cms import CmsOptions, Dsn  # noqa: E402
from tests.cms_server import MariaDB, run, start, stop  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "news"
SOURCES = (DATA / "xwlb.jsonl.gz", DATA / "sina2018.jsonl.gz")
DEFAULT_TIME = int(datetime(2024, 3, 5, 9, 0).timestamp())


def corpus() -> list[dict]:
    out = []
    for path in SOURCES:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            out.extend(json.loads(line) for line in handle)
    return [a for a in out if a.get("title") and a.get("body")]


def rows_for(articles: list[dict], n: int, start_id: int = 1) -> list[tuple]:
    """n DedeCMS rows (id, typename, title, source, unix time, HTML body) cycling over the corpus."""
    rows = []
    for i in range(n):
        a = articles[i % len(articles)]
        when = DEFAULT_TIME
        if a.get("published"):
            try:
                when = int(search.parse_published(a["published"]).timestamp())
            except ValueError:
                pass
        body = "".join(f"<p>{p}</p>" for p in a["body"].split("\n") if p.strip())
        rows.append(
            (start_id + i, (a.get("channel") or "新闻")[:30], a["title"][:60], (a.get("source") or "")[:30], when, body)
        )
    return rows


def load(db: MariaDB, rows: list[tuple]) -> dict[str, int]:
    conn = db.create("dede_bench", "dedecms", "dede_", "utf8mb4")
    types = {name: i for i, name in enumerate(sorted({r[1] for r in rows}), 1)}
    run(
        conn,
        "INSERT INTO dede_arctype (id, typename, typedir, namerule) VALUES (%s, %s, %s, '')",
        [(i, name, f"{{cmspath}}/a/t{i}") for name, i in types.items()],
    )
    insert(conn, rows, types)
    conn.close()
    return types


def insert(conn, rows: list[tuple], types: dict[str, int], chunk: int = 2000) -> None:
    for start_at in range(0, len(rows), chunk):
        part = rows[start_at : start_at + chunk]
        run(
            conn,
            "INSERT INTO dede_arctiny (id, typeid, arcrank, channel, senddate, sortrank, mid) VALUES (%s,%s,0,1,%s,%s,1)",
            [(r[0], types[r[1]], r[4], r[4]) for r in part],
        )
        run(
            conn,
            "INSERT INTO dede_archives (id, typeid, sortrank, channel, arcrank, title, source, pubdate, senddate, mid, "
            "description) VALUES (%s,%s,%s,1,0,%s,%s,%s,%s,1,'')",
            [(r[0], types[r[1]], r[4], r[2], r[3], r[4], r[4]) for r in part],
        )
        run(
            conn,
            "INSERT INTO dede_addonarticle (aid, typeid, body, redirecturl) VALUES (%s,%s,%s,'')",
            [(r[0], types[r[1]], r[5]) for r in part],
        )


def write_jsonl(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for aid, channel, title, source, when, body in rows:
            text = body.replace("</p><p>", "\n").removeprefix("<p>").removesuffix("</p>")
            record = {
                "id": str(aid),
                "title": title,
                "body": text,
                "source": source,
                "channel": channel,
                "published": datetime.fromtimestamp(when, search.articles.SHANGHAI).isoformat(),
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def change_100(db: MariaDB, rows: list[tuple], types: dict[str, int], seed: int = 7) -> None:
    rng = random.Random(seed)
    ids = rng.sample([r[0] for r in rows], 80)
    conn = db.connect("dede_bench")
    for aid in ids[:40]:  # edits: a new pubdate and body, senddate unchanged
        run(conn, f"UPDATE dede_archives SET pubdate = pubdate + 3600 WHERE id = {aid}")
        run(conn, f"UPDATE dede_addonarticle SET body = CONCAT(body, '<p>（本文已更新）</p>') WHERE aid = {aid}")
    for aid in ids[40:60]:  # to the recycle bin
        run(conn, f"UPDATE dede_arctiny SET arcrank = -2 WHERE id = {aid}")
        run(conn, f"UPDATE dede_archives SET arcrank = -2 WHERE id = {aid}")
    for aid in ids[60:80]:  # hard deletes
        for table, key in (("dede_arctiny", "id"), ("dede_archives", "id"), ("dede_addonarticle", "aid")):
            run(conn, f"DELETE FROM {table} WHERE {key} = {aid}")
    new = [(len(rows) + 1 + i, *r[1:]) for i, r in enumerate(rows[:20])]
    insert(conn, new, types)
    conn.close()


def passes(dsn: Dsn, n: int) -> dict[str, float]:
    """Time the reading side of a sync without indexing: every row to an Article, the status and hash passes."""
    from search.cms.base import Decoder, connect
    from search.cms.dedecms import DedeCMS
    from search.cms.sync import FETCH, _hash_pass

    reader, conn, out = DedeCMS(CmsOptions()), connect(dsn), {}
    clock = time.perf_counter()
    after, count = 0, 0
    while rows := reader.fetch_after(conn, after, FETCH):
        after = int(rows[-1][0])
        count += sum(1 for row in rows if reader.article(row, Decoder()))
    out["read_articles_per_second"] = round(count / (time.perf_counter() - clock), 1)
    clock = time.perf_counter()
    status = reader.status(conn)
    out["status_pass_seconds"] = round(time.perf_counter() - clock, 3)
    clock = time.perf_counter()
    hashes = _hash_pass(reader, conn, list(status))
    out["hash_pass_seconds"] = round(time.perf_counter() - clock, 3)
    assert count == len(status) == len(hashes) == n
    conn.close()
    print(f"{n:,} articles: {out}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=0, help="writer processes (0 = one per core)")
    parser.add_argument("--workdir", help="keep the database and indexes here (default: a temporary directory)")
    parser.add_argument("--out", help="write the results as JSON")
    parser.add_argument(
        "--passes-only",
        action="store_true",
        help="no index: time reading every article (rows -> Article), the status pass and the hash pass",
    )
    args = parser.parse_args()
    if not all(p.exists() for p in SOURCES):
        sys.exit(f"needs {SOURCES[0].parent}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cms-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"articles": args.articles}
    proc, db = start(workdir / "mariadb")
    try:
        clock = time.perf_counter()
        rows = rows_for(corpus(), args.articles)
        types = load(db, rows)
        write_jsonl(workdir / "articles.jsonl", rows)
        results["load_seconds"] = round(time.perf_counter() - clock, 1)
        print(f"loaded {len(rows):,} articles into MariaDB and JSONL in {results['load_seconds']} s", flush=True)

        dsn = Dsn.parse(db.dsn("dede_bench"))
        if args.passes_only:
            results |= passes(dsn, len(rows))
            if args.out:
                Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")
            return
        analyzer = search.Analyzer()
        store = search.IndexStore(workdir / "index-sync", analyzer)
        report = search.sync_cms(store, dsn, "dedecms", CmsOptions(), full=True, workers=args.workers)
        assert report.ok and report.indexed == len(rows), report.to_json()
        results["sync_full"] = report.to_json() | {"errors": [], "warnings": []}
        print(f"sync --full: {report.seconds:.1f} s, {len(rows) / report.seconds:,.0f} articles/s", flush=True)

        report = search.sync_cms(store, dsn, "dedecms", CmsOptions())
        results["sync_nothing"] = report.to_json()
        print(f"sync, nothing changed: {report.seconds:.2f} s {report.passes}", flush=True)

        change_100(db, rows, types)
        report = search.sync_cms(store, dsn, "dedecms", CmsOptions())
        results["sync_100_changes"] = report.to_json()
        print(
            f"sync of 100 changes: {report.seconds:.2f} s ({report.indexed} indexed, {report.updated} updated, "
            f"{report.deleted} deleted) {report.passes}",
            flush=True,
        )
        jsonl_store = search.IndexStore(workdir / "index-jsonl", analyzer)
        r = search.reindex(jsonl_store, [workdir / "articles.jsonl"], full=True, workers=args.workers)
        assert r.ok and r.indexed == len(rows), r.to_json()
        results["reindex_jsonl"] = r.to_json() | {"errors": [], "warnings": []}
        print(f"reindex --full of the JSONL: {r.seconds:.1f} s, {len(rows) / r.seconds:,.0f} articles/s", flush=True)

    finally:
        stop(proc)
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
