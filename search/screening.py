"""Screening what readers type before it is kept or shown: masks, control characters, a deny-list.

``mask_personal`` is applied to every query before the query log writes it
(phone and ID-card numbers, e-mail addresses and long digit runs become
``[phone]``, ``[id]``, ``[email]``, ``[number]``; control characters go);
``terminal_safe`` escapes control characters for anything printed to an
operator's terminal; a ``Denylist`` (``search/data/hot_denylist.txt`` plus the
operator's files) keeps spam, links and contact handles out of hot lists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

# C0 and C1 controls, DEL, bidirectional overrides and zero-width characters: none belongs in a
# query, and an escape sequence must not reach an operator's terminal through a report.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
MASKS = (  # (pattern, replacement) in order: the specific kinds first, then any long digit run
    (re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.A), "[email]"),  # ASCII \w
    (re.compile(r"(?<![0-9A-Za-z])\d{6}[\s-]?\d{8}[\s-]?\d{3}[\dXx](?![0-9A-Za-z])"), "[id]"),
    (re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3}[\s-]?)\d{7,8}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)\d(?:[\s-]?\d){10,}(?!\d)"), "[number]"),
    (re.compile(r"\d{7,}"), "[number]"),
)
MASK_MARKS = tuple(sorted({mark for _, mark in MASKS}))


def mask_personal(text: str) -> str:
    """Return ``text`` as the log keeps it: NFKC, no control characters, personal numbers masked.

    >>> mask_personal("张三 13812345678 zs@example.com")
    '张三 [phone] [email]'
    """
    text = unicodedata.normalize("NFKC", text)
    text = " ".join(CONTROL.sub(" ", text).split())
    for pattern, mark in MASKS:
        text = pattern.sub(mark, text)
    return text


def terminal_safe(text: str) -> str:
    """Return ``text`` with every control character shown as an escape (``\\x1b``), for printing."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class Denylist:
    """Patterns a hot list must not show: plain words and ``re:`` regular expressions.

    A file holds one pattern a line; ``#`` starts a comment. Plain words match
    anywhere, ignoring case, width and spaces (加 微 信 is 加微信); a ``re:``
    line is a case-insensitive Python regular expression over the NFKC text.
    """

    def __init__(self, lines: Iterable[str] = ()) -> None:
        self.words: list[str] = []
        patterns: list[str] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("re:"):
                re.compile(line[3:])  # a bad pattern fails at start-up, with its text
                patterns.append(f"(?:{line[3:]})")
            else:
                self.words.append(self._fold(line))
        self.pattern = re.compile("|".join(patterns), re.I) if patterns else None

    @staticmethod
    def _fold(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).casefold().split())

    @classmethod
    def load(cls, extra: Iterable[str | Path] = ()) -> Denylist:
        """The packaged ``search/data/hot_denylist.txt`` plus ``extra`` files (a missing one is an error)."""
        lines = resources.files("search.data").joinpath("hot_denylist.txt").read_text(encoding="utf-8").splitlines()
        for path in extra:
            lines += Path(path).read_text(encoding="utf-8").splitlines()
        return cls(lines)

    def blocks(self, text: str) -> bool:
        folded = self._fold(text)
        if any(word in folded for word in self.words):
            return True
        return bool(self.pattern and self.pattern.search(unicodedata.normalize("NFKC", text)))
