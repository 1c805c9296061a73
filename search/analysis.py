"""Chinese analysis: normalization, segmentation, word and bigram tokens.

Parts, in pipeline order:

* ``normalize`` — NFKC (full-width → half-width), lowercase, traditional →
  simplified, control characters → spaces; returns the offsets that map each
  normalized character back into the original text, so highlights land on
  what the reader sees.
* ``Segmenter`` — the one wrapper around jieba's global state: rjieba (Rust,
  same dictionary and algorithm, fast) or jieba 0.42.1 (the reference), with
  the newsroom user dictionary added to either.
* ``Analyzer`` — turns text into tokens for the three token streams the index
  keeps: ``words`` (jieba words with sequential positions; latin words and
  numbers such as ``covid-19``, ``c919``, ``5g``, ``2020年`` survive whole;
  long words also yield the dictionary words inside them at their position)
  and ``bigrams`` (overlapping CJK character bigrams, so any substring of two
  or more characters is findable whatever jieba did; a one-character query is
  a prefix of bigrams). ``fingerprint`` names the analysis
  so an index built with another one is refused with a clear message.
* ``WhooshTokenizer`` — the same analysis as a Whoosh tokenizer, for code that
  wants Whoosh's analyzer protocol (query parsing, ``highlights``).

Why one module of this size: the normalization, the segmenter and the token
streams must be identical at index and at query time, and the analysis
fingerprint names all of them; one module keeps what the fingerprint covers in
one place.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from importlib import resources
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from whoosh.analysis import Token, Tokenizer

# Bump when the token streams change in any way; part of the fingerprint.
ANALYZER_VERSION = "6"


# --- normalization ---------------------------------------------------------


def _load_t2s() -> dict[str, str]:
    """Traditional → simplified character table from OpenCC's dictionary."""
    import opencc  # opencc-python-reimplemented ships OpenCC's data files

    table: dict[str, str] = {}
    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 1 and len(parts[1]) == 1:
            table[parts[0]] = parts[1]
    return table


class _NormTable(dict):
    """``str.translate`` table computed lazily, one code point at a time.

    ``expanding`` matches the characters seen so far that map to more than one
    character (``…`` → ``...``, ``㎡`` → ``m2``): only they need offsets.
    """

    def __init__(self, t2s: dict[str, str]) -> None:
        super().__init__()
        self.t2s = t2s
        self.expanding: re.Pattern[str] = re.compile("(?!)")  # matches nothing
        self._wide: set[str] = set()

    def __missing__(self, code: int) -> int | str:
        ch = chr(code)
        if ch in "\n\t":
            out = " "
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out = " "
        else:
            out = unicodedata.normalize("NFKC", ch).lower()
            out = "".join(self.t2s.get(c, c) for c in out) or " "
        value: int | str = code if out == ch else out
        if len(out) > 1:
            self._wide.add(ch)
            self.expanding = re.compile("[" + "".join(re.escape(c) for c in sorted(self._wide)) + "]")
        self[code] = value
        return value


class Normalizer:
    """Index- and query-time normalization with offsets into the original."""

    def __init__(self, t2s: dict[str, str] | None = None) -> None:
        self.t2s = _load_t2s() if t2s is None else t2s
        self.table = _NormTable(self.t2s)

    def __call__(self, text: str) -> tuple[str, list[int] | None]:
        """Return (normalized text, offsets); offsets None means one-to-one."""
        norm = text.translate(self.table)
        if len(norm) == len(text):  # every character maps to at least one: equal length, one to one
            return norm, None
        # translate() has put every character of text in the table: walk the expanding ones only
        table = self.table
        offsets: list[int] = []
        done = 0
        for match in table.expanding.finditer(text):
            i = match.start()
            offsets.extend(range(done, i))
            offsets.extend([i] * len(table[ord(text[i])]))
            done = i + 1
        offsets.extend(range(done, len(text)))
        return norm, offsets

    def text(self, text: str) -> str:
        return text.translate(self.table)


# --- segmentation ----------------------------------------------------------


class Segmenter:
    """jieba behind one door: ``cut(text)`` → words, user dictionary applied."""

    def __init__(self, engine: str = "rjieba", user_words: Iterable[tuple[str, int | None]] = ()) -> None:
        if engine not in ("rjieba", "jieba"):
            raise ValueError(f"unknown segmenter {engine!r} (expected rjieba or jieba)")
        self.engine = engine
        self.user_words = list(user_words)

    @cached_property
    def _impl(self) -> tuple[Callable[[str], list[str]], Callable[[str], bool]]:
        if self.engine == "rjieba":
            import rjieba

            fast = rjieba.Jieba()
            for word, freq in self.user_words:
                fast.add_word(word, freq, None)
            return fast.cut, fast.has_word
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        ref = jieba.Tokenizer()
        ref.check_initialized()
        for word, freq in self.user_words:
            ref.add_word(word, freq)
        return (lambda text: ref.lcut(text, HMM=True)), (lambda word: bool(ref.FREQ.get(word)))

    def cut(self, text: str) -> list[str]:
        return self._impl[0](text)

    def has_word(self, word: str) -> bool:
        return self._impl[1](word)

    def __getstate__(self) -> dict:
        return {"engine": self.engine, "user_words": self.user_words}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


# --- tokens ----------------------------------------------------------------


class Tok(NamedTuple):
    text: str
    pos: int
    start: int  # offsets into the *original* text
    end: int


_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"([{_CJK}]+)|([a-z0-9]+(?:[-_.+&'][a-z0-9]+)*)")


def is_cjk_run(text: str) -> bool:
    """Whether ``text`` is one run of CJK characters, as ``Analyzer.bigrams`` finds runs."""
    match = _RUNS.fullmatch(text)
    return match is not None and match.group(1) is not None


def bigram_tokens(normed: str) -> list[tuple[str, int, int, int]]:
    """``Analyzer.bigrams`` of normalized text as plain (text, position, start, end) tuples.

    A run of CJK characters gives its bigrams at consecutive positions (a
    lone character stands alone), a latin word one token; each run is one
    position past the one before, so a bigram phrase never spans punctuation.
    """
    out: list[tuple[str, int, int, int]] = []
    pos = 0
    for match in _RUNS.finditer(normed):
        start = match.start()
        run = match.group(1)
        if run is None:
            out.append((match.group(2), pos, start, match.end()))
            pos += 2
            continue
        if len(run) == 1:
            out.append((run, pos, start, start + 1))
            pos += 1
        else:
            out.extend((run[i : i + 2], pos + i, start + i, start + i + 2) for i in range(len(run) - 1))
            pos += len(run) - 1
        pos += 1  # a gap: a bigram phrase never spans punctuation
    return out


_TOKEN_CHAR = re.compile(rf"[{_CJK}a-z0-9\-_.+&']")
_BETWEEN_RUNS = rf"[^{_CJK}a-z0-9]*"


class PhraseFinder:
    """Whether normalized text holds bigram tokens at given relative positions: an exact phrase, on text.

    What Whoosh's phrase over a bigram field's positions finds (``bigram_tokens``
    placed them), found in the text itself, so the body's bigrams need no
    positions. The tokens' runs, in order with only punctuation or spaces
    between (a regular expression), are found first; each place is then
    confirmed by the tokens of the runs around it, at their positions. One
    run of CJK characters (the common case) is a plain substring.
    """

    def __init__(self, tokens: Iterable[tuple[str, int]]) -> None:
        items = list(tokens)
        if not items:
            raise ValueError("a phrase needs a token")
        first = items[0][1]
        self.tokens = [(gram, pos - first) for gram, pos in items]
        runs: list[str] = []
        previous: tuple[str, int] | None = None
        for gram, pos in self.tokens:
            if previous is not None and pos - previous[1] == 1 and _is_bigram(previous[0]) and _is_bigram(gram):
                runs[-1] += gram[1:]
            else:
                runs.append(gram)
            previous = (gram, pos)
        self.runs = runs
        self.plain = runs[0] if len(runs) == 1 and len(runs[0]) > 1 and is_cjk_run(runs[0]) else None
        self._pattern = re.compile(_BETWEEN_RUNS.join(map(re.escape, runs)))

    def __call__(self, normed: str) -> bool:
        if self.plain is not None:
            return self.plain in normed
        at = 0
        while (match := self._pattern.search(normed, at)) is not None:
            if self._at(normed, match.start(), match.end()):
                return True
            at = match.start() + 1
        return False

    def _at(self, normed: str, start: int, end: int) -> bool:
        """Whether the tokens stand at their positions in the runs around ``normed[start:end]``."""
        while start > 0 and _TOKEN_CHAR.match(normed, start - 1):
            start -= 1
        while end < len(normed) and _TOKEN_CHAR.match(normed, end):
            end += 1
        placed: dict[str, set[int]] = defaultdict(set)
        for gram, pos, _, _ in bigram_tokens(normed[start:end]):
            placed[gram].add(pos)
        first, rest = self.tokens[0][0], self.tokens[1:]
        return any(all(p + offset in placed[gram] for gram, offset in rest) for p in placed[first])


def _is_bigram(gram: str) -> bool:
    return len(gram) == 2 and is_cjk_run(gram)


_UNIT_AFTER_NUMBER = set("年月日号岁届期度")
_SPLIT_LATIN = re.compile(r"[-_.+&']")


def _read_lines(name: str, extra: Iterable[str | Path] = ()) -> list[str]:
    lines = resources.files("search.data").joinpath(name).read_text(encoding="utf-8").splitlines()
    for path in extra:
        lines += Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def load_user_words(extra: Iterable[str | Path] = ()) -> list[tuple[str, int | None]]:
    """Read the newsroom dictionary (``word [freq] [tag]`` lines)."""
    words = []
    for line in _read_lines("userdict.txt", extra):
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        words.append((parts[0], freq))
    return words


class Analyzer:
    """Text → tokens, identical at index and query time."""

    def __init__(self, engine: str = "rjieba", userdict: Iterable[str | Path] = ()) -> None:
        self.userdict_files = [str(p) for p in userdict]
        user_words = load_user_words(self.userdict_files)
        self.normalizer = Normalizer()
        self.segmenter = Segmenter(engine, [(self.normalizer.text(w), f) for w, f in user_words])
        self.stopwords = frozenset(_read_lines("stopwords.txt"))

    @cached_property
    def fingerprint(self) -> str:
        """A short hash naming what the index depends on: version, dictionary, tables.

        The stop list is applied to queries only, so it is not part of it.
        """
        h = hashlib.sha256(f"analyzer-{ANALYZER_VERSION}".encode())
        for word, freq in self.segmenter.user_words:
            h.update(f"u:{word}:{freq}\n".encode())
        for trad, simp in sorted(self.normalizer.t2s.items()):
            h.update(f"t:{trad}{simp}".encode())
        return h.hexdigest()[:16]

    # The three token streams. ``index=True`` adds the parts of compound
    # latin tokens at the same position (covid-19 → covid-19, covid, 19) so
    # that a query for a part finds the whole; queries keep compounds whole.

    def words(self, text: str, index: bool = True, norm: tuple[str, list[int] | None] | None = None) -> list[Tok]:
        """Return jieba word tokens with sequential positions."""
        normed, offsets = norm or self.normalizer(text)
        return _map_offsets(list(map(Tok._make, self._words(normed, index))), offsets)

    def word_counts(self, text: str, norm: tuple[str, list[int] | None] | None = None) -> Counter[str]:
        """Each word of ``words(text)`` (``index=True``) with how often it occurs: what a word field indexes."""
        normed, _ = norm or self.normalizer(text)
        return Counter(map(itemgetter(0), self._words(normed, True)))

    def _words(self, normed: str, index: bool) -> list[tuple[str, int, int, int]]:
        """``words`` as plain (text, position, start, end) tuples, offsets into the normalized text."""
        out: list[tuple[str, int, int, int]] = []
        pos = 0
        cut = self.segmenter.cut
        has_word = self.segmenter.has_word
        skip_unit = -1
        for match in _RUNS.finditer(normed):
            start = match.start()
            if match.group(1) is not None:
                run = match.group(1)
                if start == skip_unit:  # unit already taken by a number: 2020年
                    run, start = run[1:], start + 1
                for word in cut(run) if run else ():
                    end = start + len(word)
                    out.append((word, pos, start, end))
                    if index and len(word) > 2:
                        # dictionary words inside a long word, at its position (疫情防控 → 疫情, 防控)
                        for n in (2, 3):
                            for i in range(len(word) - n + 1):
                                sub = word[i : i + n]
                                if sub != word and has_word(sub):
                                    out.append((sub, pos, start + i, start + i + n))
                    pos += 1
                    start = end
            else:
                word = match.group(2)
                end = match.end()
                if word.isdigit() and end < len(normed) and normed[end] in _UNIT_AFTER_NUMBER:
                    out.append((word + normed[end], pos, start, end + 1))
                    skip_unit = end
                    if index:
                        out.append((word, pos, start, end))
                else:
                    out.append((word, pos, start, end))
                    if index and _SPLIT_LATIN.search(word):
                        for part in _SPLIT_LATIN.split(word):
                            if part:
                                out.append((part, pos, start, end))
                pos += 1
        return out

    def bigrams(self, text: str, norm: tuple[str, list[int] | None] | None = None) -> list[Tok]:
        """Return CJK character bigrams (a lone character stands alone) and latin words."""
        normed, offsets = norm or self.normalizer(text)
        return _map_offsets(list(map(Tok._make, bigram_tokens(normed))), offsets)

    def bigram_positions(self, text: str, norm: tuple[str, list[int] | None] | None = None) -> dict[str, list[int]]:
        """Each token of ``bigrams(text)`` with its positions in order: what a bigram field indexes."""
        normed, _ = norm or self.normalizer(text)
        positions: dict[str, list[int]] = defaultdict(list)
        for gram, pos, _start, _end in bigram_tokens(normed):
            positions[gram].append(pos)
        return positions

    def bigram_counts(self, text: str, norm: tuple[str, list[int] | None] | None = None) -> Counter[str]:
        """Each token of ``bigrams(text)`` with how often it occurs: what a bigram field without positions indexes."""
        normed, _ = norm or self.normalizer(text)
        return Counter(map(itemgetter(0), bigram_tokens(normed)))

    def is_stopword(self, word: str) -> bool:
        return word in self.stopwords


def _map_offsets(tokens: list[Tok], offsets: list[int] | None) -> list[Tok]:
    if offsets is None:
        return tokens
    last = len(offsets) - 1
    return [t._replace(start=offsets[t.start], end=offsets[min(t.end, last + 1) - 1] + 1) for t in tokens]


class WhooshTokenizer(Tokenizer):
    """Whoosh's tokenizer protocol over ``Analyzer.words`` or ``Analyzer.bigrams``."""

    def __init__(self, analyzer: Analyzer, stream: str = "words") -> None:
        self.analyzer = analyzer
        self.stream = stream

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhooshTokenizer) and other.stream == self.stream

    def __hash__(self) -> int:
        return hash(("WhooshTokenizer", self.stream))

    def __call__(  # type: ignore[override]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        if self.stream == "bigrams":
            toks = self.analyzer.bigrams(value)
        else:
            toks = self.analyzer.words(value, index=mode != "query")
        for tok in toks:
            # A fresh Token each time: callers may keep them.
            t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
            t.text = tok.text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = value[tok.start : tok.end]
            if positions:
                t.pos = start_pos + tok.pos
            if chars:
                t.startchar = start_char + tok.start
                t.endchar = start_char + tok.end
            yield t
