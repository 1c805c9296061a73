"""WordPress: ``wp_posts`` (``post_type='post'``), categories and tags through ``wp_term_relationships``.

``post_status='publish'`` is indexed (draft, pending, private, future and
trash are not); a password-protected post is read but not indexed as text.
``post_modified_gmt`` is a real modification time, so the status pass alone
finds edits (a category change alone does not touch it: it reaches the
index with the post's next edit). ``<!--nextpage-->`` breaks pages; the
address is ``/?p=ID``, which WordPress redirects to the permalink.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ..articles import Article, make_article
from .base import CmsReader, Decoder, Skip, html_to_text, placeholders, query

_NEXTPAGE = re.compile(r"<!--\s*nextpage\s*-->", re.I)
_SHORTCODE = re.compile(r"\[/?[a-z_][\w-]*(?:\s[^\]]*)?\]", re.I)
_BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:[^>]*-->")


class WordPress(CmsReader):
    name = "wordpress"
    default_prefix = "wp_"
    tables = ("posts", "term_relationships", "term_taxonomy", "terms", "users")

    def status(self, conn: Any) -> dict[int, str]:
        rows = query(
            conn, f"SELECT ID, post_status, post_modified_gmt FROM {self.table('posts')} WHERE post_type = 'post'"
        )
        return {int(i): f"{status.decode('ascii', 'replace')}:{modified}" for i, status, modified in rows}

    def indexable(self, token: str) -> str | None:
        status = token.split(":", 1)[0]
        return None if status == "publish" else f"post_status {status}"

    def _terms(self, taxonomy: str) -> str:
        return (
            f"(SELECT GROUP_CONCAT(t.name ORDER BY t.name SEPARATOR '\\n') FROM {self.table('term_relationships')} r "
            f"JOIN {self.table('term_taxonomy')} x ON x.term_taxonomy_id = r.term_taxonomy_id "
            f"JOIN {self.table('terms')} t ON t.term_id = x.term_id "
            f"WHERE r.object_id = p.ID AND x.taxonomy = '{taxonomy}')"
        )

    def _select(self) -> str:
        return (
            "SELECT p.ID, p.post_status, p.post_password, p.post_title, p.post_content, p.post_excerpt, "
            f"p.post_date_gmt, p.comment_count, u.display_name, {self._terms('category')}, {self._terms('post_tag')} "
            f"FROM {self.table('posts')} p LEFT JOIN {self.table('users')} u ON u.ID = p.post_author "
        )

    def fetch(self, conn: Any, ids: Iterable[int]) -> list[tuple]:
        ids = list(ids)
        return query(conn, self._select() + f"WHERE p.ID IN ({placeholders(ids)})", ids) if ids else []

    def fetch_after(self, conn: Any, after: int, limit: int) -> list[tuple]:
        return query(
            conn, self._select() + "WHERE p.ID > %s AND p.post_type = 'post' ORDER BY p.ID LIMIT %s", (after, limit)
        )

    def article(self, row: tuple, decode: Decoder) -> Article:
        pid, status, password, title, content, excerpt, date_gmt, _comments, author, categories, tags = row
        status = decode(status)
        if status != "publish":
            raise Skip(f"post_status {status}")
        if password:
            raise Skip("a password-protected post")
        text = lambda value, column: decode(value, pid, column)  # noqa: E731
        body = _SHORTCODE.sub("", _BLOCK_COMMENT.sub("", text(content, "post_content")))
        author_name = text(author, "display_name").strip()
        return make_article(
            f"wordpress post {pid}",
            id=str(pid),
            title=html.unescape(text(title, "post_title")),
            body=html_to_text(_NEXTPAGE.sub("#p##e#", body)),
            url=self.link(f"/?p={pid}"),
            published=date_gmt.replace(tzinfo=timezone.utc) if isinstance(date_gmt, datetime) else None,
            authors=[author_name] if author_name else None,
            channel=text(categories, "category").split("\n")[0],
            lead=html_to_text(text(excerpt, "post_excerpt")),
            tags=[t for t in text(tags, "post_tag").split("\n") if t],
        )
