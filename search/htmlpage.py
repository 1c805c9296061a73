"""Crawled HTML article pages → articles, without the site's chrome.

A DedeCMS site changes its templates over the years, so the parser looks for
the parts by several names (``.content``, ``#article``, ``.news_txt``…) and
falls back to the densest block of paragraphs. Navigation, related/hot boxes,
scripts, styles and footers never reach the indexed text.
"""

from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from .articles import Article, ArticleError, find_date, make_article

_BODY_SELECTORS = (
    "#article",
    ".article-content",
    ".content",
    ".news_txt",
    ".newstext",
    "#content",
    ".article",
    "article",
    "#text",
)
_CHROME_SELECTORS = (
    "script",
    "style",
    "noscript",
    "iframe",
    "nav",
    "footer",
    "header",
    "form",
    ".nav",
    ".position",
    ".breadcrumb",
    ".related",
    ".relate",
    ".hot",
    ".hotnews",
    ".footer",
    ".header",
    ".pages",
    ".pagelist",
    ".share",
    ".summary",
    ".info",
)
_MARKER = re.compile(r"#p#[^#<>]{0,80}#e#")
_TITLE_SUFFIX = re.compile(r"\s*[_|\-–—]\s*[^_|\-–—]*$")


def _text(node: Node | None) -> str:
    return " ".join(node.text(separator=" ").split()) if node is not None else ""


def _paragraphs(node: Node) -> str:
    """Return the block's text, one paragraph per line."""
    blocks = node.css("p, h2, h3, h4, li, div.p")
    if blocks:
        lines = [" ".join(b.text(separator=" ").split()) for b in blocks]
    else:
        lines = [" ".join(line.split()) for line in node.text(separator="\n").splitlines()]
    return "\n".join(line for line in lines if line)


def _field(info: str, *labels: str) -> str:
    for label in labels:
        match = re.search(rf"{label}\s*[:：]\s*(\S+(?:\s\S+)?)", info)
        if match:
            value = re.split(r"\s+(?=\S+[:：])", match.group(1))[0]
            return value.strip(" |｜/")
    return ""


def parse_html_page(text: str, where: str, article_id: str) -> Article:
    """Parse one article page; raise ``ArticleError`` when it holds no article."""
    # Page markers often stand between paragraphs as bare text: give them a paragraph.
    tree = HTMLParser(_MARKER.sub(lambda m: f"<p>{m.group(0)}</p>", text))
    if tree.body is None:
        raise ArticleError(where, "not an HTML page")
    meta_url = tree.css_first("link[rel=canonical]") or tree.css_first("meta[property='og:url']")
    url = (meta_url.attributes.get("href") or meta_url.attributes.get("content") or "") if meta_url else ""
    h1 = tree.css_first("h1")
    title = _text(h1)
    if not title:
        title = _TITLE_SUFFIX.sub("", _text(tree.css_first("title")))
        title = _TITLE_SUFFIX.sub("", title) if "_" in title else title
    info_node = tree.css_first(".info") or tree.css_first(".article-info") or tree.css_first(".time")
    info = _text(info_node) or _text(tree.body)[:2000]
    published = find_date(info)
    hits = tree.css_first("#hits")
    views_text = _text(hits) if hits is not None else _field(info, "点击", "浏览", "阅读")
    views = int(views_text) if views_text.isdigit() else 0
    source = _field(info, "来源")
    author_line = _field(info, "作者", "编辑")
    summary = tree.css_first(".summary")
    lead = re.sub(r"^\s*核心提示[:：]?\s*", "", _text(summary))

    for selector in _CHROME_SELECTORS:
        for node in tree.css(selector):
            node.decompose()
    body_node = next((n for s in _BODY_SELECTORS if (n := tree.css_first(s)) is not None), None)
    if body_node is None:
        # Densest block: the element whose own <p> children hold the most text.
        best, best_len = None, 0
        for node in tree.css("div, td, section"):
            length = sum(len(p.text()) for p in node.css("p") if p.parent is node)
            if length > best_len:
                best, best_len = node, length
        body_node = best
    body = html.unescape(_paragraphs(body_node)) if body_node is not None else ""
    authors = [author_line] if author_line and not body.startswith(("本报讯", "商报消息")) else None
    return make_article(
        where,
        id=article_id,
        url=url,
        title=html.unescape(title),
        published=published,
        source=source,
        authors=authors,
        lead=html.unescape(lead),
        body=body,
        views=views,
    )
