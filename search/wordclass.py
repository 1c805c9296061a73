"""Function and generic words, from jieba's dictionary (its part-of-speech tags and frequencies).

A reader's query word that is a function word (以前 f, 一起 m, 一期 d) or one of
the most frequent words of the language (没有, 我们, 发展: ``GENERIC_FREQ``)
says little on its own: autocomplete does not offer the first kind for a
pinyin prefix, and an answer that holds only such words is weak
(the engine's weak-answer check). Read once per process (~0.5 s, done at warm-up).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

# jieba's part-of-speech tags of function words: conjunctions, adverbs, numerals,
# pronouns, time and place words, prepositions, measure words, particles, interjections.
FUNCTION_TAGS = frozenset("c d e f m mq o p q r rr rz t tg u ud ug uj ul uv uz y".split())
GENERIC_FREQ = 20_000  # jieba dictionary count from which a word is generic (~360 words: 没有, 中国, 工作)


@lru_cache(maxsize=1)
def _classes() -> tuple[frozenset[str], frozenset[str]]:
    """(function words, function and generic words)."""
    function, generic = set(), set()
    # line by line: the whole text and its 350,000 lines at once raised a web worker's peak by 50 MB (now 12)
    with resources.files("jieba").joinpath("dict.txt").open(encoding="utf-8") as lines:
        for line in lines:
            word, _, rest = line.partition(" ")
            freq, _, tag = rest.rstrip("\n").partition(" ")
            if tag in FUNCTION_TAGS:
                function.add(word)
            elif len(freq) >= 5 and int(freq) >= GENERIC_FREQ:
                generic.add(word)
    return frozenset(function), frozenset(function | generic)


def function_words() -> frozenset[str]:
    """Words jieba's dictionary tags as function words (~20,000)."""
    return _classes()[0]


def generic_words() -> frozenset[str]:
    """Function words and the language's most frequent words: little meaning on their own."""
    return _classes()[1]


def load() -> None:
    """Read the dictionary now (web workers' warm-up) rather than on a first request."""
    _classes()
