"""DedeCMS 5.7: ``dede_archives`` + ``dede_addonarticle`` + ``dede_arctype``, listed by ``dede_arctiny``.

* Only ``channel=1`` (articles) is indexed; a ``flag`` holding ``j`` is a
  redirect (``redirecturl``), read but not indexed as text.
* ``arcrank``: 0 public, −1 awaiting review, −2 recycle bin, > 0 member-only
  (indexed only with ``include_member_only``; served by ``/plus/view.php``).
* ``pubdate`` and ``senddate`` are unix seconds; the URL's date is the
  ``senddate`` in the site's timezone, through the type's ``namerule``
  (default ``{typedir}/{Y}{M}{D}/{aid}.html``); a dynamic type
  (``isdefault=-1``) is served by ``/plus/view.php?aid=``.
* There is no modification time: editing rewrites ``pubdate`` and the body,
  not ``senddate``. Status changes and deletions show in ``dede_arctiny``;
  edits in an MD5 over the article's columns, computed in SQL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..articles import Article, make_article
from .base import CmsReader, Decoder, Skip, html_to_text, placeholders, query

DEFAULT_NAMERULE = "{typedir}/{Y}{M}{D}/{aid}.html"

# Everything that changes what the index holds, as stored bytes (not `click`: views change all day).
_HASHED = (
    "a.title",
    "a.pubdate",
    "a.senddate",
    "a.flag",
    "a.typeid",
    "a.channel",
    "a.writer",
    "a.source",
    "a.keywords",
    "a.description",
    "a.filename",
    "b.body",
    "b.redirecturl",
    "t.typename",
    "t.typedir",
    "t.namerule",
    "t.isdefault",
)
HASH_SQL = "MD5(CONCAT_WS(0x1f, " + ", ".join(f"IFNULL(CAST({c} AS BINARY), 0x00)" for c in _HASHED) + "))"

_COLUMNS = (
    "a.id, a.flag, a.arcrank, a.channel, a.click, a.title, a.writer, a.source, a.pubdate, a.senddate, "
    "a.keywords, a.description, a.filename, b.body, t.typename, t.typedir, t.namerule, t.isdefault"
)


class DedeCMS(CmsReader):
    name = "dedecms"
    default_prefix = "dede_"
    tables = ("archives", "addonarticle", "arctype", "arctiny")
    hashed = True

    def _select(self) -> str:
        return (
            f"SELECT {_COLUMNS}, {HASH_SQL} FROM {self.table('archives')} a "
            f"LEFT JOIN {self.table('addonarticle')} b ON b.aid = a.id "
            f"LEFT JOIN {self.table('arctype')} t ON t.id = a.typeid "
        )

    def status(self, conn: Any) -> dict[int, str]:
        rows = query(conn, f"SELECT id, arcrank, channel FROM {self.table('arctiny')}")
        return {int(i): f"{int(rank)}:{int(channel)}" for i, rank, channel in rows}

    def indexable(self, token: str) -> str | None:
        rank, channel = (int(x) for x in token.split(":"))
        if channel != 1:
            return f"channel {channel} is not an article"
        if rank == -1:
            return "awaiting review"
        if rank == -2:
            return "in the recycle bin"
        if rank < 0:
            return f"arcrank {rank}"
        if rank > 0 and not self.options.include_member_only:
            return "member-only"
        return None

    def hashes(self, conn: Any, low: int, high: int) -> dict[int, str]:
        rows = query(
            conn,
            f"SELECT a.id, {HASH_SQL} FROM {self.table('archives')} a "
            f"LEFT JOIN {self.table('addonarticle')} b ON b.aid = a.id "
            f"LEFT JOIN {self.table('arctype')} t ON t.id = a.typeid WHERE a.id BETWEEN %s AND %s",
            (low, high),
        )
        return {int(i): h.decode("ascii") for i, h in rows}

    def fetch(self, conn: Any, ids: Iterable[int]) -> list[tuple]:
        ids = list(ids)
        if not ids:
            return []
        return query(conn, self._select() + f"WHERE a.id IN ({placeholders(ids)})", ids)

    def fetch_after(self, conn: Any, after: int, limit: int) -> list[tuple]:
        return query(conn, self._select() + "WHERE a.id > %s ORDER BY a.id LIMIT %s", (after, limit))

    def article(self, row: tuple, decode: Decoder) -> Article:
        (aid, flag, rank, channel, click, title, writer, source, pubdate, senddate) = row[:10]
        (keywords, description, filename, body, typename, typedir, namerule, isdefault) = row[10:18]
        flags = set(decode(flag).split(","))
        if int(channel) != 1:
            raise Skip(f"channel {channel} is not an article")
        if "j" in flags:
            raise Skip("a redirect article")
        reason = self.indexable(f"{int(rank)}:{int(channel)}")
        if reason:
            raise Skip(reason)
        text = lambda value, column: decode(value, aid, column)  # noqa: E731
        writer_name = text(writer, "writer").strip()
        return make_article(
            f"dedecms article {aid}",
            id=str(aid),
            title=html.unescape(text(title, "title")),
            body=html_to_text(text(body, "body")),
            url=self.link(
                self.url(
                    int(aid),
                    int(rank),
                    int(senddate or pubdate or 0),
                    text(typedir, "typedir"),
                    text(namerule, "namerule"),
                    int(isdefault or 0),
                    text(filename, "filename"),
                )
            ),
            published=datetime.fromtimestamp(int(pubdate), self.tz) if pubdate else None,
            source=text(source, "source"),
            authors=[writer_name] if writer_name else None,
            channel=text(typename, "typename"),
            lead=text(description, "description"),
            tags=[k for k in re.split(r"[\s,，;；、]+", text(keywords, "keywords")) if k],
            views=int(click or 0),
        )

    def url(
        self, aid: int, rank: int, senddate: int, typedir: str, namerule: str, isdefault: int, filename: str
    ) -> str:
        """The article's address as DedeCMS builds it (``GetFileUrl``)."""
        if rank != 0 or isdefault == -1:  # member-only and dynamic types are served by view.php
            return f"/plus/view.php?aid={aid}"
        when = datetime.fromtimestamp(senddate, self.tz)
        rule = namerule or DEFAULT_NAMERULE
        typedir = typedir.replace("{cmspath}", "").rstrip("/")
        if filename:  # a custom file name replaces the rule's file part
            rule = rule.rsplit("/", 1)[0] + "/" + filename + ".html"
        url = (
            rule.replace("{typedir}", typedir)
            .replace("{Y}", f"{when.year:04d}")
            .replace("{M}", f"{when.month:02d}")
            .replace("{D}", f"{when.day:02d}")
            .replace("{timestamp}", str(senddate))
            .replace("{aid}", str(aid))
        )
        return "/" + url.lstrip("/")
