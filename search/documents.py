"""Articles → documents: what an article contributes to each field of the index.

``Documents`` is the one place that decides it: the analysed title, lead
and body (word counts) and their bigrams (the title's with positions), the meta field of
source, channel, authors and tags, the derived lead for articles without
核心提示, the near-duplicate signature, and the normalized title and body
that ranking's query-as-written boost reads. It runs in the writer
processes (``search.writers``) and is picklable for them.
"""

from __future__ import annotations

import re
from datetime import timezone
from typing import Any

from .analysis import Analyzer
from .articles import Article, author_names
from .dedup import signature
from .ranking import key_text
from .schema import Postings, bind_schema, build_schema

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
DERIVED_LEAD_CHARS = 120


def derive_lead(article: Article) -> str:
    """Return the 核心提示, or the opening sentences of the body (inverted pyramid)."""
    if article.lead:
        return article.lead
    first = article.body.split("\n", 1)[0] if article.body else ""
    lead = ""
    for sentence in _SENTENCE_END.split(first):
        if lead and len(lead) + len(sentence) > DERIVED_LEAD_CHARS:
            break
        lead += sentence
    return lead[: DERIVED_LEAD_CHARS * 2]


class Documents:
    """Articles → keyword arguments for ``writer.add_document`` (picklable for workers)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.schema = build_schema()
        bind_schema(self.schema, analyzer)

    def __call__(self, article: Article) -> dict[str, Any]:
        a = self.analyzer
        schema = self.schema
        lead = derive_lead(article)
        names = author_names(article.authors)
        meta_text = " ".join([article.source, article.channel, *names, *article.tags])

        norm_title = a.normalizer(article.title)
        norm_lead = a.normalizer(lead)
        norm_body = a.normalizer(article.body)
        # Bigrams of the 核心提示 count with the body's; a derived lead is the body's own opening.
        lead_body = f"{article.lead}\n{article.body}" if article.lead else article.body
        norm_lead_body = a.normalizer(lead_body) if article.lead else norm_body
        published = article.published.astimezone(timezone.utc).replace(tzinfo=None) if article.published else None
        doc: dict[str, Any] = {
            "id": article.id,
            "url": article.url,
            "title": schema["title"].counted(a.word_counts(article.title, norm=norm_title)),
            "lead": schema["lead"].counted(a.word_counts(lead, norm=norm_lead)),
            "body": schema["body"].counted(a.word_counts(article.body, norm=norm_body)),
            "meta": schema["meta"].counted(a.word_counts(meta_text)) if meta_text else Postings(),
            "title_bg": schema["title_bg"].positioned(a.bigram_positions(article.title, norm=norm_title)),
            "body_bg": schema["body_bg"].counted(a.bigram_counts(lead_body, norm=norm_lead_body)),
            "_stored_title": article.title,
            "_stored_lead": article.lead,
            "_stored_body": article.body,
            "source": article.source,
            "channel": article.channel,
            "views": article.views,
            "pages": [[p.title, len(p.text)] for p in article.pages] if len(article.pages) > 1 else None,
            "extra": {"derived_lead": lead} if not article.lead and lead else None,
            "signature": signature(norm_title[0] + "\n" + norm_body[0]),
            "title_text": key_text(norm_title[0]).encode("utf-8"),
            "body_text": norm_body[0].encode("utf-8"),
        }
        if names:
            doc["authors"] = ",".join(n.lower() for n in names)
        if article.tags:
            doc["tags"] = ",".join(t.replace(",", " ") for t in article.tags)
        if published is not None:
            doc["published"] = published
            doc["year"] = article.published.year  # type: ignore[union-attr]
        doc["_stored_authors"] = article.authors
        doc["_stored_tags"] = article.tags
        # Stored originals stay even when empty: without them Whoosh would store the postings.
        return {k: v for k, v in doc.items() if v is not None and (v != "" or k.startswith("_stored_"))}
