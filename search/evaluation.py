"""Evaluation: judged tasks in, nDCG@10 / MRR@10 / Recall@100 out.

A task directory holds ``corpus.jsonl.gz`` (canonical articles), ``queries.tsv``
(``qid<TAB>text``) and ``qrels.txt`` (TREC ``qid 0 docid grade``).
``evaluate`` builds (or reuses) an index of the corpus, runs every judged
query for the top 100 exactly as the search box would (no duplicate
collapsing: the judgments count reprints separately), and scores the run
with ir-measures. Only queries with a positive judgment count.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ir_measures
from ir_measures import RR, R, nDCG

from .index import IndexStore
from .indexing import reindex
from .searching import SearchEngine

MEASURES = [nDCG @ 10, RR @ 10, R @ 100]
DEPTH = 100


def read_queries(path: Path) -> dict[str, str]:
    queries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            qid, text = line.split("\t", 1)
            queries[qid.strip()] = text.strip()
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4:
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def score_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """nDCG@10, MRR@10 and Recall@100 averaged over the judged queries."""
    judged = {q: docs for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    full_run = {q: run.get(q, {}) for q in judged}
    agg = ir_measures.calc_aggregate(MEASURES, judged, full_run)
    return {"ndcg@10": agg[nDCG @ 10], "mrr@10": agg[RR @ 10], "recall@100": agg[R @ 100]}


def run_queries(engine: SearchEngine, queries: dict[str, str]) -> tuple[dict[str, dict[str, float]], list[float]]:
    run: dict[str, dict[str, float]] = {}
    times = []
    for qid, text in queries.items():
        started = time.perf_counter()
        res = engine.search(text, size=DEPTH, collapse=False, snippets=False)
        times.append((time.perf_counter() - started) * 1000)
        # Rank-derived scores: ties and equal BM25 values keep our order.
        run[qid] = {h.id: float(DEPTH - i) for i, h in enumerate(res.hits)}
    return run, times


def write_trec_run(run: dict[str, dict[str, float]], path: Path, tag: str = "news-search") -> None:
    with open(path, "w", encoding="utf-8") as out:
        for qid, docs in run.items():
            for rank, (docid, score) in enumerate(sorted(docs.items(), key=lambda kv: -kv[1]), start=1):
                out.write(f"{qid} Q0 {docid} {rank} {score:.4f} {tag}\n")


@contextmanager
def task_engine(
    task: Path, engine_factory: Any, index_dir: str | Path | None
) -> Iterator[tuple[SearchEngine, float | None]]:
    """The engine over a task's index (``index_dir``, kept, or a temporary one), built first when missing.

    Yields the engine and the build's seconds (None when the index was there); closes its store after.
    """
    with tempfile.TemporaryDirectory(prefix="news-eval-") as tmp:
        root = Path(index_dir) if index_dir else Path(tmp) / "index"
        engine: SearchEngine = engine_factory(root)
        store: IndexStore = engine.store
        built_seconds = None
        if not store.exists():
            built_seconds = round(reindex(store, [task / "corpus.jsonl.gz"], full=True).seconds, 1)
        try:
            yield engine, built_seconds
        finally:
            store.close()


def evaluate(
    task_dir: str | Path, engine_factory: Any, index_dir: str | Path | None = None, run_file: str | Path | None = None
) -> dict[str, Any]:
    """Evaluate one task; ``engine_factory(store_root)`` builds the engine to test."""
    task = Path(task_dir)
    queries = read_queries(task / "queries.tsv")
    qrels = read_qrels(task / "qrels.txt")
    judged = {q for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    queries = {q: t for q, t in queries.items() if q in judged}
    with task_engine(task, engine_factory, index_dir) as (engine, built_seconds):
        run, times = run_queries(engine, queries)
    if run_file:
        write_trec_run(run, Path(run_file))
    metrics = score_run(qrels, run)
    return {
        "task": task.name,
        "queries": len(queries),
        "ndcg@10": round(metrics["ndcg@10"], 4),
        "mrr@10": round(metrics["mrr@10"], 4),
        "recall@100": round(metrics["recall@100"], 4),
        "p50_ms": round(statistics.median(times), 2) if times else None,
        "index_seconds": built_seconds,
    }


# --- related articles (相关内容) ------------------------------------------------

RELATED_DEPTH = 5
REPRINT_SHINGLE = 5  # characters per shingle when telling a reprint (near-copy of the body)
REPRINT_CONTAINMENT = 0.8  # share of the shorter body's shingles found in the other's


def _shingles(text: str) -> set[str]:
    chars = "".join(ch for ch in text if ch.isalnum())
    return {chars[i : i + REPRINT_SHINGLE] for i in range(max(len(chars) - REPRINT_SHINGLE + 1, 0))}


def is_reprint(body: str, other: str) -> bool:
    """Whether one body is a near-copy of the other (most of the shorter one's 5-character shingles recur).

    Independent of the index's MinHash signatures on purpose: the measure must
    not share the folding it checks. Recurring column titles (国内联播快讯)
    with different bodies are different articles.
    """
    a, b = _shingles(body), _shingles(other)
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= REPRINT_CONTAINMENT


def read_seeds(path: Path) -> list[tuple[str, str]]:
    """``topic<TAB>article id`` lines."""
    seeds = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            topic, article_id = line.split("\t", 1)
            seeds.append((topic.strip(), article_id.strip()))
    return seeds


def score_related(
    seeds: list[tuple[str, str]],
    qrels: dict[str, dict[str, int]],
    related_ids: dict[str, list[str]],
    bodies: dict[str, str],
    depth: int = RELATED_DEPTH,
) -> dict[str, Any]:
    """on-topic@depth (unjudged = miss), precision over the judged, judged share, seeds and reprints shown."""
    on = judged = self_hits = reprints = 0
    seeds_with_reprint = 0
    for topic, seed in seeds:
        grades = qrels.get(topic, {})
        shown = related_ids.get(seed, [])[:depth]
        reprinted = False
        for other in shown:
            if other == seed:
                self_hits += 1
                continue
            if other in grades:
                judged += 1
                on += grades[other] >= 1
            if is_reprint(bodies.get(seed, ""), bodies.get(other, "")):
                reprints += 1
                reprinted = True
        seeds_with_reprint += reprinted
    slots = max(depth * len(seeds), 1)
    return {
        "seeds": len(seeds),
        f"on_topic@{depth}": round(on / slots, 4),
        "precision_judged": round(on / judged, 4) if judged else None,
        "judged_share": round(judged / slots, 4),
        "seed_shown": self_hits,
        "reprints_shown": reprints,
        "seeds_with_reprint": seeds_with_reprint,
    }


def evaluate_related(
    task_dir: str | Path, engine_factory: Any, index_dir: str | Path | None = None, depth: int = RELATED_DEPTH
) -> dict[str, Any]:
    """Evaluate the related box on a judged task (``seeds.tsv``, ``qrels.txt``, ``corpus.jsonl.gz``)."""
    from .related import related

    task = Path(task_dir)
    seeds = read_seeds(task / "seeds.tsv")
    qrels = read_qrels(task / "qrels.txt")
    with task_engine(task, engine_factory, index_dir) as (engine, built_seconds):
        shown: dict[str, list[str]] = {}
        bodies: dict[str, str] = {}
        times = []
        for _, seed in seeds:
            started = time.perf_counter()
            items = related(engine, seed, depth) or []
            times.append((time.perf_counter() - started) * 1000)
            shown[seed] = [item["id"] for item in items]
            for article_id in [seed, *shown[seed]]:
                if article_id not in bodies:
                    article = engine.article(article_id) or {}
                    bodies[article_id] = article.get("body", "")
    result = {"task": task.name, **score_related(seeds, qrels, shown, bodies, depth)}
    result["p50_ms"] = round(statistics.median(times), 2) if times else None
    result["index_seconds"] = built_seconds
    return result
