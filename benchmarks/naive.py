"""The naive tutorial setup, as a benchmark reference (not part of the project).

Whoosh with ``jieba.analyse.ChineseAnalyzer()`` on title and body (TEXT,
stored), one plain ``ix.writer()``, ``MultifieldParser(["title", "body"],
schema, group=OrGroup)`` and the top 10 with ``hit.highlights("body")`` as
snippets: what the tutorials give and what the project replaces.

Run by ``benchmarks/bench.py`` in fresh processes; by hand:

    python benchmarks/naive.py index CORPUS.jsonl[.gz] INDEX_DIR
    python benchmarks/naive.py query INDEX_DIR QUERIES.json     # {"warmup": [...], "sets": {name: [...]}}
    python benchmarks/naive.py coldstart INDEX_DIR QUERY

Each command prints one JSON object on its last line of stdout.
"""

from __future__ import annotations

import gzip
import json
import sys
import time

T0 = time.perf_counter()

NAME = "naive"


def iter_articles(path: str):
    """(id, title, body) of every article in a JSON Lines file (optionally gzip)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            yield str(obj["id"]), obj.get("title") or "", obj.get("body") or ""


def _quiet_jieba() -> None:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)


def build(corpus: str, index_dir: str) -> dict:
    import os
    import warnings

    warnings.filterwarnings("ignore")
    _quiet_jieba()
    from jieba.analyse import ChineseAnalyzer
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema

    analyzer = ChineseAnalyzer()
    schema = Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(stored=True, analyzer=analyzer),
        body=TEXT(stored=True, analyzer=analyzer),
    )
    os.makedirs(index_dir, exist_ok=True)
    started = time.perf_counter()
    ix = index.create_in(index_dir, schema)
    writer = ix.writer()
    n = 0
    for doc_id, title, body in iter_articles(corpus):
        writer.add_document(id=doc_id, title=title, body=body)
        n += 1
    added = time.perf_counter()
    writer.commit()
    done = time.perf_counter()
    return {"docs": n, "seconds": done - started, "add_seconds": added - started, "commit_seconds": done - added}


class Searcher:
    def __init__(self, index_dir: str) -> None:
        import warnings

        warnings.filterwarnings("ignore")
        _quiet_jieba()
        from whoosh import index
        from whoosh.qparser import MultifieldParser, OrGroup

        self.ix = index.open_dir(index_dir)
        self.searcher = self.ix.searcher()
        self.parser = MultifieldParser(["title", "body"], self.ix.schema, group=OrGroup)

    def search(self, q: str, size: int = 10) -> tuple[int, int]:
        """Top ``size`` with snippets; return (hits shown, snippets made)."""
        results = self.searcher.search(self.parser.parse(q), limit=size)
        snippets = 0
        for hit in results:
            _ = hit["title"]
            if hit.highlights("body"):
                snippets += 1
        return results.scored_length(), snippets


def run_queries(searcher, spec: dict, budget: float) -> dict:
    """Warm up on ``spec["warmup"]``, then ask each query of each set once.

    Per query: wall-clock latency and the process's CPU time, both in ms (CPU
    time is what to compare when other processes share the machine).
    """
    errors: dict[str, int] = {}
    for q in spec["warmup"]:
        try:
            searcher.search(q)
        except Exception:
            pass
    out: dict = {"sets": {}}
    for name, queries in spec["sets"].items():
        lat, cpu, zero, errs, stopped = [], [], 0, 0, False
        set_start = time.perf_counter()
        for q in queries:
            if time.perf_counter() - set_start > budget:
                stopped = True
                break
            t, c = time.perf_counter(), time.process_time()
            try:
                shown, _ = searcher.search(q)
            except Exception as exc:  # counted, never fatal
                errs += 1
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            lat.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            zero += shown == 0
        out["sets"][name] = {
            "latency_ms": lat,
            "cpu_ms": cpu,
            "zero_hits": zero,
            "errors": errs,
            "budget_stopped": stopped,
        }
    out["error_types"] = errors
    return out


def coldstart(index_dir: str, q: str) -> dict:
    s = Searcher(index_dir)
    opened = time.perf_counter()
    shown, _ = s.search(q)
    answered = time.perf_counter()
    return {"open_s": opened - T0, "first_query_s": answered - opened, "hits": shown}


def main(argv: list[str]) -> int:
    cmd = argv[0]
    if cmd == "index":
        result = build(argv[1], argv[2])
    elif cmd == "query":
        with open(argv[2], encoding="utf-8") as f:
            spec = json.load(f)
        budget = float(argv[3]) if len(argv) > 3 else 1e9
        result = run_queries(Searcher(argv[1]), spec, budget)
    elif cmd == "coldstart":
        result = coldstart(argv[1], argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
