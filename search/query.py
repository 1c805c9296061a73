"""Query understanding: the search-box string → a ``ParsedQuery`` → Whoosh queries.

Syntax readers know from other engines, all optional and forgiving:

* ``"exact phrase"`` (also “…” and 「…」 when they are the whole query), positions must line up;
  typographic quotes inside a longer query (a pasted headline) are emphasis, see ``_emphasis``;
* ``-word`` / ``-"phrase"`` excludes;
* ``title:`` ``source:`` ``author:`` ``channel:`` filters (``来源:`` ``作者:``
  ``栏目:`` ``标题:`` too), ``after:2020-01-01`` and ``before:2021-12-31``.

Malformed syntax never fails: an unbalanced quote closes at the end, a lone
``-`` or an empty ``title:`` is dropped, an unparseable date becomes text.

``word_plans`` turns the free text into word evidence (jieba words in title,
lead, body and meta) and bigram evidence (character bigrams in title and
body), one ``WordPlan`` a word that the scorer reads as postings. Each query
word matches through either, so a segmentation mismatch never dead-ends a
query; ``min_match`` relaxes how many words must match. ``phrase_clause``
makes the Whoosh query of an exact phrase (filters and phrases stay Whoosh
queries).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from whoosh import query as Q
from whoosh.query.spans import SpanNear

from .analysis import Analyzer, Tok
from .articles import MAX_YEAR, MIN_YEAR, SHANGHAI, parse_published
from .ranking import (
    JUNCTION_WEIGHT,
    LATIN_PREFIX_WEIGHT,
    PARTIAL_WEIGHT,
    SINGLE_CHAR_FACTOR,
    SUBWORD_WEIGHT,
    SYNONYM_FACTOR,
    Weights,
)


@dataclass(frozen=True)
class Source:
    """One place a query word's evidence comes from.

    ``terms`` of one item is a term; several items are the bigrams of a word,
    all of which must occur (their smallest frequency counts).
    """

    field: str
    terms: tuple[str, ...]
    weight: float
    prefix: bool = False
    partial: bool = False  # evidence of part of the word: scores, but does not make the word "matched"


@dataclass
class WordPlan:
    """One query word's evidence: the sources the scorer reads as postings (``search.scoring``)."""

    word: str
    sources: list[Source] = field(default_factory=list)
    counts: bool = True  # False: ranking evidence only, not a word that must match


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
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "＂": '"', "『": '"', "』": '"', "‘": '"', "’": '"'})
# Typographic quote pairs: emphasis inside a longer query (a pasted headline), a phrase when they are the query.
_TYPOGRAPHIC = re.compile(r"“([^“”\"]*)”|「([^「」\"]*)」|『([^『』\"]*)』|‘([^‘’\"]*)’")
# An apostrophe between letters is pinyin's syllable separator or an English one (chang’e, xi'an, don't), not a quote.
_APOSTROPHE = re.compile(r"(?<=[A-Za-z])[’‘`´](?=[A-Za-z])")
_PLAIN = re.compile(r"[\w\u3400-\u9fff]")
_EMPTY_FIELD = re.compile(r"[A-Za-z\u4e00-\u9fff]{2,7}[:：]")
_TOKEN = re.compile(
    r'(?P<neg>[-－]?)(?:(?P<field>[A-Za-z\u4e00-\u9fff]{2,7})[:：])?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))'
)


@dataclass
class ParsedQuery:
    """What the reader asked for, syntax removed."""

    text: str = ""
    phrases: list[str] = field(default_factory=list)
    emphasis: list[str] = field(default_factory=list)  # quoted runs of a longer query: preferred, not required
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

    def without_quotes(self) -> ParsedQuery:
        """The explicit phrases as plain words, preferred but not required (the fallback when they find little)."""
        return replace(
            self, text=" ".join([self.text, *self.phrases]).strip(), phrases=[], emphasis=self.emphasis + self.phrases
        )


def parse_date_bound(value: str, end: bool = False) -> datetime | None:
    """``2020``, ``2020-05`` or a full date → aware datetime; None if unparseable.

    A well-formed date outside 1900–2100 is clamped to that range (no article
    lies outside it), so ``from=0187-10-28`` means "from the start"; the year
    must have four digits.
    """
    value = value.strip()
    year = re.match(r"\d{1,4}", value)
    if year is None:
        return None
    number = int(year.group(0))
    if not MIN_YEAR <= number <= MAX_YEAR:
        if (
            len(year.group(0)) != 4 or parse_date_bound("2000" + value[year.end() :], end) is None
        ):  # 2000: a leap year, any day is valid
            return None
        if number < MIN_YEAR:
            return datetime(MIN_YEAR, 1, 1, tzinfo=SHANGHAI)
        return datetime(MAX_YEAR + 1, 1, 1, tzinfo=SHANGHAI) - timedelta(microseconds=1)
    try:
        if re.fullmatch(r"\d{4}", value):
            dt = datetime(int(value) + end, 1, 1, tzinfo=SHANGHAI)
            return dt - timedelta(microseconds=1) if end else dt
        if m := re.fullmatch(r"(\d{4})[-/.年](\d{1,2})月?", value):
            y, mo = int(m.group(1)), int(m.group(2))
            dt = datetime(y + (mo == 12 and end), (mo % 12) + 1 if end else mo, 1, tzinfo=SHANGHAI)
            return dt - timedelta(microseconds=1) if end else dt
        dt = parse_published(value)
    except (ValueError, OverflowError):
        return None
    if dt is not None and end and (dt.hour, dt.minute, dt.second) == (0, 0, 0):
        dt = dt + timedelta(days=1) - timedelta(microseconds=1)
    return dt


MAX_WORDS = 64  # distinct words scored; a longer query is cut there
MAX_CLAUSES = 8  # phrases, title words and values per filter


def bound_query(parsed: ParsedQuery) -> ParsedQuery:
    """Cut a hostile query down to what a reader could mean (bounded work per search)."""
    words = parsed.text.split()
    parsed.text = " ".join(list(dict.fromkeys(words))[:MAX_WORDS])[:1000]
    for name in ("phrases", "emphasis", "exclude", "title", "source", "author", "channel"):
        values = list(dict.fromkeys(v[:100] for v in getattr(parsed, name)))
        setattr(parsed, name, values[:MAX_CLAUSES])
    return parsed


def _emphasis(raw: str) -> tuple[str, list[str]]:
    """Typographic quotes inside a longer query → (the query with them as spaces, the quoted runs).

    Headlines wrap coined terms and slogans in “…” for emphasis, and the article
    often words them differently: such a run is a preference, never a filter.
    A query that is only quoted runs (``“一房难求”``) keeps them as phrases.
    """
    # A run after ``-`` or ``field:`` is syntax (an excluded phrase, a field's value): left as it is.
    runs = [m for m in _TYPOGRAPHIC.finditer(raw) if not raw[: m.start()].endswith(("-", "－", ":", "："))]
    if not runs:
        return raw, []
    rest = _TYPOGRAPHIC.sub(" ", raw)
    if not _PLAIN.search(re.sub(r"(?:^|\s)[-－]?[A-Za-z\u4e00-\u9fff]{2,7}[:：]\S*", " ", rest)):
        return raw, []  # the quotes are the query (beside filters): an explicit phrase
    out, found, at = [], [], 0
    for m in runs:
        inner = next(x for x in m.groups() if x is not None)
        out += [raw[at : m.start()], " ", inner, " "]
        at = m.end()
        if inner.strip():
            found.append(inner.strip())
    return "".join(out) + raw[at:], found


def parse_query(raw: str) -> ParsedQuery:
    """Parse search-box syntax; never raises."""
    raw, emphasis = _emphasis(_APOSTROPHE.sub("'", raw))
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
        if not value or _EMPTY_FIELD.fullmatch(value) and FIELD_ALIASES.get(value[:-1].lower()):
            continue  # an empty ``title:`` (a pasted label with nothing after it) says nothing
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
    parsed.emphasis = emphasis
    return parsed


# --- building Whoosh queries -------------------------------------------------


def content_words(analyzer: Analyzer, text: str) -> list[Tok]:
    """Query words, stop words removed unless nothing else is left."""
    toks = analyzer.words(text, index=False)
    content = [t for t in toks if not analyzer.is_stopword(t.text)]
    return content or toks


class _Near(SpanNear):
    """Whoosh's ``SpanNear`` with the size estimate an ``And`` / ``Or`` asks its children for."""

    def estimate_size(self, ixreader: object) -> int:
        return min(self.a.estimate_size(ixreader), self.b.estimate_size(ixreader))

    def estimate_min_size(self, ixreader: object) -> int:
        return 0


def _bigram_clause(
    analyzer: Analyzer, fieldname: str, word: str, boost: float, expand_single: bool = False, exact: bool = False
) -> Q.Query | None:
    toks = analyzer.bigrams(word)
    grams = [t.text for t in toks]
    if not grams:
        return None
    if len(grams) == 1:
        gram = grams[0]
        if expand_single and len(gram) == 1 and not gram.isascii():
            # A one-character query: any bigram starting with it. Only for a
            # query that is that character: the expansion can be thousands of terms.
            return Q.Prefix(fieldname, gram, boost=boost)
        return Q.Term(fieldname, gram, boost=boost)
    # Several bigrams score their sum: average them, so a long word's bigram
    # evidence weighs like one word, not like one per character.
    if exact:
        gaps = [b.pos - a.pos for a, b in zip(toks, toks[1:], strict=False)]
        if all(g == 1 for g in gaps):
            return Q.Phrase(fieldname, grams, boost=boost / len(grams))
        # A latin word or a lone character takes two positions (5G基站: 5g@0 基站@2):
        # each next token at exactly its own distance, as indexed.
        near: Q.Query = Q.Term(fieldname, grams[0])
        for gram, gap in zip(grams[1:], gaps, strict=True):
            near = _Near(near, Q.Term(fieldname, gram), slop=gap, ordered=True, mindist=gap)
        near.boost = boost / len(grams)
        return near
    # Evidence for a query word needs no position check (the word fields
    # carry exactness); an And of its bigrams is many times cheaper than a
    # Whoosh phrase, whose span matching runs in Python for every candidate.
    return Q.And([Q.Term(fieldname, g) for g in grams], boost=boost / len(grams))


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


def phrase_clause(analyzer: Analyzer, text: str, weights: Weights | None = None, boost: float = 1.0) -> Q.Query | None:
    """Exact phrase: the characters in order (bigram positions) in title or body."""
    weights = weights or Weights()
    parts = [
        c
        for fieldname, w in (("title_bg", weights.title), ("body_bg", weights.body))
        if (c := _bigram_clause(analyzer, fieldname, text, w * boost, exact=True)) is not None
    ]
    if not parts:
        return None
    return Q.Or(parts) if len(parts) > 1 else parts[0]


def min_match(n: int) -> int:
    """How many of ``n`` query words must match: all of up to 3, then 75%."""
    return n if n <= 3 else max(3, math.ceil(n * 0.75))


def word_plan(
    analyzer: Analyzer, word: str, weights: Weights, synonyms: Iterable[str] = (), expand_single: bool = False
) -> WordPlan:
    """Where the evidence for one query word comes from, with weights.

    The word itself in title, lead, body and meta; its character bigrams in
    title and body (a segmentation mismatch still counts, a little lower);
    and the same for each synonym, a little lower again.
    """
    plan = WordPlan(word)
    # A lone character that jieba left unattached (刷, 艇) is rare as a token, so
    # its idf is high while it says little: damp it.
    own = SINGLE_CHAR_FACTOR if len(word) == 1 and "\u4e00" <= word <= "\u9fff" else 1.0
    for alt, factor in [(word, own)] + [(o, SYNONYM_FACTOR) for o in minimal_alternatives(word, synonyms)]:
        tokens = [t.text for t in analyzer.words(alt, index=False)]
        if len(tokens) == 1:
            word_fields = (
                ("title", weights.title),
                ("lead", weights.lead),
                ("body", weights.body),
                ("meta", weights.meta),
            )
            for name, w in word_fields:
                plan.sources.append(Source(name, (alt,), w * factor))
            if alt == word:
                if _LATIN_STEM.fullmatch(alt):
                    # Latin run together in titles (ladybirdbooks…, c919大飞机 → c919): the word as a
                    # prefix of longer latin words, weak partial evidence.
                    plan.sources += [
                        Source(n, (alt,), w * LATIN_PREFIX_WEIGHT, prefix=True, partial=True)
                        for n, w in word_fields[:3]
                    ]
                # The dictionary words inside a long word (乡村振兴 → 乡村, 振兴): weak partial evidence.
                for sub in dict.fromkeys(t.text for t in analyzer.words(alt) if t.text != alt):
                    plan.sources += [Source(n, (sub,), w * SUBWORD_WEIGHT, partial=True) for n, w in word_fields[:3]]
        grams = tuple(t.text for t in analyzer.bigrams(alt))
        if not grams:
            continue
        single = len(grams) == 1 and len(grams[0]) == 1 and not grams[0].isascii()
        for name, w in (("title_bg", weights.title), ("body_bg", weights.body)):
            plan.sources.append(Source(name, grams, w * weights.bigram * factor, prefix=single and expand_single))
            if len(grams) > 1 and alt == word:
                # Each bigram alone is weak evidence: partial credit where only part of the word occurs.
                share = w * weights.bigram * PARTIAL_WEIGHT / len(grams)
                plan.sources += [Source(name, (g,), share, partial=True) for g in dict.fromkeys(grams)]
    return plan


_LATIN_STEM = re.compile(r"(?=[a-z0-9]*[a-z])[a-z0-9]{4,}")


def _merge_synonym_spans(words: list[str], synonyms: Callable[[str], list[str]] | None) -> list[str]:
    """Join adjacent words that together are a synonym entry (新型 冠状病毒 → 新型冠状病毒)."""
    if synonyms is None:
        return words
    out, i = [], 0
    while i < len(words):
        for j in range(min(len(words), i + 4), i + 1, -1):
            if synonyms("".join(words[i:j])):
                out.append("".join(words[i:j]))
                i = j
                break
        else:
            out.append(words[i])
            i += 1
    return out


def junction_plans(analyzer: Analyzer, text: str, words: list[str], weights: Weights) -> list[WordPlan]:
    """Bigrams across the boundary of adjacent query words, as ranking evidence.

    For 赋能产业 the bigram 能产 occurs where 赋能 and 产业 stand together:
    cheap proximity evidence from postings, no positions needed.
    """
    toks = analyzer.words(text, index=False)
    seen = set(words)
    plans = []
    for left, right in zip(toks, toks[1:], strict=False):
        if left.end != right.start:
            continue
        gram = left.text[-1] + right.text[0]
        if gram in seen or not all("\u4e00" <= ch <= "\u9fff" for ch in gram):
            continue
        seen.add(gram)
        sources = [
            Source("title_bg", (gram,), weights.title * JUNCTION_WEIGHT),
            Source("body_bg", (gram,), weights.body * JUNCTION_WEIGHT),
        ]
        plans.append(WordPlan(gram, sources, counts=False))
    return plans


def word_plans(
    analyzer: Analyzer, text: str, weights: Weights, synonyms: Callable[[str], list[str]] | None = None
) -> tuple[list[WordPlan], list[str]]:
    """One plan per distinct content word of ``text`` (plus junction evidence), and the synonyms used."""
    words = list(dict.fromkeys(_merge_synonym_spans([t.text for t in content_words(analyzer, text)], synonyms)))
    added: list[str] = []
    plans = []
    for w in words:
        alternatives = minimal_alternatives(w, synonyms(w) if synonyms else [])
        added += alternatives
        plans.append(word_plan(analyzer, w, weights, alternatives, expand_single=len(words) == 1))
    if len(words) > 1:
        plans += junction_plans(analyzer, text, words, weights)
    return plans, added
