"""Snippets: fragments of the original text with every matched term marked.

``highlight(text, terms)`` reads top to bottom like Whoosh's highlighter:
locate (find the normalized terms in the normalized text, no segmentation),
fragment (cut at Chinese sentence and clause punctuation), score (distinct
terms, then count), order (best fragments, shown in document order) and
format (HTML-escaped original text, ``<mark>`` around matches). Matching on
normalized text means a term found through traditional input, full-width
text or a synonym is marked where the reader sees it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Normalize = Callable[[str], tuple[str, list[int] | None]]

MAX_FRAGMENTS = 200  # candidate fragments considered (a huge body repeats its matches)
_SENTENCE_END = "。！？!?；;\n"
_CLAUSE_END = "，,、：:"


@dataclass(frozen=True)
class Fragment:
    start: int
    end: int
    spans: tuple[tuple[int, int], ...]  # matched spans inside, in original offsets


def score(text: str, frag: Fragment) -> tuple[int, int]:
    """Distinct matched terms, then matches: a sentence with two of the query's words beats one with a word twice."""
    return len({text[a:b] for a, b in frag.spans}), len(frag.spans)


def locate(text: str, terms: Iterable[str], normalize: Normalize) -> list[tuple[int, int]]:
    """Return non-overlapping (start, end) spans of the terms in ``text`` (original offsets)."""
    norm, offsets = normalize(text)
    spans: list[tuple[int, int]] = []
    for term in sorted({t for t in terms if t}, key=len, reverse=True):
        start = norm.find(term)
        while start != -1:
            spans.append((start, start + len(term)))
            start = norm.find(term, start + len(term))
    spans.sort(key=lambda span: (span[0], -span[1]))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s < merged[-1][1]:
            continue  # longer terms were added first and win overlaps
        merged.append((s, e))
    if offsets is not None:
        merged = [(offsets[s], offsets[e - 1] + 1) for s, e in merged]
    return merged


_SENTENCE_MARK = re.compile(f"[{_SENTENCE_END}]")


def _sentence_around(text: str, pos: int, floor: int) -> tuple[int, int]:
    """(start, end) of the sentence holding ``pos``, its closing mark included; none starts before ``floor``."""
    last_mark = max(text.rfind(mark, floor, pos) for mark in _SENTENCE_END)
    end = _SENTENCE_MARK.search(text, pos)
    return last_mark + 1 if last_mark >= 0 else floor, end.end() if end else len(text)


def _trim(text: str, start: int, end: int, spans: list[tuple[int, int]], width: int) -> tuple[int, int]:
    """Cut a long sentence to ``width`` around its first match, at clause punctuation when possible."""
    if end - start <= width:
        return start, end
    first = spans[0][0] if spans else start
    lo = max(start, first - width // 3)
    # move the left edge to just after a clause mark, if one is near
    for i in range(lo, min(first, lo + width // 4)):
        if text[i] in _CLAUSE_END:
            lo = i + 1
            break
    hi = min(end, lo + width)
    for i in range(hi - 1, max(lo + width // 2, hi - width // 4), -1):
        if text[i] in _CLAUSE_END + _SENTENCE_END:
            hi = i + 1
            break
    return lo, hi


def fragments(text: str, spans: list[tuple[int, int]], width: int = 120) -> list[Fragment]:
    """Return one fragment per sentence that holds a match (only those sentences are looked for)."""
    out = []
    i, floor = 0, 0
    while i < len(spans) and len(out) < MAX_FRAGMENTS:
        s, e = _sentence_around(text, spans[i][0], floor)
        j = i
        while j < len(spans) and spans[j][0] < e:
            j += 1
        inside = [(a, b) for a, b in spans[i:j] if b <= e]  # a match across the sentence's end belongs to neither
        i, floor = j, e
        if not inside:
            continue
        lo, hi = _trim(text, s, e, inside, width)
        while lo < hi and text[lo].isspace():
            lo += 1
        kept = tuple((a, b) for a, b in inside if a >= lo and b <= hi)
        out.append(Fragment(lo, hi, kept or tuple(inside[:1])))
    return out


def format_fragment(text: str, frag: Fragment, before: str = "<mark>", after: str = "</mark>") -> str:
    """HTML-escape the fragment and wrap its matches."""
    pieces, pos = [], frag.start
    for a, b in frag.spans:
        if a < pos or b > frag.end:
            continue
        pieces.append(html.escape(text[pos:a], quote=False))
        pieces.append(before + html.escape(text[a:b], quote=False) + after)
        pos = b
    pieces.append(html.escape(text[pos : frag.end], quote=False))
    return "".join(pieces).strip()


def highlight(
    text: str,
    terms: Iterable[str],
    normalize: Normalize,
    width: int = 120,
    top: int = 2,
    fallback: str = "",
) -> str:
    """Return the best ``top`` fragments of ``text`` joined by "…", or the fallback's opening."""
    spans = locate(text, terms, normalize)
    frags = fragments(text, spans, width) if spans else []
    if not frags:
        if fallback and fallback != text:
            # The match may be in the lead (核心提示) rather than the body: mark it there.
            return highlight(fallback, terms, normalize, width, top)
        source = text
        clipped = source[:width].replace("\n", " ")
        return html.escape(clipped, quote=False) + ("…" if len(source) > width else "")
    best = sorted(frags, key=lambda f: score(text, f), reverse=True)[:top]
    best.sort(key=lambda f: f.start)
    out = []
    budget = width * top
    for frag in best:
        piece = format_fragment(text, frag)
        out.append(piece)
        budget -= frag.end - frag.start
        if budget <= 0:
            break
    joined = "…".join(p.replace("\n", " ") for p in out)
    last = best[len(out) - 1]
    return ("…" if best[0].start > 0 else "") + joined + ("…" if last.end < len(text.rstrip()) else "")


def plain(snippet: str) -> str:
    """The snippet as plain text (marks removed, entities decoded)."""
    return html.unescape(re.sub(r"</?mark>", "", snippet))
