"""Query understanding: the search-box string → a ``ParsedQuery`` → Whoosh queries.

Syntax readers know from other engines, all optional and forgiving:

* ``"exact phrase"`` (also full-width quotes “…” and 「…」), positions must line up;
* ``-word`` / ``-"phrase"`` excludes;
* ``title:`` ``source:`` ``author:`` ``channel:`` filters (``来源:`` ``作者:``
  ``栏目:`` ``标题:`` too), ``after:2020-01-01`` and ``before:2021-12-31``.

Malformed syntax never fails: an unbalanced quote closes at the end, a lone
``-`` or an empty ``title:`` is dropped, an unparseable date becomes text.

``build_text_query`` turns the free text into word evidence (jieba words in
title, lead, body and meta) and bigram evidence (character bigram phrases in
title and body) in one Whoosh query. Each query word matches through either,
so a segmentation mismatch never dead-ends a query; ``min_match`` relaxes
how many words must match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from whoosh import query as Q

from .analysis import Analyzer, Tok
from .articles import SHANGHAI, parse_published

FIELD_ALIASES = {
    "title": "title",
    "标题": "title",
    "source": "source",
    "来源": "source",
    "author": "author",
    "作者": "author",
    "channel": "channel",
    "栏目": "channel",
    "频道": "channel",
    "after": "after",
    "from": "after",
    "before": "before",
    "to": "before",
}
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "＂": '"', "『": '"', "』": '"'})
_TOKEN = re.compile(
    r'(?P<neg>[-－]?)(?:(?P<field>[A-Za-z\u4e00-\u9fff]{2,7})[:：])?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))'
)


@dataclass
class ParsedQuery:
    """What the reader asked for, syntax removed."""

    text: str = ""
    phrases: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    title: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    channel: list[str] = field(default_factory=list)
    after: datetime | None = None
    before: datetime | None = None

    @property
    def positive_text(self) -> str:
        """All text that should match: free words, phrases and title words."""
        return " ".join([self.text, *self.phrases, *self.title]).strip()

    def is_empty(self) -> bool:
        return not (self.positive_text or self.source or self.author or self.channel or self.after or self.before)

    def with_text(self, text: str) -> ParsedQuery:
        return replace(self, text=text)


def parse_date_bound(value: str, end: bool = False) -> datetime | None:
    """``2020``, ``2020-05`` or a full date → aware datetime; None if unparseable."""
    value = value.strip()
    try:
        if re.fullmatch(r"\d{4}", value):
            dt = datetime(int(value) + end, 1, 1, tzinfo=SHANGHAI)
            return dt - timedelta(microseconds=1) if end else dt
        if m := re.fullmatch(r"(\d{4})[-/.年](\d{1,2})月?", value):
            y, mo = int(m.group(1)), int(m.group(2))
            dt = datetime(y + (mo == 12 and end), (mo % 12) + 1 if end else mo, 1, tzinfo=SHANGHAI)
            return dt - timedelta(microseconds=1) if end else dt
        dt = parse_published(value)
    except ValueError:
        return None
    if dt is not None and end and (dt.hour, dt.minute, dt.second) == (0, 0, 0):
        dt = dt + timedelta(days=1) - timedelta(microseconds=1)
    return dt


def parse_query(raw: str) -> ParsedQuery:
    """Parse search-box syntax; never raises."""
    text = raw.translate(_QUOTES)
    if text.count('"') % 2:
        # An unbalanced quote is a typo, not a phrase to the end of the box.
        cut = text.rfind('"')
        text = text[:cut] + " " + text[cut + 1 :]
    parsed = ParsedQuery()
    words: list[str] = []
    for m in _TOKEN.finditer(text):
        neg = bool(m.group("neg"))
        fname = FIELD_ALIASES.get((m.group("field") or "").lower())
        value = m.group("phrase") if m.group("phrase") is not None else m.group("word")
        value = (value or "").strip()
        if m.group("field") and not fname:
            # "foo:bar" with an unknown field name is plain text.
            value = f"{m.group('field')}:{value}" if value else m.group("field")
        if not value:
            continue
        if fname in ("after", "before"):
            bound = parse_date_bound(value, end=fname == "before")
            if bound is None:
                words.append(value)
            elif fname == "after":
                parsed.after = bound
            else:
                parsed.before = bound
        elif neg:
            parsed.exclude.append(value)
        elif fname:
            getattr(parsed, fname).append(value)
        elif m.group("phrase") is not None:
            parsed.phrases.append(value)
        else:
            words.append(value)
    parsed.text = " ".join(w for w in words if w.strip("-－"))
    return parsed


# --- building Whoosh queries -------------------------------------------------


@dataclass(frozen=True)
class Weights:
    title: float = 3.0
    lead: float = 1.6
    body: float = 1.0
    meta: float = 1.2
    bigram: float = 0.6


def content_words(analyzer: Analyzer, text: str) -> list[Tok]:
    """Query words, stop words removed unless nothing else is left."""
    toks = analyzer.words(text, index=False)
    content = [t for t in toks if not analyzer.is_stopword(t.text)]
    return content or toks


def _bigram_clause(analyzer: Analyzer, fieldname: str, word: str, boost: float) -> Q.Query | None:
    grams = [t.text for t in analyzer.bigrams(word)]
    if not grams:
        return None
    if len(grams) == 1:
        gram = grams[0]
        if len(gram) == 1 and not gram.isascii():
            return Q.Prefix(fieldname, gram, boost=boost)  # one character: any bigram starting with it
        return Q.Term(fieldname, gram, boost=boost)
    # A phrase scores the sum of its bigrams: average them, so a long word's
    # bigram evidence weighs like one word, not like one per character.
    return Q.Phrase(fieldname, grams, boost=boost / len(grams))


SYNONYM_FACTOR = 0.8


def _word_parts(analyzer: Analyzer, word: str, weights: Weights, factor: float = 1.0) -> list[Q.Query]:
    parts: list[Q.Query] = []
    tokens = [t.text for t in analyzer.words(word, index=False)]
    fields = (("title", weights.title), ("lead", weights.lead), ("body", weights.body), ("meta", weights.meta))
    if len(tokens) == 1:
        parts += [Q.Term(name, word, boost=w * factor) for name, w in fields]
    elif tokens:  # a multi-word synonym (新型冠状病毒): its words in a row
        parts += [Q.Phrase(name, tokens, boost=w * factor / len(tokens)) for name, w in fields]
    for fieldname, w in (("title_bg", weights.title * weights.bigram), ("body_bg", weights.body * weights.bigram)):
        clause = _bigram_clause(analyzer, fieldname, word, w * factor)
        if clause is not None:
            parts.append(clause)
    return parts


def word_clause(analyzer: Analyzer, word: str, weights: Weights, synonyms: Iterable[str] = ()) -> Q.Query:
    """Evidence that one query word occurs: as a word in any field, as bigrams, or as a synonym."""
    parts = _word_parts(analyzer, word, weights)
    for other in minimal_alternatives(word, synonyms):
        parts += _word_parts(analyzer, other, weights, SYNONYM_FACTOR)
    return Q.Or(parts)


def minimal_alternatives(word: str, synonyms: Iterable[str]) -> list[str]:
    """Synonyms that do not contain the word or another synonym.

    新冠肺炎 contains 新冠: its text is already found through 新冠's bigrams, and
    scoring both would count one mention twice.
    """
    kept: list[str] = []
    for s in sorted(set(synonyms), key=len):
        if word not in s and not any(k in s for k in kept):
            kept.append(s)
    return kept


def title_bigrams(analyzer: Analyzer, word: str, boost: float) -> Q.Query | None:
    """The word's characters in order in the title."""
    return _bigram_clause(analyzer, "title_bg", word, boost)


def phrase_clause(analyzer: Analyzer, text: str, weights: Weights | None = None, boost: float = 1.0) -> Q.Query | None:
    """Exact phrase: the characters in order (bigram positions) in title or body."""
    weights = weights or Weights()
    parts = [
        c
        for fieldname, w in (("title_bg", weights.title), ("body_bg", weights.body))
        if (c := _bigram_clause(analyzer, fieldname, text, w * boost)) is not None
    ]
    if not parts:
        return None
    return Q.Or(parts) if len(parts) > 1 else parts[0]


def min_match(n: int) -> int:
    """How many of ``n`` query words must match: all of up to 3, then 75%."""
    return n if n <= 3 else max(3, math.ceil(n * 0.75))


def build_text_query(
    analyzer: Analyzer,
    text: str,
    weights: Weights,
    required: int | None = None,
    synonyms: Callable[[str], list[str]] | None = None,
) -> tuple[Q.Query | None, list[str], list[str]]:
    """Return (query over the free text, the query words, the synonyms added)."""
    words = list(dict.fromkeys(t.text for t in content_words(analyzer, text)))
    if not words:
        return None, [], []
    added: list[str] = []
    clauses = []
    for w in words:
        alternatives = synonyms(w) if synonyms else []
        added += alternatives
        clauses.append(word_clause(analyzer, w, weights, alternatives))
    need = min_match(len(words)) if required is None else max(1, min(required, len(words)))
    if len(clauses) == 1:
        main: Q.Query = clauses[0]
    elif need >= len(clauses):
        main = Q.And(clauses)
    else:
        main = Q.Or(clauses, minmatch=need)
    return main, words, added
