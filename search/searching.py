"""Searching: a query string and options in, ranked hits with snippets out.

``SearchEngine.search`` reads top to bottom: parse → build the Whoosh query
(relaxing how many words must match when nothing matches) → collect the top
candidates → rank (``search.ranking``) → collapse near-duplicate reprints
(``search.dedup``) → page → snippets (``search.snippets``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from whoosh import query as Q
from whoosh import sorting

from . import ranking
from .articles import SHANGHAI
from .dedup import near_duplicates
from .index import IndexStore
from .query import (
    ParsedQuery,
    Weights,
    build_text_query,
    content_words,
    parse_query,
    phrase_clause,
    title_bigrams,
    word_clause,
)
from .ranking import RankingConfig
from .recovery import Synonyms, Vocabulary, looks_like_pinyin
from .snippets import highlight

SORTS = ("relevance", "date")
CANDIDATES = 200  # top hits re-ranked and collapsed; pages beyond are plain BM25F order


class QueryError(ValueError):
    """A search parameter is invalid; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass
class Hit:
    id: str
    title: str
    url: str
    published: str | None
    source: str
    channel: str
    score: float
    snippet: str = ""
    title_html: str = ""
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    explain: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "source": self.source,
            "channel": self.channel,
            "score": round(self.score, 4),
            "snippet": self.snippet,
            "title_html": self.title_html,
        }
        if self.duplicates:
            data["duplicates"] = self.duplicates
        if self.explain is not None:
            data["explain"] = self.explain
        return data


@dataclass
class SearchResults:
    query: str
    total: int
    page: int
    size: int
    hits: list[Hit]
    took_ms: float = 0.0
    rewritten: str | None = None
    rewrite_reason: str | None = None
    suggestion: str | None = None
    terms: list[str] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"query": self.query}
        if self.rewritten:
            data["rewritten"] = self.rewritten
            data["rewrite_reason"] = self.rewrite_reason
        if self.suggestion:
            data["suggestion"] = self.suggestion
        data.update(
            total=self.total,
            page=self.page,
            size=self.size,
            hits=[h.to_json() for h in self.hits],
            took_ms=round(self.took_ms, 2),
        )
        if self.facets:
            data["facets"] = self.facets
        return data


@dataclass
class Built:
    """A built search: the scoring query, the allow filter, the exclusion mask."""

    query: Q.Query | None
    filter: Q.Query | None
    mask: Q.Query | None
    terms: list[str]
    words: int


def iso(dt: datetime | None) -> str | None:
    """Stored UTC datetimes → Asia/Shanghai ISO strings."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc).astimezone(SHANGHAI).isoformat()


class SearchEngine:
    """Searches one index root; safe to share between threads."""

    def __init__(
        self,
        store: IndexStore,
        config: RankingConfig | None = None,
        snippet_chars: int = 120,
        fragments: int = 2,
        synonyms: Synonyms | None = None,
    ) -> None:
        self.store = store
        self.analyzer = store.analyzer
        self.config = config or RankingConfig()
        self.snippet_chars = snippet_chars
        self.fragments = fragments
        self.synonyms = synonyms or Synonyms.load(self.analyzer.normalizer.text)
        self._vocab: tuple[Any, Vocabulary] | None = None
        self._vocab_lock = threading.Lock()

    # --- the query ---------------------------------------------------------

    def _filters(self, parsed: ParsedQuery, weights: Weights) -> tuple[list[Q.Query], Q.Query | None, Q.Query | None]:
        """Required scoring clauses beyond the free text, the filter and the exclusion mask."""
        a = self.analyzer
        required: list[Q.Query] = []
        allow: list[Q.Query] = []
        for phrase in parsed.phrases:
            clause = phrase_clause(a, phrase, weights)
            if clause is not None:
                required.append(clause)
        for text in parsed.title:
            words = [t.text for t in content_words(a, text)]
            for w in words:
                in_title: list[Q.Query] = [Q.Term("title", w, boost=weights.title)]
                if (grams := title_bigrams(a, w, weights.title)) is not None:
                    in_title.append(grams)
                required.append(Q.Or(in_title))
        for name, values in (("source", parsed.source), ("channel", parsed.channel)):
            if values:
                allow.append(Q.Or([Q.Term(name, v) for v in values]))
        for author in parsed.author:
            allow.append(Q.Term("authors", author.lower()))
        if parsed.after or parsed.before:
            start = parsed.after.astimezone(timezone.utc).replace(tzinfo=None) if parsed.after else None
            end = parsed.before.astimezone(timezone.utc).replace(tzinfo=None) if parsed.before else None
            allow.append(Q.DateRange("published", start, end))
        mask_parts = [c for text in parsed.exclude if (c := self._any_field(text)) is not None]
        allowed = (Q.And(allow) if len(allow) > 1 else allow[0]) if allow else None
        return required, allowed, (Q.Or(mask_parts) if mask_parts else None)

    def _any_field(self, text: str) -> Q.Query | None:
        words = [t.text for t in content_words(self.analyzer, text)]
        if not words:
            return None
        clauses = [word_clause(self.analyzer, w, Weights()) for w in words]
        return Q.And(clauses) if len(clauses) > 1 else clauses[0]

    def build(self, parsed: ParsedQuery, required_words: int | None = None) -> Built:
        """Return the query, filter, mask and highlight terms for a parsed query."""
        weights = self.config.weights
        text_q, words, synonyms = build_text_query(
            self.analyzer, parsed.text, weights, required_words, self.synonyms.of
        )
        required, allowed, mask = self._filters(parsed, weights)
        parts = ([text_q] if text_q is not None else []) + required
        if not parts:
            # Filters alone (channel:体育, after:2024): every article they allow.
            return Built(Q.Every() if allowed is not None else None, allowed, mask, [], len(words))
        main: Q.Query = parts[0] if len(parts) == 1 else Q.And(parts)
        if len(words) > 1:
            # Proximity: the words as written, adjacent, in title or body.
            exact = phrase_clause(self.analyzer, parsed.text.replace(" ", ""), weights, boost=0.5)
            if exact is not None:
                main = Q.AndMaybe(main, exact)
        terms = words + synonyms
        terms += [t.text for p in parsed.phrases + parsed.title for t in self.analyzer.words(p, index=False)]
        return Built(main, allowed, mask, terms, len(words))

    # --- searching ---------------------------------------------------------

    def search(
        self,
        q: str,
        page: int = 1,
        size: int = 10,
        sort: str = "relevance",
        channel: str | None = None,
        source: str | None = None,
        author: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        explain: bool = False,
        facets: bool = False,
        collapse: bool = True,
        snippets: bool = True,
    ) -> SearchResults:
        """Run one search; raise ``QueryError`` for invalid parameters."""
        started = time.perf_counter()
        if page < 1:
            raise QueryError("page", "must be 1 or more")
        if size < 1:
            raise QueryError("size", "must be 1 or more")
        if sort not in SORTS:
            raise QueryError("sort", f"must be one of {', '.join(SORTS)}")
        parsed = parse_query(q or "")
        parsed.channel += [channel] if channel else []
        parsed.source += [source] if source else []
        parsed.author += [author] if author else []
        parsed.after = date_from or parsed.after
        parsed.before = date_to or parsed.before
        results = SearchResults(query=q, total=0, page=page, size=size, hits=[])
        if parsed.is_empty():
            results.took_ms = (time.perf_counter() - started) * 1000
            return results
        searcher = self.store.searcher()
        built, found = self._run(searcher, parsed, sort, page * size)
        if found[2] == 0 or (looks_like_pinyin(parsed.text) and found[2] < 3):
            for text, reason in self._recoveries(searcher, parsed):
                alt_built, alt_found = self._run(searcher, parsed.with_text(text), sort, page * size)
                if alt_found[2] > found[2]:
                    if found[2] == 0 or reason == "pinyin":
                        built, found = alt_built, alt_found
                        results.rewritten, results.rewrite_reason = text, reason
                    else:
                        results.suggestion = text
                    break
        elif parsed.text and self._traditional(parsed.text):
            results.rewritten, results.rewrite_reason = self.analyzer.normalizer.text(parsed.text), "traditional"
        docnums, scores, total = found
        terms = results.terms = built.terms
        ranked = self._rank(searcher, docnums, scores, sort, explain)
        if collapse:
            ranked = self._collapse(searcher, ranked)
        results.total = total - (len(docnums) - len(ranked))
        for docnum, score, dups, parts in ranked[(page - 1) * size : page * size]:
            results.hits.append(self._hit(searcher, docnum, score, dups, parts, terms if snippets else None))
        if facets and built.query is not None:
            results.facets = self._facets(searcher, built)
        results.took_ms = (time.perf_counter() - started) * 1000
        return results

    def _run(
        self, searcher: Any, parsed: ParsedQuery, sort: str, needed: int
    ) -> tuple[Built, tuple[list[int], list[float], int]]:
        """Search; when nothing matches every word, relax to any word."""
        built = self.build(parsed)
        found = self._collect(searcher, built, sort, needed)
        if found[2] == 0 and built.words > 1:
            built = self.build(parsed, required_words=1)
            found = self._collect(searcher, built, sort, needed)
        return built, found

    # --- recovery ----------------------------------------------------------

    def vocabulary(self, searcher: Any | None = None) -> Vocabulary:
        """The pinyin-indexed words of the current index (built once per index version)."""
        searcher = searcher or self.store.searcher()
        key = (self.store.current(), searcher.doc_count_all())
        with self._vocab_lock:
            if self._vocab is None or self._vocab[0] != key:
                self._vocab = (key, Vocabulary.from_reader(searcher.reader()))
            return self._vocab[1]

    def _recoveries(self, searcher: Any, parsed: ParsedQuery) -> list[tuple[str, str]]:
        """Rewrites worth trying when a query finds nothing (or little): pinyin, then homophone typos."""
        text = parsed.text
        if not text:
            return []
        vocab = self.vocabulary(searcher)
        out = []
        if looks_like_pinyin(text) and (chinese := vocab.from_pinyin(text)):
            out.append((chinese, "pinyin"))
        words = [t.text for t in content_words(self.analyzer, text)]
        fixed = [vocab.correct(w) or w for w in words]
        if fixed != words:
            out.append((" ".join(fixed), "spelling"))
        return out

    def _traditional(self, text: str) -> bool:
        t2s = self.analyzer.normalizer.t2s
        return any(ch in t2s and t2s[ch] != ch for ch in text)

    def _collect(self, searcher: Any, built: Built, sort: str, needed: int) -> tuple[list[int], list[float], int]:
        if built.query is None:
            return [], [], 0
        kwargs: dict[str, Any] = {"limit": max(CANDIDATES, needed), "filter": built.filter, "mask": built.mask}
        if sort == "date" or not built.terms:
            kwargs["sortedby"] = sorting.FieldFacet("published", reverse=True)
        res = searcher.search(built.query, **kwargs)
        docnums = [hit.docnum for hit in res]
        # Sorted searches carry the sort key as their score: not a relevance score.
        scores = [0.0 if "sortedby" in kwargs else (hit.score or 0.0) for hit in res]
        return docnums, scores, len(res)

    def _rank(
        self, searcher: Any, docnums: list[int], scores: list[float], sort: str, explain: bool
    ) -> list[tuple[int, float, list[int], dict | None]]:
        now = datetime.now(timezone.utc)
        out = []
        for docnum, bm25 in zip(docnums, scores, strict=False):
            published = (
                searcher.stored_fields(docnum).get("published") if self.config.half_life_days > 0 or explain else None
            )
            score = bm25 if sort == "date" else ranking.final_score(bm25, published, self.config, now)
            parts = ranking.explain(bm25, published, self.config, now) if explain else None
            out.append((docnum, score, [], parts))
        if sort != "date":
            out.sort(key=lambda item: -item[1])
        return out

    def _collapse(self, searcher: Any, ranked: list) -> list:
        """Fold reprints of one story into the best-ranked copy."""
        kept: list = []
        signatures: list[int | None] = []
        for docnum, score, dups, parts in ranked:
            sig = searcher.stored_fields(docnum).get("signature")
            for i, other in enumerate(signatures):
                if near_duplicates(sig, other):
                    kept[i][2].append(docnum)
                    break
            else:
                kept.append((docnum, score, dups, parts))
                signatures.append(sig)
        return kept

    def _hit(
        self, searcher: Any, docnum: int, score: float, dups: list[int], parts: dict | None, terms: list[str] | None
    ) -> Hit:
        doc = searcher.stored_fields(docnum)
        if terms is None:  # no snippets wanted (evaluation, exports)
            return Hit(
                doc["id"],
                doc.get("title", ""),
                doc.get("url", ""),
                iso(doc.get("published")),
                doc.get("source", ""),
                doc.get("channel", ""),
                score,
            )
        normalize = self.analyzer.normalizer
        body = doc.get("body", "")
        lead = doc.get("lead") or (doc.get("extra") or {}).get("derived_lead", "")
        snippet = highlight(body, terms, normalize, self.snippet_chars, self.fragments, fallback=lead)
        title = doc.get("title", "")
        title_html = highlight(title, terms, normalize, max(len(title), 1), 1) if title else ""
        duplicates = []
        for other in dups:
            d = searcher.stored_fields(other)
            duplicates.append(
                {
                    "id": d["id"],
                    "title": d.get("title", ""),
                    "source": d.get("source", ""),
                    "url": d.get("url", ""),
                    "published": iso(d.get("published")),
                }
            )
        return Hit(
            id=doc["id"],
            title=title,
            url=doc.get("url", ""),
            published=iso(doc.get("published")),
            source=doc.get("source", ""),
            channel=doc.get("channel", ""),
            score=score,
            snippet=snippet,
            title_html=title_html,
            duplicates=duplicates,
            explain=parts,
        )

    def _facets(self, searcher: Any, built: Built) -> dict[str, dict[str, int]]:
        facet_map = {
            "channel": sorting.FieldFacet("channel"),
            "source": sorting.FieldFacet("source"),
            "year": sorting.FieldFacet("year"),
        }
        res = searcher.search(
            built.query, limit=1, filter=built.filter, mask=built.mask, groupedby=facet_map, maptype=sorting.Count
        )
        out: dict[str, dict[str, int]] = {}
        for name in facet_map:
            groups = res.groups(name)
            items = sorted(
                ((str(k), v) for k, v in groups.items() if k not in (None, "")), key=lambda kv: (-kv[1], kv[0])
            )
            out[name] = dict(items[:20])
        return out

    # --- articles ----------------------------------------------------------

    def article(self, article_id: str) -> dict[str, Any] | None:
        """Return the stored article with this id, or None."""
        searcher = self.store.searcher()
        docnum = searcher.document_number(id=article_id)
        if docnum is None or searcher.reader().is_deleted(docnum):
            return None
        doc = dict(searcher.stored_fields(docnum))
        doc["published"] = iso(doc.get("published"))
        doc.pop("signature", None)
        extra = doc.pop("extra", None) or {}
        doc["summary"] = doc.get("lead") or extra.get("derived_lead", "")
        doc.setdefault("lead", "")
        return doc
