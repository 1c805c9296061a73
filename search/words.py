"""Word evidence: a query's free text → one ``WordPlan`` a word, and exact phrases → Whoosh clauses.

``word_plans`` turns the free text into word evidence (jieba words in title,
lead, body and meta) and bigram evidence (character bigrams in title and
body), one ``WordPlan`` a word that the scorer reads as postings
(``search.scoring``). Each query word matches through either, so a
segmentation mismatch never dead-ends a query. ``phrase_clause`` makes the
Whoosh query of an exact phrase (filters and phrases stay Whoosh queries).
The weights are ``search.ranking``'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from whoosh import query as Q
from whoosh.query.spans import SpanNear

from .analysis import Analyzer, Tok
from .ranking import (
    JUNCTION_WEIGHT,
    LATIN_INFIX_WEIGHT,
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
    infix: bool = False  # with ``prefix``: the latin terms holding the word after their start (myappleid for appleid)


@dataclass
class WordPlan:
    """One query word's evidence: the sources the scorer reads as postings (``search.scoring``)."""

    word: str
    sources: list[Source] = field(default_factory=list)
    counts: bool = True  # False: ranking evidence only, not a word that must match


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
                if _LATIN_INFIX.fullmatch(alt) and LATIN_INFIX_WEIGHT:
                    # … and inside them (iphone6s, jibs1988theeclecticparadigmof…): the same weak evidence.
                    plan.sources += [
                        Source(n, (alt,), w * LATIN_INFIX_WEIGHT, prefix=True, partial=True, infix=True)
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
_LATIN_INFIX = re.compile(r"(?=[a-z0-9]*[a-z])[a-z0-9]{3,}")  # suv in 大7suv, cad in zwcadcom


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
