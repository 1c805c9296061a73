"""HTML pages: the landing page, the search page and the article page (work without JavaScript)."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from .. import IndexError_, NoIndexError, related_articles
from . import ApiError
from .api import article_url, get_article, go_url, hot_lists, run_search, search_params

bp = Blueprint("pages", __name__)
bp.add_app_template_global(article_url)
bp.add_app_template_global(go_url)

HOT_SEARCHES = 10  # 热搜 on the landing page and under a weak answer
HOT_ARTICLES = 8  # 热门资讯
LATEST_PER_CHANNEL = 5
LATEST_CHANNELS = 6


def page_url(**changes: Any) -> str:
    args = {k: v for k, v in request.args.items() if v}
    args.update({k: v for k, v in changes.items()})
    return "/search?" + urlencode({k: v for k, v in args.items() if v not in (None, "")})


def landing() -> dict[str, Any]:
    """热搜, 热门资讯 and the latest articles by channel, computed at most every ``HOT_TTL_SECONDS`` per process."""
    engine = current_app.extensions["engine"]
    key = engine.store.current()
    cached = current_app.extensions.get("landing")
    now = time.monotonic()
    if cached and cached[1] == key and now - cached[0] < current_app.extensions["serving"].hot_ttl_seconds:
        return cached[2]
    hot = hot_lists(max(HOT_SEARCHES, HOT_ARTICLES))
    data = {
        "searches": hot["searches"][:HOT_SEARCHES],
        "articles": hot["articles"][:HOT_ARTICLES],
        "latest": engine.latest(LATEST_PER_CHANNEL, LATEST_CHANNELS),
    }
    current_app.extensions["landing"] = (now, key, data)
    return data


def without_words(q: str, words: list[str]) -> str | None:
    """The query with ``words`` taken out (the words no article holds), or None when nothing useful is left."""
    out = q
    for word in words:
        out = re.sub(re.escape(word), " ", out, flags=re.IGNORECASE)
    out = " ".join(out.split())
    return out if out and out != " ".join(q.split()) else None


@bp.get("/")
def home() -> Any:
    """The landing page: the search box, 热搜, 热门资讯 and the latest articles by channel."""
    if request.args.get("q"):  # an old bookmark of /?q=: the search page answers it
        return search_page()
    try:
        data = landing()
    except (NoIndexError, IndexError_):  # no index yet: the search box alone still works
        data = {"searches": [], "articles": [], "latest": []}
    return render_template("home.html", params=None, **data)


@bp.get("/search")
def search_page() -> Any:
    """Show the search box and, with ?q=, the results."""
    error = None
    results = None
    status = 200
    try:
        params = search_params()
        if params["q"] or params["channel"] or params["source"]:
            results = run_search(params)
    except ApiError as exc:
        error, status = exc.message, exc.status
        params = {"q": request.args.get("q", "")[:200], "page": 1, "size": 10, "sort": "relevance"}
    hot: list[dict[str, Any]] = []
    shorter = None
    if results is not None and (results.weak or not results.hits):
        shorter = without_words(params["q"], results.missing)
        hot = landing()["searches"]
    return render_template(
        "search.html",
        results=results,
        params=params,
        error=error,
        page_url=page_url,
        Markup=Markup,
        hot=hot,
        shorter=shorter,
    ), status


@bp.get("/articles/<path:article_id>")
def article_page(article_id: str) -> Any:
    """Show one article with its related box."""
    try:
        article = get_article(article_id)
    except ApiError as exc:
        return render_template("404.html", message=exc.message), exc.status
    return render_template(
        "article.html",
        article=article,
        related=related_articles(current_app.extensions["engine"], article_id, 6) or [],
        hot=hot_lists(8)["articles"],
        params=None,
    )
