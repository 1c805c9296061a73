"""Train and check the learned re-ranker (LambdaMART) on the judged dev tasks.

Every judged query of each task is searched as ``cli.py eval`` searches it
(top 100, no collapsing, no snippets); the first ``search.rerank.DEPTH``
candidates are described by ``search.rerank.features``, the very function the
engine calls when serving, and labelled with the task's grades (unjudged: 0).

Each task's queries are split by a fixed hash of ``task/qid`` (70 % train,
30 % validation). The script reports nDCG@10 / MRR@10 per task for the
hand-tuned order and the learned one, on:

* the validation part, for a model trained on the union of the train parts;
* leave-one-task-out: every query of a task, for a model trained on all the
  queries of the other tasks (the check that it carries to other queries and
  collections, as the sealed held-out twins will ask).

``--model PATH`` writes the model trained on the train parts (LightGBM text);
with ``--latency N`` it is the model timed against the hand-tuned order.
Example (indexes kept by ``cli.py eval --keep-index``, reused when present):

    .venv/bin/python benchmarks/train_ranker.py ../shared/data/relevance/{qbqtc,xwlb-title,news-topics,cmrc2018}-dev \\
        --keep-index /tmp/ltr --cache /tmp/ltr/features --model /tmp/ltr/ranker.txt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import search  # noqa: E402
from search.evaluation import read_qrels, read_queries, score_run, task_engine  # noqa: E402
from search.rerank import DEPTH, FEATURE_NAMES, Reranker, features  # noqa: E402

RESULTS = 100  # hits per query, as cli.py eval
VALIDATION = 0.3  # share of each task's queries held out by the hash split
PARAMS = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 20,
    "num_threads": 1,
    "seed": 17,
    "verbose": -1,
}
ROUNDS = 200


class Recorder(Reranker):
    """A reranker that keeps what it saw (the head's docnums and features) and reorders nothing."""

    def wanted(self, explain: bool) -> bool:
        return True

    def rerank(self, ranked: list, evidence: Any, explain: bool) -> list:
        head = ranked[: self.depth]
        self.seen = features(evidence, [d for d, *_ in head], [s for _, s, *_ in head])
        return ranked


def validation(task: str, qid: str) -> bool:
    """The fixed split: about ``VALIDATION`` of each task's queries, by a hash of task and query id."""
    digest = hashlib.sha1(f"{task}/{qid}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 1000 < VALIDATION * 1000


def collect(task_dir: Path, keep_index: Path | None, cache: Path | None) -> dict[str, Any]:
    """Per judged query: the hit ids (top 100, hand-tuned order) and the features of the head."""
    cached = cache / f"{task_dir.name}.features.pkl" if cache else None
    if cached and cached.exists():
        return pickle.loads(cached.read_bytes())
    queries = read_queries(task_dir / "queries.tsv")
    qrels = read_qrels(task_dir / "qrels.txt")
    judged = {q for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    recorder = Recorder(None, DEPTH)

    def factory(root: Path) -> search.SearchEngine:
        engine = search.open_engine({**search.load_settings(), "INDEX": str(root), "RANKER_MODEL": ""})
        engine.reranker = recorder
        return engine

    out: dict[str, Any] = {"task": task_dir.name, "qrels": qrels, "queries": {}}
    with task_engine(task_dir, factory, keep_index / task_dir.name if keep_index else None) as (engine, _):
        for n, (qid, text) in enumerate(q for q in queries.items() if q[0] in judged):
            recorder.seen = np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
            res = engine.search(text, size=RESULTS, collapse=False, snippets=False)
            ids = [h.id for h in res.hits]
            rows = recorder.seen if ids else recorder.seen[:0]
            out["queries"][qid] = (ids, rows[: len(ids)])
            if n % 1000 == 999:
                print(f"  {task_dir.name}: {n + 1} queries", file=sys.stderr)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pickle.dumps(out, 4))
    return out


def matrix(tasks: list[dict], pick: Any) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Rows, labels and group sizes of the queries ``pick(task, qid)`` selects (groups with a positive only)."""
    rows, labels, groups = [], [], []
    for task in tasks:
        grades = task["qrels"]
        for qid, (ids, feats) in task["queries"].items():
            if not pick(task["task"], qid) or not len(feats):
                continue
            y = [grades.get(qid, {}).get(i, 0) for i in ids[: len(feats)]]
            if not any(y):
                continue  # no positive in the head: nothing to learn from
            rows.append(feats)
            labels += y
            groups.append(len(y))
    if not rows:
        return np.zeros((0, len(FEATURE_NAMES))), np.zeros(0), []
    return np.vstack(rows), np.array(labels), groups


def train(tasks: list[dict], pick: Any, rounds: int = ROUNDS) -> Any:
    import lightgbm

    x, y, groups = matrix(tasks, pick)
    data = lightgbm.Dataset(x, y, group=groups, feature_name=list(FEATURE_NAMES), free_raw_data=False)
    return lightgbm.train(PARAMS, data, num_boost_round=rounds)


def runs(task: dict, pick: Any, model: Any | None) -> dict[str, dict[str, float]]:
    """The run of the picked queries: the hand-tuned order, or its head reordered by ``model`` within tiers."""
    out = {}
    first = FEATURE_NAMES.index("first")
    for qid, (ids, feats) in task["queries"].items():
        if not pick(task["task"], qid):
            continue
        order = list(range(len(ids)))
        if model is not None and len(feats):
            learned = model.predict(feats, num_threads=1)
            head = sorted(range(len(feats)), key=lambda i: (not feats[i, first], -learned[i], i))
            order = head + order[len(feats) :]
        out[qid] = {ids[i]: float(RESULTS - rank) for rank, i in enumerate(order)}
    return out


def measure(task: dict, pick: Any, model: Any | None) -> dict[str, float]:
    qrels = {q: g for q, g in task["qrels"].items() if pick(task["task"], q)}
    metrics = score_run(qrels, runs(task, pick, model))
    return {"ndcg@10": round(metrics["ndcg@10"], 4), "mrr@10": round(metrics["mrr@10"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="+", type=Path, help="task directories (corpus, queries.tsv, qrels.txt)")
    parser.add_argument("--keep-index", type=Path, help="build or reuse each task's index in DIR/<task>")
    parser.add_argument("--cache", type=Path, help="keep each task's features in DIR/<task>.features.pkl")
    parser.add_argument("--model", type=Path, help="write the model trained on the train parts here")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="boosting rounds (trees)")
    parser.add_argument("--leaves", type=int, default=PARAMS["num_leaves"], help="leaves per tree")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--latency", type=int, default=0, help="time N queries of each task, hand-tuned vs learned")
    args = parser.parse_args()
    if args.latency:
        if not args.model:
            parser.error("--latency times the model of --model")
        for task_dir in args.tasks:
            latency(task_dir, args.keep_index, args.model, args.latency)
        return

    PARAMS["num_leaves"] = args.leaves
    tasks = [collect(t, args.keep_index, args.cache) for t in args.tasks]
    report: dict[str, Any] = {"depth": DEPTH, "rounds": args.rounds, "params": PARAMS, "split": {}, "loto": {}}

    model = train(tasks, lambda task, qid: not validation(task, qid), args.rounds)
    gain = model.feature_importance("gain")
    report["importance"] = {
        n: round(float(g / max(gain.sum(), 1e-9)), 4)
        for n, g in sorted(zip(FEATURE_NAMES, gain, strict=True), key=lambda p: -p[1])
    }
    print(f"depth {DEPTH}, {args.rounds} rounds; validation parts (model trained on the train parts):")
    for task in tasks:
        base, learned = measure(task, validation, None), measure(task, validation, model)
        report["split"][task["task"]] = {"baseline": base, "learned": learned}
        print(f"  {task['task']:<18} {_pair(base)}  →  {_pair(learned)}  ({_delta(base, learned)})")
    if args.model:
        args.model.parent.mkdir(parents=True, exist_ok=True)
        model.save_model(str(args.model))
        print(f"model: {args.model} ({args.model.stat().st_size:,} bytes)")

    print("leave one task out (all its queries, model trained on the other tasks):")
    for task in tasks:
        left = task["task"]
        other = train(tasks, lambda t, qid, left=left: t != left, args.rounds)
        every = lambda t, qid: True  # noqa: E731
        base, learned = measure(task, every, None), measure(task, every, other)
        report["loto"][left] = {"baseline": base, "learned": learned}
        print(f"  {left:<18} {_pair(base)}  →  {_pair(learned)}  ({_delta(base, learned)})")
    print("feature importance (gain share):", json.dumps(report["importance"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def latency(task_dir: Path, keep_index: Path | None, model: Path, n: int) -> None:
    """p50 / p90 search time (top 10, as served) of ``n`` queries, the hand-tuned order and the learned one alternated."""
    queries = list(read_queries(task_dir / "queries.tsv").values())
    picked = [queries[i] for i in np.random.default_rng(17).choice(len(queries), min(n, len(queries)), replace=False)]
    learned = Reranker.load(model)

    def factory(root: Path) -> search.SearchEngine:
        return search.open_engine({**search.load_settings(), "INDEX": str(root), "RANKER_MODEL": ""})

    with task_engine(task_dir, factory, keep_index / task_dir.name if keep_index else None) as (engine, _):
        for text in picked[:20]:  # warm the caches both ways
            engine.search(text)
        times: dict[str, list[float]] = {"hand-tuned": [], "learned": []}
        both = [("hand-tuned", None), ("learned", learned)]
        for i, text in enumerate(picked):
            for name, reranker in both if i % 2 else both[::-1]:  # the second run of a query finds warm caches
                engine.reranker = reranker
                started = time.perf_counter()
                engine.search(text)
                times[name].append((time.perf_counter() - started) * 1000)
    for name, values in times.items():
        p50, p90 = np.percentile(values, [50, 90])
        print(f"  {task_dir.name:<18} {name:<10} p50 {p50:.2f} ms, p90 {p90:.2f} ms ({len(values)} queries)")


def _pair(m: dict[str, float]) -> str:
    return f"{m['ndcg@10']:.4f} / {m['mrr@10']:.4f}"


def _delta(a: dict[str, float], b: dict[str, float]) -> str:
    return f"{b['ndcg@10'] - a['ndcg@10']:+.4f} nDCG@10"


if __name__ == "__main__":
    main()
