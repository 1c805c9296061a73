"""Related articles (相关内容): more-like-this over the same analysis.

``related(engine, id)`` reads top to bottom: the article's key terms (its
words weighted by tf·idf, title words counted twice) → one weighted OR query
(``related_query``) → its best candidates, scored on the codec's arrays by
``candidates`` → optional channel and date priors (off: see docs/ranking.md)
→ drop the article itself and its near-duplicate reprints.

``candidates`` gives what Whoosh's searcher gives the OR query (its default
BM25F, ``WHOOSH_BM25F``), to float rounding: Whoosh scored every article
holding a key term through its matchers in Python (~0.2-0.6 s a box on xwlb);
here each term's postings are scored in one numpy pass (docs/ranking.md,
"Related articles"; tests/test_related.py holds the two to the same top N).
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from datetime import datetime
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh import scoring

from .dedup import near_duplicates
from .hits import brief, lead_of
from .ranking import (
    RELATED_DATE_SCALE_DAYS,
    RELATED_IDF_POWER,
    RELATED_KEY_TERMS,
    RELATED_POOL_FACTOR,
    RELATED_SAME_CHANNEL,
    RELATED_TITLE_BOOST,
    RELATED_TITLE_TIMES,
    top,
)
from .scoring import SPARSE_SHARE, Corpus
from .searching import SearchEngine

CLICK_WEIGHT = 1  # a click recorded here counts as one view (once per client per window: search.querylog)
# The weighting the box was tuned with: IndexStore.searcher opens Whoosh's searchers with their
# default, BM25F(B=0.75, K1=1.2) in every field (not search.ranking's parameters).
WHOOSH_BM25F = scoring.BM25F()
FIELDS = (("title", RELATED_TITLE_BOOST), ("body", 1.0))  # where a key term is looked for, and its boost there


def key_terms(
    engine: SearchEngine, searcher: Any, doc: dict[str, Any], top: int | None = None
) -> list[tuple[str, float]]:
    """The article's most characteristic words with their tf·idf weights."""
    top = top or RELATED_KEY_TERMS
    a = engine.analyzer
    counts: Counter[str] = Counter()
    for text, times in (
        (doc.get("title", ""), RELATED_TITLE_TIMES),
        (doc.get("lead", ""), 1),
        (doc.get("body", ""), 1),
    ):
        for tok in a.words(text, index=False):
            word = tok.text
            if len(word) >= 2 and not a.is_stopword(word) and not word.isdigit():
                counts[word] += times
    n = max(searcher.doc_count(), 1)
    corpus = engine.corpus(searcher)
    words = list(counts)
    # one lookup a field for every word (Whoosh's doc_frequency, word by word, took ~20 ms an article)
    dfs = (corpus.doc_frequencies("body", words) + corpus.doc_frequencies("title", words)).tolist()
    scored = []
    for word, df in zip(words, dfs, strict=True):
        if df <= 0:
            continue
        tf = counts[word]
        scored.append((word, (1 + math.log(tf)) * math.log(1 + n / df) ** RELATED_IDF_POWER))
    scored.sort(key=lambda item: -item[1])
    return scored[:top]


def related_query(terms: list[tuple[str, float]]) -> Q.Query:
    """The weighted OR query of key terms that ``candidates`` answers (each term in the title and the body)."""
    return Q.Or([Q.Or([Q.Term(f, w, boost=boost * wt) for f, boost in FIELDS]) for w, wt in terms])


def candidates(corpus: Corpus, terms: list[tuple[str, float]], exclude: int, pool: int) -> list[tuple[float, int]]:
    """The ``pool`` best (score, document number) for ``related_query(terms)``, best first.

    Whoosh's BM25F as its searcher computes it (``whoosh.scoring.bm25`` on
    the same numbers: idf ``log(N / (df + 1)) + 1`` with deleted documents
    counted, the field lengths Whoosh stores, the average over every
    document, the term's boost as a factor), summed per document; ties go
    to the lower document number, as in Whoosh's collector. ``exclude`` and
    deleted documents are left out. Work and memory follow the postings
    read (a dense array of the collection only when they cover 1/8 of it).
    """
    words = [word for word, _ in terms]
    b, k1 = WHOOSH_BM25F.B, WHOOSH_BM25F.K1
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for fieldname, boost in FIELDS:
        lengths = corpus.field_lengths(fieldname)
        avgfl = corpus.reader.field_length(fieldname) / (corpus.n or 1) or 1  # Searcher.avg_field_length
        dfs = corpus.doc_frequencies(fieldname, words).tolist()
        postings = corpus.postings_many(fieldname, words)
        for (_, weight), df, (ids, tfs) in zip(terms, dfs, postings, strict=True):
            if len(ids):
                idf = math.log(corpus.n / (df + 1)) + 1  # WeightingModel.idf
                fl = lengths[ids].astype(np.float64)
                parts.append((ids, scoring.bm25(idf, tfs.astype(np.float64), fl, avgfl, b, k1) * (boost * weight)))
    if not parts:
        return []
    if sum(len(ids) for ids, _ in parts) * SPARSE_SHARE >= corpus.n:
        dense = np.zeros(corpus.n, dtype=np.float64)
        for ids, scores in parts:
            dense[ids] += scores  # a term's ids are unique: a plain indexed add
        docs = np.flatnonzero(dense)  # ascending, as np.unique's
        total = dense[docs]
    else:
        docs, where = np.unique(np.concatenate([ids for ids, _ in parts]), return_inverse=True)
        total = np.bincount(where, weights=np.concatenate([scores for _, scores in parts]), minlength=len(docs))
    total[(docs == exclude) | ~corpus.live[docs]] = 0.0
    best = top(total, pool)  # ties in position order: the lower document number first
    best = best[total[best] > 0]
    return list(zip(total[best].tolist(), docs[best].tolist(), strict=True))


def _date(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


_ANSWERS: OrderedDict[tuple, list[dict[str, Any]] | None] = OrderedDict()
_ANSWERS_LOCK = threading.Lock()
ANSWERS_KEPT = 2048  # related boxes kept per process (~1 KB each), for the index version they were made from


def related(engine: SearchEngine, article_id: str, limit: int = 5) -> list[dict[str, Any]] | None:
    """Return up to ``limit`` related articles, or None when the id is unknown.

    A box is kept (bounded, least recently used first out) for the index version it was made
    from: a popular article's box is asked for on every view of it, and making one costs
    ~12 ms (p99 ~40 ms) on xwlb, mostly the article's analysis and its words' document
    counts (``key_terms``) and reading the key terms' postings, against microseconds to copy a
    kept one. Kept boxes cost ~1 KB each (~2 MB a process when full).
    """
    searcher = engine.store.searcher()
    key = (str(engine.store.root), engine.store.current(), searcher.reader().generation(), article_id, limit)
    with _ANSWERS_LOCK:
        if key in _ANSWERS:
            _ANSWERS.move_to_end(key)
            kept = _ANSWERS[key]
            return None if kept is None else [dict(item) for item in kept]
    found = _related(engine, searcher, article_id, limit)
    with _ANSWERS_LOCK:
        _ANSWERS[key] = None if found is None else [dict(item) for item in found]
        while len(_ANSWERS) > ANSWERS_KEPT:
            _ANSWERS.popitem(last=False)
    return found


def _related(engine: SearchEngine, searcher: Any, article_id: str, limit: int) -> list[dict[str, Any]] | None:
    docnum = engine.live_docnum(searcher, article_id)
    if docnum is None:
        return None
    corpus = engine.corpus(searcher)
    doc = corpus.stored(docnum)
    terms = key_terms(engine, searcher, doc)
    if not terms:
        return []
    channel, published, signature = doc.get("channel"), _date(doc.get("published")), corpus.value("signature", docnum)
    priors = RELATED_SAME_CHANNEL != 1.0 or RELATED_DATE_SCALE_DAYS > 0
    chosen = []
    for score, other in candidates(corpus, terms, docnum, limit * RELATED_POOL_FACTOR + 10):
        if near_duplicates(signature, corpus.value("signature", other)):
            continue
        if priors:
            fields = corpus.stored(other)
            if channel and fields.get("channel") == channel:
                score *= RELATED_SAME_CHANNEL
            when = _date(fields.get("published"))
            if published and when and RELATED_DATE_SCALE_DAYS > 0:
                score *= 1.0 / (1.0 + abs((published - when).days) / RELATED_DATE_SCALE_DAYS)
        elif len(chosen) == limit:  # without priors the order is the candidates': the rest cannot enter
            break
        chosen.append((score, other))
    chosen.sort(key=lambda item: -item[0])
    return [_item(corpus.stored(other), score) for score, other in chosen[:limit]]


def _item(other: dict[str, Any], score: float) -> dict[str, Any]:
    summary = lead_of(other) or other.get("body", "")[:80]
    return {**brief(other), "summary": summary[:100], "score": round(score, 4)}


def hot_articles(engine: SearchEngine, limit: int = 8, clicks: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The most read articles: views from the source site plus clicks recorded here."""
    searcher = engine.store.searcher()
    clicks = clicks or {}
    corpus = engine.corpus(searcher)
    views, _ = corpus.column("views", translate=True)
    pool = min(limit + len(clicks), corpus.n)
    live_views = np.where(corpus.live, views, -1)
    top = np.argpartition(-live_views, pool - 1)[:pool] if pool else np.zeros(0, dtype=np.int64)
    docs = {d["id"]: d for d in (corpus.stored(int(n)) for n in top if live_views[n] >= 0)}
    for article_id in clicks:
        if article_id not in docs and (num := engine.live_docnum(searcher, article_id)) is not None:
            docs[article_id] = corpus.stored(num)
    # A click recorded here is one more view (each client counted once per window by the query log).
    ranked = sorted(docs.values(), key=lambda d: -(d.get("views", 0) + CLICK_WEIGHT * clicks.get(d["id"], 0)))
    return [
        {**brief(d, ("id", "title", "published", "url")), "views": d.get("views", 0), "clicks": clicks.get(d["id"], 0)}
        for d in ranked[:limit]
    ]
