"""The article model and the text clean-up every reader shares.

Parts: ``Article`` and ``Page`` (the model), ``ArticleError`` (a bad record,
named by file and line), ``parse_published`` (dates; naive times are
Asia/Shanghai), ``split_pages`` (DedeCMS ``#p#分页标题#e#`` markers),
``parse_byline`` (``商报消息(通讯员 某某 记者 某某)`` → authors) and
``article_from_mapping`` (the canonical JSON shape → ``Article``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

try:  # pragma: no cover - depends on the machine's tz database
    from zoneinfo import ZoneInfo

    SHANGHAI: Any = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover
    SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

# News dates outside this window are typos or placeholders, not news.
MIN_YEAR = 1900
MAX_YEAR = 2100


class ArticleError(ValueError):
    """A record that cannot become an article; ``where`` names file and line.

    With ``warning=True`` the record was still read (e.g. a few invalid bytes
    were replaced) and the problem is only reported.
    """

    def __init__(self, where: str, message: str, warning: bool = False) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message
        self.warning = warning


@dataclass(slots=True)
class Page:
    title: str
    text: str


@dataclass(slots=True)
class Article:
    id: str
    title: str = ""
    body: str = ""
    url: str = ""
    published: datetime | None = None
    source: str = ""
    authors: list[str] = field(default_factory=list)
    channel: str = ""
    lead: str = ""
    pages: list[Page] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    views: int = 0
    origin: str = field(default="", compare=False, repr=False)  # file:line it came from

    def to_json(self) -> dict[str, Any]:
        """Return the canonical JSON Lines shape of this article."""
        data = asdict(self)
        del data["origin"]
        data["published"] = self.published.isoformat() if self.published else None
        return data


_PAGE_MARKER = re.compile(r"#p#(.*?)#e#", re.S)


def split_pages(body: str) -> tuple[str, list[Page]]:
    """Split a body at DedeCMS page markers; return (clean body, pages).

    The clean body keeps each page title as a heading line, without the marker
    syntax, so the words of a page title stay searchable.
    """
    parts = _PAGE_MARKER.split(body)
    if len(parts) == 1:
        text = body.strip()
        return text, [Page("", text)] if text else []
    pages = [Page("", parts[0].strip())] if parts[0].strip() else []
    for i in range(1, len(parts), 2):
        pages.append(Page(parts[i].strip(), parts[i + 1].strip()))
    clean = "\n".join(f"{p.title}\n{p.text}" if p.title else p.text for p in pages)
    return clean.strip(), pages


_ROLES = "特约记者|实习记者|见习记者|首席记者|通讯员|实习生|记者|摄影|编辑|撰稿|作者"
_BYLINE = re.compile(r"^\s*(?:[\u4e00-\u9fff]{0,10}(?:消息|讯|电))\s*[（(]\s*(?P<inner>[^）)]{2,80}?)\s*[）)]")
_ROLE_SPLIT = re.compile(rf"({_ROLES})")
_NAME_SPLIT = re.compile(r"[\s、，,／/]+")


def parse_byline(text: str) -> list[str]:
    """Return the authors of a byline at the start of ``text``, each with role.

    >>> parse_byline("商报消息(通讯员 王小明 记者 李华)昨日……")
    ['通讯员 王小明', '记者 李华']
    """
    match = _BYLINE.match(text)
    if not match:
        return []
    parts = _ROLE_SPLIT.split(match.group("inner"))
    authors: list[str] = []
    role = ""
    for part in parts:
        if _ROLE_SPLIT.fullmatch(part):
            role = part
            continue
        for name in _NAME_SPLIT.split(part):
            name = name.strip(" ：:")
            if 2 <= len(name) <= 5 and re.fullmatch(r"[\u4e00-\u9fff·]+", name):
                authors.append(f"{role} {name}".strip())
    return authors


def author_names(authors: list[str]) -> list[str]:
    """Strip roles: ``['记者 李华']`` → ``['李华']``."""
    return [a.split()[-1] for a in authors if a.split()]


_DATE = re.compile(
    r"(?P<y>\d{1,4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})日?"
    r"(?:[T\s]*(?P<H>\d{1,2})[:时](?P<M>\d{1,2})(?:[:分](?P<S>\d{1,2})(?:\.\d+)?)?)?"
    r"(?P<tz>Z|\s?[+-]\d{2}:?\d{2})?"
)


def find_date(text: str) -> str | None:
    """Return the first date-looking substring of ``text``."""
    match = _DATE.search(text)
    return match.group(0).strip() if match else None


def parse_published(value: Any) -> datetime | None:
    """Parse a publish time; naive values are Asia/Shanghai. ``None``/'' → None.

    Raises ``ValueError`` for text that is not a date or lies outside
    1900–2100 (year 0 and 9999 placeholders are data errors, not news).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, str):
        match = _DATE.fullmatch(value.strip())
        if not match:
            raise ValueError(f"unparseable date {value!r}")
        g = match.groupdict()
        year = int(g["y"])
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"date {value!r} is outside {MIN_YEAR}-{MAX_YEAR}")
        try:
            dt = datetime(year, int(g["m"]), int(g["d"]), int(g["H"] or 0), int(g["M"] or 0), int(g["S"] or 0))
        except ValueError as exc:
            raise ValueError(f"invalid date {value!r}: {exc}") from None
        tz = g["tz"]
        if tz == "Z":
            dt = dt.replace(tzinfo=timezone.utc)
        elif tz:
            tz = tz.strip()
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            dt = dt.replace(tzinfo=timezone(sign * offset))
    else:
        raise ValueError(f"unparseable date {value!r}")
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        raise ValueError(f"date {value!r} is outside {MIN_YEAR}-{MAX_YEAR}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    return dt


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")


def clean_text(value: Any) -> str:
    """Return ``value`` as text without NULs, control characters or BOMs."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return _CONTROL.sub("", value).replace("\r\n", "\n").replace("\r", "\n").strip()


def safe_url(url: str) -> str:
    """Keep http(s) and site-relative URLs; anything else (javascript:, data:) is dropped.

    Browsers read a backslash as a slash and drop tabs and newlines, so ``/\\evil.example``
    is ``//evil.example`` (another site): no backslash or space is kept anywhere.
    """
    if re.match(r"^(https?://|/(?!/))", url, re.I) and not re.search(r"[\s<>\"'\\\x00-\x1f\x7f]", url):
        return url
    return ""


def _string_list(value: Any, where: str, name: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = re.split(r"[,，;；、]", value)
    if not isinstance(value, list | tuple):
        raise ArticleError(where, f"field {name!r} must be a list of strings")
    return [clean_text(v) for v in value if clean_text(v)]


def make_article(where: str, **fields: Any) -> Article:
    """Build an ``Article`` from loose fields, validating the way every reader must."""
    raw_id = fields.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise ArticleError(where, "record has no id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise ArticleError(where, f"id must be a string or integer, not {type(raw_id).__name__}")
    article_id = clean_text(raw_id)
    if len(article_id) > 200:
        raise ArticleError(where, "id is longer than 200 characters")
    title = clean_text(fields.get("title"))
    body_raw = clean_text(fields.get("body"))
    body, pages = split_pages(body_raw)
    if not title and not body:
        raise ArticleError(where, f"article {article_id!r} has neither title nor body")
    try:
        published = parse_published(fields.get("published"))
    except ValueError as exc:
        raise ArticleError(where, f"article {article_id!r}: {exc}") from None
    views = fields.get("views") or 0
    try:
        views = int(views)
    except (TypeError, ValueError):
        raise ArticleError(where, f"article {article_id!r}: views {views!r} is not a number") from None
    authors = _string_list(fields.get("authors"), where, "authors") or parse_byline(body)
    return Article(
        id=article_id,
        title=title,
        body=body,
        url=safe_url(clean_text(fields.get("url"))),
        published=published,
        source=clean_text(fields.get("source")),
        authors=authors,
        channel=clean_text(fields.get("channel")),
        lead=clean_text(fields.get("lead")),
        pages=pages,
        tags=_string_list(fields.get("tags"), where, "tags"),
        views=max(views, 0),
        origin=where,
    )


def article_from_mapping(data: Any, where: str) -> Article:
    """Build an ``Article`` from one canonical JSON object."""
    if not isinstance(data, Mapping):
        raise ArticleError(where, f"expected a JSON object, got {type(data).__name__}")
    known = {"id", "url", "title", "published", "source", "authors", "channel", "lead", "body", "tags", "views"}
    return make_article(where, **{k: v for k, v in data.items() if k in known})
