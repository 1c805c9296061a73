"""tantivy over jieba search-mode tokens, as a benchmark reference (not part of the project).

Articles are cut with ``jieba.cut_for_search`` in Python and handed to
tantivy pre-tokenized, joined with spaces, in ``title`` and ``body`` fields
that use tantivy's ``default`` tokenizer (which splits on the spaces and
punctuation and lowercases). The original title and body are kept in a
stored-only bytes field so the index size includes a document store, like the
Whoosh indexes. A query is cut the same way and parsed as an OR of its words
over title (boost 2) and body; BM25; top 10; no snippets.

Run by ``benchmarks/bench.py`` in fresh processes; by hand:

    python benchmarks/tantivy_ref.py index CORPUS.jsonl[.gz] INDEX_DIR
    python benchmarks/tantivy_ref.py query INDEX_DIR QUERIES.json
    python benchmarks/tantivy_ref.py coldstart INDEX_DIR QUERY

Each command prints one JSON object on its last line of stdout.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from naive import run_queries  # noqa: E402  (the shared query loop; imports no Whoosh)

T0 = time.perf_counter()

NAME = "tantivy"
TITLE_BOOST = 2.0
# tantivy's default tokenizer keeps alphanumeric runs; anything else (and the
# query language's operators) becomes a separator before parsing.
_NON_WORD = re.compile(r"[^\w]+|_+")


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


def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokens(jieba, text: str) -> str:
    return " ".join(t for t in jieba.cut_for_search(text) if not t.isspace())


def build(corpus: str, index_dir: str) -> dict:
    import os

    import tantivy

    jieba = _jieba()
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=False)
    sb.add_text_field("body", stored=False)
    sb.add_bytes_field("src", stored=True, indexed=False)
    schema = sb.build()
    os.makedirs(index_dir, exist_ok=True)
    started = time.perf_counter()
    index = tantivy.Index(schema, path=index_dir)
    writer = index.writer()
    n, cut_s = 0, 0.0
    for doc_id, title, body in iter_articles(corpus):
        t = time.perf_counter()
        tt, bt = tokens(jieba, title), tokens(jieba, body)
        cut_s += time.perf_counter() - t
        doc = tantivy.Document()
        doc.add_text("id", doc_id)
        doc.add_text("title", tt)
        doc.add_text("body", bt)
        doc.add_bytes("src", json.dumps({"title": title, "body": body}, ensure_ascii=False).encode("utf-8"))
        writer.add_document(doc)
        n += 1
    writer.commit()
    writer.wait_merging_threads()
    done = time.perf_counter()
    return {"docs": n, "seconds": done - started, "jieba_seconds": cut_s}


class Searcher:
    def __init__(self, index_dir: str) -> None:
        import tantivy

        self.jieba = _jieba()
        self.index = tantivy.Index.open(index_dir)
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, q: str, size: int = 10) -> tuple[int, int]:
        """Top ``size`` ids (no snippets); return (hits shown, 0)."""
        words = _NON_WORD.sub(" ", tokens(self.jieba, q).lower()).split()
        if not words:
            return 0, 0
        query = self.index.parse_query(" ".join(words), ["title", "body"], field_boosts={"title": TITLE_BOOST})
        hits = self.searcher.search(query, size).hits
        for _score, addr in hits:
            self.searcher.doc(addr)["id"]
        return len(hits), 0


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
