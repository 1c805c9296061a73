"""Planning: a ``ParsedQuery`` made ready to score and filter (a ``Plan``).

The free text becomes word plans (``words.word_plans``: each word's evidence
in the fields, with synonyms), explicit phrases and ``title:`` words become
required clauses, ``source:``/``channel:``/``author:`` and dates a filter,
``-word``/``-"phrase"`` exclusions, and quoted runs inside a longer query
preferred phrases (emphasis).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone

from whoosh import query as Q

from .analysis import Analyzer
from .query import ParsedQuery
from .ranking import Weights
from .words import WordPlan, content_words, phrase_clause, word_plan, word_plans


@dataclass
class Plan:
    """A parsed query made ready to score: words, required sets, filter and mask."""

    words: list[WordPlan]
    terms: list[str]
    required: list[Q.Query]
    required_words: list[WordPlan]
    allowed: Q.Query | None
    exclude: list[list[WordPlan]]
    text: str
    preferred: list[Q.Query] = field(default_factory=list)  # phrases documents should hold (emphasis)
    strict_preference: bool = False  # those holding them come first (a relaxed explicit phrase)
    exclude_phrases: list[Q.Query] = field(default_factory=list)  # -"短语": the characters in order, anywhere


def make_plan(
    analyzer: Analyzer, parsed: ParsedQuery, weights: Weights, synonyms: Callable[[str], list[str]] | None = None
) -> Plan:
    """Turn a parsed query into what scoring and filtering need (``synonyms``: a word's others, ``Synonyms.of``)."""
    a = analyzer
    words, synonyms_used = word_plans(a, parsed.text, weights, synonyms)
    required: list[Q.Query] = []
    required_words: list[WordPlan] = []
    terms = [w.word for w in words if w.counts] + synonyms_used
    for phrase in parsed.phrases:
        if (clause := phrase_clause(a, phrase, weights)) is not None:
            required.append(clause)
            phrase_words, _ = word_plans(a, phrase, weights)
            words += phrase_words
            terms.append(a.normalizer.text(phrase))
    for text in parsed.title:
        for tok in content_words(a, text):
            plan = word_plan(a, tok.text, Weights(title=weights.title, lead=0, body=0, meta=0, bigram=weights.bigram))
            plan.sources = [s for s in plan.sources if s.field in ("title", "title_bg")]
            required_words.append(plan)
            words.append(plan)
            terms.append(tok.text)
    allow: list[Q.Query] = []
    for name, values in (("source", parsed.source), ("channel", parsed.channel)):
        if values:
            allow.append(Q.Or([Q.Term(name, v) for v in values]))
    for author in parsed.author:
        allow.append(Q.Term("authors", author.lower()))
    if parsed.after or parsed.before:
        start = parsed.after.astimezone(timezone.utc).replace(tzinfo=None) if parsed.after else None
        end = parsed.before.astimezone(timezone.utc).replace(tzinfo=None) if parsed.before else None
        allow.append(Q.DateRange("published", start, end))
    allowed = (Q.And(allow) if len(allow) > 1 else allow[0]) if allow else None
    exclude = [word_plans(a, text, weights)[0] for text in parsed.exclude]
    preferred = [c for text in parsed.emphasis if (c := phrase_clause(a, text, weights)) is not None]
    exclude_phrases = [c for text in parsed.exclude if (c := phrase_clause(a, text, weights)) is not None]
    return Plan(
        words,
        terms,
        required,
        required_words,
        allowed,
        [e for e in exclude if e],
        parsed.text,
        preferred,
        exclude_phrases=exclude_phrases,
    )
