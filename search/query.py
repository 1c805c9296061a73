"""Query syntax: the search-box string → a ``ParsedQuery``.

Syntax readers know from other engines, all optional and forgiving:

* ``"exact phrase"`` (also “…” and 「…」 when they are the whole query), positions must line up;
  typographic quotes inside a longer query (a pasted headline) are emphasis, see ``_emphasis``;
* ``-word`` / ``-"phrase"`` excludes;
* ``title:`` ``source:`` ``author:`` ``channel:`` filters (``来源:`` ``作者:``
  ``栏目:`` ``标题:`` too), ``after:2020-01-01`` and ``before:2021-12-31``.

Malformed syntax never fails: an unbalanced quote closes at the end, a lone
``-`` or an empty ``title:`` is dropped, an unparseable date becomes text.

``min_match`` says how many of a query's words must match. The words
themselves become evidence in ``search.words``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .articles import MAX_YEAR, MIN_YEAR, SHANGHAI, parse_published

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


def min_match(n: int) -> int:
    """How many of ``n`` query words must match: all of up to 3, then 75%."""
    return n if n <= 3 else max(3, math.ceil(n * 0.75))
