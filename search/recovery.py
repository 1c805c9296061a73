"""Query recovery: pinyin input, synonyms, traditional input, "did you mean".

``Vocabulary`` indexes the words of an index generation (titles and leads:
the words readers search for) by full pinyin and by initials, so that

* ``yiqing`` or ``yiqingfangkong`` becomes 疫情 / 疫情 防控 (pinyin input),
* ``yq`` becomes the most frequent word with those initials,
* 疫请 (a homophone typo) is suggested as 疫情 (did you mean), and
* ``yiq`` completes to 疫情… (autocomplete, see ``complete``).

``Synonyms`` reads groups from ``search/data/synonyms.txt`` (plus extra
files); a query word in a group also finds the others. ``rewrites``,
``pinyin_first`` and ``is_traditional`` are what the engine asks when a
query finds nothing or little (``SearchEngine.search``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin

from .analysis import Analyzer
from .words import content_words

_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
_PINYIN_INPUT = re.compile(r"^[a-z0-9\s'’‘\-]+$")
_LETTERS = re.compile(r"[a-z]+(?:['’‘][a-z]+)*")  # a pinyin chunk: letters, apostrophes between syllables
_APOSTROPHES = re.compile(r"['’‘]")
_CHINESE_DIGITS = "零一二三四五六七八九"
PLAIN_PINYIN = re.compile(r"[a-z\s']+")  # letters only: pinyin when little else matched
_LATIN_RUN = re.compile(r"[a-z]+(?:'[a-z]+)*")
VOCAB_FIELDS = ("title", "lead")
MAX_SYLLABLE = 6


def to_pinyin(word: str) -> str:
    return "".join(lazy_pinyin(word))


def to_initials(word: str) -> str:
    return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER))


def looks_like_pinyin(text: str) -> bool:
    """Latin letters (apostrophes, hyphens, digits beside them), enough to be pinyin rather than 'ai'.

    ``yiqing``, ``Chang'e``, ``xi'an``, ``Chang'e-5``, ``hengyang malasong``; not
    ``5g`` or ``c919`` alone (letters glued to digits are a name, not pinyin).
    """
    t = text.strip().lower()
    if not _PINYIN_INPUT.match(t):
        return False
    chunks = [c for c in re.split(r"[\s\-]+", t) if c]
    return sum(len(c) for c in chunks if _LETTERS.fullmatch(c)) >= 2


def chinese_number(digits: str) -> str:
    """1–99 in Chinese numerals (5 → 五, 15 → 十五): how 嫦娥五号 and 神舟十五号 are written; others as they are."""
    n = int(digits) if digits.isdigit() and len(digits) <= 2 else -1
    if not 0 < n < 100:
        return digits
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else _CHINESE_DIGITS[tens] + "十")) + (
        _CHINESE_DIGITS[ones] if ones else ""
    )


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
        # Segment by segment, summing document counts: a multi-segment reader's iter_field combines
        # every statistic of each term across segments, which the codec reads lazily (block by block).
        for leaf, _offset in reader.leaf_readers():
            for fieldname in fields:
                for btext, info in leaf.iter_field(fieldname):
                    word = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                    if _CJK_WORD.match(word):
                        words[word] = words.get(word, 0) + info.doc_frequency()
        return cls(words)

    def best(self, key: str, initials: bool = False) -> str | None:
        entries = (self.initials if initials else self.full).get(key)
        return entries[0][0] if entries else None

    def from_pinyin(self, text: str, initials: bool = True) -> str | None:
        """Pinyin input → Chinese words, or None.

        ``yiqing fangkong`` / ``yiqingfangkong`` / ``yq`` / ``Chang'e`` / ``xi'an`` /
        ``chang e wu hao``: spaces, apostrophes and hyphens mark syllable
        boundaries (a word may span them only where its own syllables break:
        ``xi'an`` is 西安, never 先), runs of letters are segmented into the
        fewest known words. A number after a hyphen joins the word before it
        in Chinese numerals (``Chang'e-5`` → 嫦娥五, found in 嫦娥五号); letters
        glued to digits (``5g``, ``c919``) stay as they are.
        """
        out: list[str] = []
        run: list[str] = []  # consecutive pinyin chunks

        def flush() -> bool:
            if run:
                words = self._segment_run(run, initials)
                if words is None:
                    return False
                out.extend(words)
                run.clear()
            return True

        for token in text.lower().split():
            parts = [p for p in token.split("-") if p]
            for k, part in enumerate(parts):
                if _LETTERS.fullmatch(part):
                    run.append(part)
                    continue
                if not flush():
                    return None
                if part.isdigit() and k and out and _LETTERS.fullmatch(parts[k - 1]):
                    out[-1] += chinese_number(part)
                else:
                    out.append(part)
        if not flush():
            return None
        return " ".join(out) if out else None

    def _segment_run(self, chunks: list[str], initials: bool = True) -> list[str] | None:
        """Chunks of pinyin (split where the reader typed a space, hyphen or apostrophe) → words."""
        pieces = [p for c in chunks for p in _APOSTROPHES.split(c) if p]
        joined = "".join(pieces)
        cuts, at = set(), 0
        for p in pieces[:-1]:
            at += len(p)
            cuts.add(at)
        words = self._segment(joined, cuts)
        if words is not None:
            return words
        out = []  # chunk by chunk: initials (yq) where a chunk is not whole syllables
        for chunk in chunks:
            plain = _APOSTROPHES.sub("", chunk)
            found = self._segment(plain) or (
                [b] if initials and len(plain) <= 4 and (b := self.best(plain, True)) else None
            )
            if found is None:
                return None
            out += found
        return out

    def _word(self, key: str, inner: list[int]) -> str | None:
        """The most frequent word with pinyin ``key`` whose syllables break at each of ``inner`` (offsets in key)."""
        entries = self.full.get(key)
        if not entries:
            return None
        if not inner:
            return entries[0][0]
        for word, _ in entries:
            breaks, at = set(), 0
            for syllable in lazy_pinyin(word):
                at += len(syllable)
                breaks.add(at)
            if all(c in breaks for c in inner):
                return word
        return None

    def _segment(self, s: str, cuts: set[int] | frozenset[int] = frozenset()) -> list[str] | None:
        """Split a run of pinyin into the fewest known words (dynamic programming).

        ``cuts``: offsets where the reader separated syllables; a word spans one
        only where its own syllables break there.
        """
        n = len(s)
        best: list[tuple[int, list[str]] | None] = [None] * (n + 1)
        best[0] = (0, [])
        for i in range(n):
            if best[i] is None:
                continue
            cost, words = best[i]  # type: ignore[misc]
            for j in range(i + 2, min(n, i + MAX_SYLLABLE * 4) + 1):
                word = self._word(s[i:j], [c - i for c in cuts if i < c < j])
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


def rewrites(analyzer: Analyzer, vocabulary: Callable[[], Vocabulary], text: str) -> list[tuple[str, str]]:
    """Rewrites worth trying when a query finds nothing (or little): pinyin, then homophone typos."""
    if not text:
        return []
    vocab = vocabulary()
    out = []
    initials = bool(PLAIN_PINYIN.fullmatch(text.lower()))  # yq; not the stb of stb-cz50
    if looks_like_pinyin(text) and (chinese := vocab.from_pinyin(text, initials=initials)):
        out.append((chinese, "pinyin"))
    words = [t.text for t in content_words(analyzer, text)]
    fixed = [vocab.correct(w) or w for w in words]
    if fixed != words:
        out.append((" ".join(fixed), "spelling"))
    return out


def pinyin_first(searcher: Any, vocabulary: Callable[[], Vocabulary], text: str) -> bool:
    """Whether letters are pinyin before latin: a run of them the index does not hold as a word, and
    every run whole syllables (``chang'e-5``, ``5g jizhan``; not ``stb-cz50``, whose ``stb`` is initials)."""
    chunks = [c for c in re.split(r"[\s\-]+", text.lower()) if _LATIN_RUN.fullmatch(c)]
    unknown = any(searcher.doc_frequency(name, c) == 0 for c in chunks for name in ("title", "body"))
    return unknown and vocabulary().from_pinyin(text, initials=False) is not None


def is_traditional(t2s: dict[str, str], text: str) -> bool:
    """Whether ``text`` holds traditional characters (``t2s``: traditional → simplified)."""
    return any(ch in t2s and t2s[ch] != ch for ch in text)
