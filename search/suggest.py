"""Autocomplete: words and titles for what a reader has typed so far.

Chinese prefixes complete from the index's title and lead words and latin
input also as a pinyin prefix (``yiq`` → 疫情…); then titles that contain the
text fill the list. Words are ranked by how often readers searched them (the
hot searches of the query log, with its privacy rules) and by how many
articles hold them. Function words (jieba's dictionary tags them: 以前 f,
一起 m, 一期 d) are not offered, nor, for a pinyin prefix, words held by far
fewer articles than the best completion (一企一) — unless readers really
search them (``SEARCHED_FLOOR`` times).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .recovery import Vocabulary, to_pinyin
from .searching import SearchEngine
from .wordclass import function_words

_LATIN = re.compile(r"^[a-z\s']+$")
SEARCHED_FLOOR = 3  # searched at least this often (hot searches): offered whatever the word is
PINYIN_TAIL = 8  # a pinyin completion held by fewer than 1/PINYIN_TAIL of the best one's articles is dropped
SEARCHED_WEIGHT = 2.0  # a doubling of searches counts as much as a quadrupling of articles
PREFIX_SCAN = 200  # words looked at per prefix


@lru_cache(maxsize=4096)
def _pinyin(text: str) -> str:
    return to_pinyin(text.replace(" ", ""))


def suggest(
    engine: SearchEngine, q: str, limit: int = 8, searched: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Return up to ``limit`` suggestions: ``{"text", "kind"}`` with kind word, pinyin or title.

    ``searched`` maps queries readers searched to how often (the hot searches).
    """
    text = engine.analyzer.normalizer.text(q).strip()
    if not text:
        return []
    searched = searched or {}
    vocab: Vocabulary = engine.vocabulary()
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(value: str, kind: str) -> None:
        if value and value not in seen and len(out) < limit:
            seen.add(value)
            out.append({"text": value, "kind": kind})

    def rank(words: list[str]) -> list[str]:
        def key(w: str) -> tuple[float, str]:
            return (-(SEARCHED_WEIGHT * math.log1p(searched.get(w, 0)) + math.log1p(vocab.df.get(w, 0))), w)

        return sorted(dict.fromkeys(words), key=key)

    def wanted(word: str) -> bool:
        return searched.get(word, 0) >= SEARCHED_FLOOR or (len(word) > 1 and word not in function_words())

    if _LATIN.match(text):
        prefix = text.replace(" ", "").replace("'", "")
        found = [w for w in vocab.complete(prefix, PREFIX_SCAN) if wanted(w)]
        top = max((vocab.df.get(w, 0) for w in found), default=0)
        found = [w for w in found if vocab.df.get(w, 0) * PINYIN_TAIL >= top or searched.get(w, 0) >= SEARCHED_FLOOR]
        found += [s for s in searched if searched[s] >= SEARCHED_FLOOR and _pinyin(s).startswith(prefix)]
        for word in rank(found)[:limit]:
            add(word, "pinyin")
    words = vocab.sorted_words
    i = bisect.bisect_left(words, text)
    starting = []
    while i < len(words) and words[i].startswith(text) and len(starting) < PREFIX_SCAN:
        starting.append(words[i])
        i += 1
    starting = [w for w in starting if w == text or wanted(w)]
    starting += [s for s in searched if s.startswith(text) and s != text and searched[s] >= SEARCHED_FLOOR]
    for word in rank(starting)[: max(limit // 2, 3)]:
        add(word, "word")
    if len(out) < limit:
        res = engine.search(text, size=limit, snippets=False)
        if not res.weak:
            for hit in res.hits:
                add(hit.title, "title")
    return out
