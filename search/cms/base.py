"""What every CMS reader shares: the connection, the charset decoder and the mapping interface.

Parts: ``Dsn`` (``mysql://user:password@host:port/db?unix_socket=…``, printed
with its password masked), ``connect`` (PyMySQL, every text column read as
the bytes stored), ``Decoder`` (those bytes → text as configured, detection as
the fallback, undecodable values reported with the article id), ``grant_warning``
(the search service never writes to the CMS) and ``CmsReader``, the small
mapping a CMS module fills in: a cheap status pass, an optional per-article
hash computed in SQL, rows fetched by id, and a row → ``Article``.

Why one module of this size: what every CMS module shares (connections, DSNs,
charset decoding, HTML to text, the reader's contract) is small pieces that
only mean something together.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..articles import Article


class CmsError(Exception):
    """The CMS database cannot be read as configured (DSN, connection, tables)."""


class Skip(Exception):  # noqa: N818 - a row's outcome, not an error
    """A row that is read but not indexed as text (a redirect, a link, a protected post)."""


# --- the DSN ------------------------------------------------------------------


@dataclass(frozen=True)
class Dsn:
    user: str
    password: str
    host: str
    port: int
    database: str
    unix_socket: str = ""

    @classmethod
    def parse(cls, text: str) -> Dsn:
        parts = urlsplit(text.strip())
        if parts.scheme not in {"mysql", "mariadb"}:
            raise CmsError(f"DSN must look like mysql://user@host/db, not {mask_dsn(text)!r}")
        database = unquote(parts.path.lstrip("/"))
        if not database or "/" in database:
            raise CmsError(f"DSN {mask_dsn(text)!r} names no database (mysql://user@host/DB)")
        query = parse_qs(parts.query)
        return cls(
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "localhost",
            port=parts.port or 3306,
            database=database,
            unix_socket=query.get("unix_socket", [""])[0],
        )

    def __str__(self) -> str:
        password = ":***" if self.password else ""
        if self.unix_socket:
            return f"mysql://{self.user}{password}@{self.host}/{self.database}?unix_socket={self.unix_socket}"
        return f"mysql://{self.user}{password}@{self.host}:{self.port}/{self.database}"


def mask_dsn(text: str) -> str:
    """Return ``text`` with any DSN password replaced by ``***``."""
    return re.sub(r"(mysql|mariadb)://([^:/@\s]*):[^@\s]*@", r"\1://\2:***@", text)


def connect(dsn: Dsn) -> Any:
    """Open a read connection whose results are the bytes stored (``character_set_results=binary``).

    A latin1 column holding GBK bytes would otherwise reach us converted
    latin1 → UTF-8, that is, garbled; read raw, every column is decoded by
    ``Decoder`` as configured.
    """
    import pymysql

    try:
        conn = pymysql.connect(
            host=dsn.host,
            port=dsn.port,
            user=dsn.user,
            password=dsn.password,
            database=dsn.database,
            unix_socket=dsn.unix_socket or None,
            charset="utf8mb4",
            use_unicode=False,
            autocommit=True,
            connect_timeout=10,
            read_timeout=600,
        )
    except pymysql.MySQLError as exc:
        raise CmsError(f"cannot connect to {dsn}: {mask_dsn(str(exc))}") from None
    with conn.cursor() as cur:
        cur.execute("SET character_set_results = binary")
    return conn


def query(conn: Any, sql: str, args: Sequence[Any] | None = None) -> list[tuple]:
    """Run one SELECT; a missing table or column becomes a ``CmsError`` naming it."""
    import pymysql

    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    except pymysql.MySQLError as exc:
        raise CmsError(f"CMS query failed: {exc.args[-1] if exc.args else exc}") from None


# --- grants -------------------------------------------------------------------

_GRANT = re.compile(r"^GRANT (?P<privs>.+?) ON (?P<target>\S+) TO ", re.I)
_READ_ONLY = {"SELECT", "USAGE", "SHOW VIEW"}


def _target_matches(target: str, database: str) -> bool:
    """Whether a grant's ``db.table`` target covers ``database`` (``%`` and ``_`` are wildcards)."""
    name = target.split(".", 1)[0].strip("`")
    if name == "*":
        return True
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in name.replace("\\", ""))
    return re.fullmatch(pattern, database) is not None


def grant_warning(conn: Any, database: str, user: str) -> str | None:
    """Return a warning when the connected user may do more than SELECT on the CMS database."""
    extra: set[str] = set()
    for (line,) in query(conn, "SHOW GRANTS FOR CURRENT_USER()"):
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line)
        match = _GRANT.match(text)
        if not match or not _target_matches(match.group("target"), database):
            continue
        privs = {p.strip().upper() for p in re.sub(r"\([^)]*\)", "", match.group("privs")).split(",")}
        extra |= privs - _READ_ONLY
    if not extra:
        return None
    return (
        f"database user {user!r} has {', '.join(sorted(extra))} on {database!r}: the search service only reads "
        f"the CMS, so give it a user with SELECT only (GRANT SELECT ON `{database}`.* TO ...)"
    )


# --- charsets -----------------------------------------------------------------

CHARSETS = ("auto", "utf8mb4", "gbk", "gb18030", "latin1-gbk")
_FIRST_TRY = {"auto": "utf-8", "utf8mb4": "utf-8", "gbk": "gbk", "gb18030": "gb18030", "latin1-gbk": "gbk"}


@dataclass
class Decoder:
    """Stored bytes → text: the configured charset first, then UTF-8 and GB18030, then a guess.

    ``auto`` tries UTF-8, then GB18030 (a superset of GBK and GB2312).
    ``latin1-gbk`` is for latin1 columns that hold GBK bytes, which read raw
    are GBK. What no candidate decodes is decoded with replacement characters
    and reported in ``problems``, naming the article and the column.
    """

    charset: str = "auto"
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.charset not in CHARSETS:
            raise CmsError(f"unknown charset {self.charset!r} (one of {', '.join(CHARSETS)})")
        first = _FIRST_TRY[self.charset]
        self._candidates = [first] + [c for c in ("utf-8", "gb18030") if c != first]

    def __call__(self, raw: Any, article_id: Any = "", column: str = "") -> str:
        if raw is None:
            return ""
        if isinstance(raw, str):
            return raw
        if not isinstance(raw, bytes | bytearray):
            return str(raw)
        if raw.isascii():
            return raw.decode("ascii")
        for candidate in self._candidates:
            try:
                return raw.decode(candidate)
            except UnicodeDecodeError:
                continue
        guess = _guess(bytes(raw))
        if guess is not None:
            self.problems.append(f"article {article_id}: {column} decoded as {guess[1]} (detected)")
            return guess[0]
        try:
            raw.decode(self._candidates[0])
            where = ""  # not reached: the first candidate failed above
        except UnicodeDecodeError as exc:
            where = f"bytes {exc.start}-{exc.end}"
        self.problems.append(
            f"article {article_id}: {column} is not valid {self.charset if self.charset != 'auto' else 'UTF-8 or GBK'} "
            f"({where}); undecodable bytes replaced"
        )
        return raw.decode(self._candidates[0], errors="replace")


def _guess(raw: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess (text, encoding) for a long enough value, or None."""
    if len(raw) < 64:
        return None
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None or best.encoding in {"utf_8", "gb18030", "gbk"}:
        return None
    return str(best), best.encoding


# --- HTML bodies --------------------------------------------------------------

_DROP = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_BREAK = re.compile(r"<br\s*/?>|</?(?:p|div|h[1-6]|li|tr|table|blockquote|section|article)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def html_to_text(body: str) -> str:
    """A CMS body's HTML → paragraphs of text, one per line (page markers kept as text)."""
    text = _DROP.sub("", body)
    text = _BREAK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# --- the mapping interface ----------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What the operator chose: table prefix, member-only articles, the site's timezone and address."""

    prefix: str = ""
    include_member_only: bool = False
    timezone: str = "Asia/Shanghai"
    site_url: str = ""  # prefixed to site-relative article URLs (/a/news/…) when the search runs on another host


class CmsReader:
    """One CMS's mapping: how to list ids cheaply, hash and fetch rows, and turn a row into an ``Article``.

    ``status`` returns every article id with a short token of what decides
    whether it is indexed (and, for CMSs with a real modification time, that
    time); ``indexable(token)`` says yes or why not. ``hash_ranges`` returns
    a per-article hash computed in SQL over an id range, for CMSs whose edits
    leave no trace in the status (``None`` when the token covers edits).
    ``fetch`` reads whole rows by id (each ending with its hash) and
    ``article`` maps one, raising ``Skip`` for rows not indexed as text.
    """

    name = ""
    default_prefix = ""
    tables: tuple[str, ...] = ()
    hashed = False  # whether edits are found by the SQL hash pass

    def __init__(self, options: Options) -> None:
        self.options = options
        self.prefix = options.prefix if options.prefix else self.default_prefix
        from ..articles import SHANGHAI

        if options.timezone == "Asia/Shanghai":
            self.tz: Any = SHANGHAI
        else:
            from zoneinfo import ZoneInfo

            self.tz = ZoneInfo(options.timezone)

    def table(self, name: str) -> str:
        return f"`{self.prefix}{name}`"

    def link(self, url: str) -> str:
        """A site-relative URL made absolute with ``site_url`` when one is set."""
        if self.options.site_url and url.startswith("/") and not url.startswith("//"):
            return self.options.site_url.rstrip("/") + url
        return url

    def status(self, conn: Any) -> dict[int, str]:
        raise NotImplementedError

    def indexable(self, token: str) -> str | None:
        """None when an article in this state is indexed, else why it is skipped."""
        raise NotImplementedError

    def hashes(self, conn: Any, low: int, high: int) -> dict[int, str]:
        return {}

    def fetch(self, conn: Any, ids: Iterable[int]) -> list[tuple]:
        raise NotImplementedError

    def fetch_after(self, conn: Any, after: int, limit: int) -> list[tuple]:
        raise NotImplementedError

    def article(self, row: tuple, decode: Decoder) -> Article:
        raise NotImplementedError


def placeholders(ids: Sequence[int]) -> str:
    return ",".join(["%s"] * len(ids))
