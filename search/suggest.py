"""Autocomplete: words and titles for what a reader has typed so far.

Chinese prefixes complete from the index's title and lead words (most
frequent first) and from titles that contain the text; latin input is also
read as a pinyin prefix (``yiq`` → 疫情…).
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from .recovery import Vocabulary
from .searching import SearchEngine

_LATIN = re.compile(r"^[a-z\s']+$")


def suggest(engine: SearchEngine, q: str, limit: int = 8) -> list[dict[str, Any]]:
    """Return up to ``limit`` suggestions: ``{"text", "kind"}`` with kind word, pinyin or title."""
    text = engine.analyzer.normalizer.text(q).strip()
    if not text:
        return []
    vocab: Vocabulary = engine.vocabulary()
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(value: str, kind: str) -> None:
        if value and value not in seen and len(out) < limit:
            seen.add(value)
            out.append({"text": value, "kind": kind})

    if _LATIN.match(text):
        for word in vocab.complete(text, limit):
            add(word, "pinyin")
    words = vocab.sorted_words
    i = bisect.bisect_left(words, text)
    starting = []
    while i < len(words) and words[i].startswith(text) and len(starting) < 200:
        starting.append(words[i])
        i += 1
    for word in sorted(starting, key=lambda w: (-vocab.df[w], w))[: max(limit // 2, 3)]:
        add(word, "word")
    if len(out) < limit:
        res = engine.search(text, size=limit, snippets=False)
        for hit in res.hits:
            add(hit.title, "title")
    return out
