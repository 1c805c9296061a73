"""Hits: a ranked document made into what a reader sees, and the results of one search.

``make_hit`` projects a document's stored fields (``brief`` for the short
form lists use, ``lead_of`` for its lead) and makes its snippets
(``search.snippets.highlight``) on the index's normalized texts;
``SearchResults`` carries the page with what the engine did to the query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .articles import SHANGHAI
from .scoring import Corpus
from .snippets import highlight


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
    relaxed: bool = False  # no hit matches enough of the words: an any-word (or partial-word) answer
    # The articles found hold too little of the query to be an answer (see ``candidates.weak``):
    # a reader is told nothing matched. ``missing``: the query words no article holds (partial answers).
    weak: bool = False
    missing: list[str] = field(default_factory=list)
    inexact: list[str] = field(default_factory=list)  # quoted phrases that found nothing (or little) as written
    inexact_total: int = 0  # how many documents hold them as written (listed first)

    @property
    def inexact_notice(self) -> str | None:
        """What to tell the reader when quoted phrases were relaxed to their words."""
        if not self.inexact:
            return None
        quoted = "、".join(f"“{p}”" for p in self.inexact)
        if self.inexact_total:
            n = self.inexact_total
            return f"only {n} exact match{'es' if n > 1 else ''} for {quoted}, also showing results without quotes"
        return f"no exact match for {quoted}, showing results without quotes"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"query": self.query}
        if self.rewritten:
            data["rewritten"] = self.rewritten
            data["rewrite_reason"] = self.rewrite_reason
        if self.suggestion:
            data["suggestion"] = self.suggestion
        if self.weak:
            data["weak"] = True
        if self.missing:
            data["missing"] = self.missing
        if self.inexact:
            data["inexact"] = self.inexact
            data["inexact_total"] = self.inexact_total
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


@dataclass(frozen=True)
class SnippetOptions:
    """How snippets are made: the index's text normalizer, characters a fragment, fragments a snippet."""

    normalizer: Callable[[str], tuple[str, list[int] | None]]
    chars: int = 120
    fragments: int = 2


@lru_cache(maxsize=4096)
def iso(dt: datetime | None) -> str | None:
    """Stored UTC datetimes → Asia/Shanghai ISO strings (news is published at few distinct times: cached)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc).astimezone(SHANGHAI).isoformat()


BRIEF = ("id", "title", "published", "source", "url")


def brief(doc: dict[str, Any], names: tuple[str, ...] = BRIEF) -> dict[str, Any]:
    """A stored article as the API lists it: ``names`` of its fields, ``published`` as a Shanghai ISO string."""
    return {name: iso(doc.get(name)) if name == "published" else doc.get(name, "") for name in names}


def lead_of(doc: dict[str, Any]) -> str:
    """The article's lead (核心提示), or the opening derived from its body at index time."""
    return doc.get("lead") or (doc.get("extra") or {}).get("derived_lead", "")


def make_hit(
    corpus: Corpus,
    docnum: int,
    score: float,
    dups: list[int],
    parts: dict | None,
    terms: list[str] | None,
    snippets: SnippetOptions,
) -> Hit:
    """One hit: its stored fields, with snippets of ``terms`` (None: no snippets) and its folded reprints."""
    stored = corpus.document(docnum)
    doc = stored.fields
    hit = Hit(
        id=doc["id"],
        title=doc.get("title", ""),
        url=doc.get("url", ""),
        published=iso(doc.get("published")),
        source=doc.get("source", ""),
        channel=doc.get("channel", ""),
        score=score,
        explain=parts,
    )
    if terms is None:  # no snippets wanted (evaluation, exports)
        return hit
    normalizer = snippets.normalizer

    def normalize(text: str) -> tuple[str, list[int] | None]:
        # the title's and body's normalized texts are kept with the cached document;
        # the index holds the body's (the proximity boost reads it)
        if text is doc.get("body"):
            return stored.normalized("body", lambda body: corpus.normalized_from("body_text", docnum, body, normalizer))
        if text is doc.get("title"):
            return stored.normalized("title", normalizer)
        return normalizer(text)

    hit.snippet = highlight(
        doc.get("body", ""), terms, normalize, snippets.chars, snippets.fragments, fallback=lead_of(doc)
    )
    hit.title_html = highlight(hit.title, terms, normalize, max(len(hit.title), 1), 1) if hit.title else ""
    hit.duplicates = [brief(corpus.stored(other)) for other in dups]
    return hit
