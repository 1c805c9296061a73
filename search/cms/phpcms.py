"""PHPCMS v9: ``v9_news`` + ``v9_news_data``, channels from ``v9_category``.

``status`` 99 is published (1–4 are review steps, 0 is rejected);
``updatetime`` is a real modification time, so the status pass alone finds
edits. ``islink=1`` is a link to elsewhere, not indexed as text. Bodies are
HTML with ``[page]`` or ``[page]副标题[/page]`` page breaks; ``copyfrom`` is
``来源|id``; ``url`` is stored per article.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..articles import Article, make_article
from .base import CmsReader, Decoder, Skip, html_to_text, placeholders, query

PUBLISHED = 99
_PAGE = re.compile(r"\[page\](?:([^\[\]]{0,80}?)\[/page\])?", re.I)


def page_markers(body: str) -> str:
    """PHPCMS page breaks → the ``#p#副标题#e#`` markers ``Article`` pages come from."""
    return _PAGE.sub(lambda m: f"#p#{m.group(1) or ''}#e#", body)


class PHPCMS(CmsReader):
    name = "phpcms"
    default_prefix = "v9_"
    tables = ("news", "news_data", "category")

    def status(self, conn: Any) -> dict[int, str]:
        rows = query(conn, f"SELECT id, status, updatetime FROM {self.table('news')}")
        return {int(i): f"{int(status)}:{int(updated)}" for i, status, updated in rows}

    def indexable(self, token: str) -> str | None:
        status = int(token.split(":")[0])
        return None if status == PUBLISHED else f"status {status} is not published"

    def _select(self) -> str:
        return (
            "SELECT n.id, n.status, n.islink, n.title, n.keywords, n.description, n.url, n.inputtime, "
            f"d.content, d.copyfrom, c.catname FROM {self.table('news')} n "
            f"LEFT JOIN {self.table('news_data')} d ON d.id = n.id "
            f"LEFT JOIN {self.table('category')} c ON c.catid = n.catid "
        )

    def fetch(self, conn: Any, ids: Iterable[int]) -> list[tuple]:
        ids = list(ids)
        return query(conn, self._select() + f"WHERE n.id IN ({placeholders(ids)})", ids) if ids else []

    def fetch_after(self, conn: Any, after: int, limit: int) -> list[tuple]:
        return query(conn, self._select() + "WHERE n.id > %s ORDER BY n.id LIMIT %s", (after, limit))

    def article(self, row: tuple, decode: Decoder) -> Article:
        nid, status, islink, title, keywords, description, url, inputtime, content, copyfrom, catname = row
        if int(status) != PUBLISHED:
            raise Skip(f"status {status} is not published")
        if int(islink or 0):
            raise Skip("a link article")
        text = lambda value, column: decode(value, nid, column)  # noqa: E731
        return make_article(
            f"phpcms article {nid}",
            id=str(nid),
            title=html.unescape(text(title, "title")),
            body=html_to_text(page_markers(text(content, "content"))),
            url=self.link(text(url, "url")),
            published=datetime.fromtimestamp(int(inputtime), self.tz) if inputtime else None,
            source=text(copyfrom, "copyfrom").split("|", 1)[0],
            channel=text(catname, "catname"),
            lead=text(description, "description"),
            tags=[k for k in re.split(r"[\s,，]+", text(keywords, "keywords")) if k],
        )
