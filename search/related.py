"""Related articles (相关内容): more-like-this over the same analysis.

``related(engine, id)`` reads top to bottom: the article's key terms (its
words weighted by tf·idf, title words counted twice) → one weighted OR query
→ candidates → optional channel and date priors (off: see docs/ranking.md) →
drop the article itself and its near-duplicate reprints.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from datetime import datetime
from typing import Any

import numpy as np
from whoosh import query as Q

from .dedup import near_duplicates
from .searching import SearchEngine, iso

KEY_TERMS = 12
# Tuned with eval-related on related-dev (docs/ranking.md): the channel and date priors cost
# on-topic@5 there (a topic spans years and channels), so both are off; idf^0.5 in the
# key-term weights (BM25 already weighs each term by its idf) gained 0.02.
SAME_CHANNEL = 1.0
DATE_SCALE_DAYS = 0.0  # 0: no date prior
CLICK_WEIGHT = 1  # a click recorded here counts as one view (once per client per window: search.querylog)
TITLE_BOOST = 2.0
TITLE_TIMES = 2  # a title word counts as this many mentions
IDF_POWER = 0.5
POOL_FACTOR = 6


def key_terms(
    engine: SearchEngine, searcher: Any, doc: dict[str, Any], top: int | None = None
) -> list[tuple[str, float]]:
    """The article's most characteristic words with their tf·idf weights."""
    top = top or KEY_TERMS
    a = engine.analyzer
    counts: Counter[str] = Counter()
    for text, times in ((doc.get("title", ""), TITLE_TIMES), (doc.get("lead", ""), 1), (doc.get("body", ""), 1)):
        for tok in a.words(text, index=False):
            word = tok.text
            if len(word) >= 2 and not a.is_stopword(word) and not word.isdigit():
                counts[word] += times
    n = max(searcher.doc_count(), 1)
    scored = []
    for word, tf in counts.items():
        df = searcher.doc_frequency("body", word) + searcher.doc_frequency("title", word)
        if df <= 0:
            continue
        scored.append((word, (1 + math.log(tf)) * math.log(1 + n / df) ** IDF_POWER))
    scored.sort(key=lambda item: -item[1])
    return scored[:top]


def _date(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


_ANSWERS: OrderedDict[tuple, list[dict[str, Any]] | None] = OrderedDict()
_ANSWERS_LOCK = threading.Lock()
ANSWERS_KEPT = 2048  # related boxes kept per process (~1 KB each), for the index version they were made from


def related(engine: SearchEngine, article_id: str, limit: int = 5) -> list[dict[str, Any]] | None:
    """Return up to ``limit`` related articles, or None when the id is unknown.

    A box is kept (bounded, least recently used first out) for the index version it was made
    from: a popular article's box is asked for on every view of it, and finding it scores every
    article holding one of its key terms through Whoosh's matchers (~0.1-0.6 s on xwlb).
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
    docnum = searcher.document_number(id=article_id)
    if docnum is None or searcher.reader().is_deleted(docnum):
        return None
    doc = searcher.stored_fields(docnum)
    terms = key_terms(engine, searcher, doc)
    if not terms:
        return []
    query = Q.Or([Q.Or([Q.Term("title", w, boost=TITLE_BOOST * wt), Q.Term("body", w, boost=wt)]) for w, wt in terms])
    results = searcher.search(query, limit=limit * POOL_FACTOR + 10, mask=Q.Term("id", article_id))
    corpus = engine.corpus(searcher)
    channel, published, signature = doc.get("channel"), _date(doc.get("published")), corpus.value("signature", docnum)
    candidates = []
    for hit in results:
        other = searcher.stored_fields(hit.docnum)
        if near_duplicates(signature, corpus.value("signature", hit.docnum)):
            continue
        score = hit.score or 0.0
        if channel and other.get("channel") == channel:
            score *= SAME_CHANNEL
        when = _date(other.get("published"))
        if published and when and DATE_SCALE_DAYS > 0:
            score *= 1.0 / (1.0 + abs((published - when).days) / DATE_SCALE_DAYS)
        candidates.append((score, other))
    candidates.sort(key=lambda item: -item[0])
    out = []
    for score, other in candidates[:limit]:
        summary = other.get("lead") or (other.get("extra") or {}).get("derived_lead") or other.get("body", "")[:80]
        out.append(
            {
                "id": other["id"],
                "title": other.get("title", ""),
                "summary": summary[:100],
                "published": iso(other.get("published")),
                "url": other.get("url", ""),
                "source": other.get("source", ""),
                "score": round(score, 4),
            }
        )
    return out


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
        if article_id not in docs and (num := searcher.document_number(id=article_id)) is not None:
            docs[article_id] = corpus.stored(num)
    # A click recorded here is one more view (each client counted once per window by the query log).
    ranked = sorted(docs.values(), key=lambda d: -(d.get("views", 0) + CLICK_WEIGHT * clicks.get(d["id"], 0)))
    return [
        {
            "id": d["id"],
            "title": d.get("title", ""),
            "views": d.get("views", 0),
            "clicks": clicks.get(d["id"], 0),
            "published": iso(d.get("published")),
            "url": d.get("url", ""),
        }
        for d in ranked[:limit]
    ]
