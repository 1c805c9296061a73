"""Query recovery: pinyin input, synonyms, traditional input, "did you mean".

``Vocabulary`` indexes the words of an index generation (titles and leads:
the words readers search for) by full pinyin and by initials, so that

* ``yiqing`` or ``yiqingfangkong`` becomes 疫情 / 疫情 防控 (pinyin input),
* ``yq`` becomes the most frequent word with those initials,
* 疫请 (a homophone typo) is suggested as 疫情 (did you mean), and
* ``yiq`` completes to 疫情… (autocomplete, see ``complete``).

``Synonyms`` reads groups from ``search/data/synonyms.txt`` (plus extra
files); a query word in a group also finds the others.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin

_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
_PINYIN_INPUT = re.compile(r"^[a-z\s']+$")
VOCAB_FIELDS = ("title", "lead")
MAX_SYLLABLE = 6


def to_pinyin(word: str) -> str:
    return "".join(lazy_pinyin(word))


def to_initials(word: str) -> str:
    return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER))


def looks_like_pinyin(text: str) -> bool:
    """Latin letters only, long enough to be pinyin rather than an English word like 'ai'."""
    t = text.strip().lower()
    return bool(_PINYIN_INPUT.match(t)) and len(t.replace(" ", "")) >= 2


class Vocabulary:
    """The words of one index generation, reachable by pinyin."""

    def __init__(self, words: dict[str, int]) -> None:
        self.df = words
        self.full: dict[str, list[tuple[str, int]]] = {}
        self.initials: dict[str, list[tuple[str, int]]] = {}
        for word, df in words.items():
            self.full.setdefault(to_pinyin(word), []).append((word, df))
            self.initials.setdefault(to_initials(word), []).append((word, df))
        for table in (self.full, self.initials):
            for entries in table.values():
                entries.sort(key=lambda e: (-e[1], e[0]))
        self.keys = sorted(self.full)
        self.sorted_words = sorted(words)  # for prefix completion (bisect)

    @classmethod
    def from_reader(cls, reader: Any, fields: Iterable[str] = VOCAB_FIELDS) -> Vocabulary:
        words: dict[str, int] = {}
        for fieldname in fields:
            for btext, info in reader.iter_field(fieldname):
                word = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                if _CJK_WORD.match(word):
                    words[word] = words.get(word, 0) + info.doc_frequency()
        return cls(words)

    def best(self, key: str, initials: bool = False) -> str | None:
        entries = (self.initials if initials else self.full).get(key)
        return entries[0][0] if entries else None

    def from_pinyin(self, text: str) -> str | None:
        """``yiqing fangkong`` / ``yiqingfangkong`` / ``yq`` → Chinese words, or None."""
        out = []
        for chunk in text.lower().replace("'", " ").split():
            words = self._segment(chunk)
            if words is None:
                best = self.best(chunk, initials=True) if len(chunk) <= 4 else None
                if best is None:
                    return None
                words = [best]
            out.extend(words)
        return " ".join(out) if out else None

    def _segment(self, s: str) -> list[str] | None:
        """Split a run of pinyin into the fewest known words (dynamic programming)."""
        n = len(s)
        best: list[tuple[int, list[str]] | None] = [None] * (n + 1)
        best[0] = (0, [])
        for i in range(n):
            if best[i] is None:
                continue
            cost, words = best[i]  # type: ignore[misc]
            for j in range(i + 2, min(n, i + MAX_SYLLABLE * 4) + 1):
                word = self.best(s[i:j])
                if word and (best[j] is None or cost + 1 < best[j][0]):  # type: ignore[index]
                    best[j] = (cost + 1, words + [word])
        return best[n][1] if best[n] else None

    def correct(self, word: str) -> str | None:
        """A more frequent word that sounds the same (疫请 → 疫情), or None."""
        if not _CJK_WORD.match(word):
            return None
        candidate = self.best(to_pinyin(word))
        if candidate and candidate != word and self.df.get(candidate, 0) > self.df.get(word, 0):
            return candidate
        return None

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        """Words whose pinyin starts with ``prefix`` (``yiq`` → 疫情, 疫区…), most frequent first."""
        prefix = prefix.lower().replace(" ", "")
        if not prefix:
            return []
        i = bisect.bisect_left(self.keys, prefix)
        found: list[tuple[str, int]] = []
        while i < len(self.keys) and self.keys[i].startswith(prefix) and len(found) < 200:
            found.extend(self.full[self.keys[i]])
            i += 1
        found.sort(key=lambda e: (-e[1], e[0]))
        return [w for w, _ in found[:limit]]


class Synonyms:
    """Synonym groups: a word → the other members of its group."""

    def __init__(self, groups: Iterable[Iterable[str]], normalize: Any) -> None:
        self.groups: dict[str, list[str]] = {}
        for group in groups:
            members = [normalize(m.strip()) for m in group if m.strip()]
            for m in members:
                self.groups.setdefault(m, [])
                self.groups[m] += [o for o in members if o != m and o not in self.groups[m]]

    @classmethod
    def load(cls, normalize: Any, extra: Iterable[str | Path] = ()) -> Synonyms:
        lines = resources.files("search.data").joinpath("synonyms.txt").read_text(encoding="utf-8").splitlines()
        for path in extra:
            lines += Path(path).read_text(encoding="utf-8").splitlines()
        groups = [line.split(",") for line in lines if line.strip() and not line.startswith("#")]
        return cls(groups, normalize)

    def of(self, word: str) -> list[str]:
        return self.groups.get(word, [])
