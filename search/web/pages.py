"""HTML pages: the search page and the article page (work without JavaScript)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from ..related import related
from . import ApiError
from .api import article_url, get_article, go_url, hot_lists, run_search, search_params

bp = Blueprint("pages", __name__)
bp.add_app_template_global(article_url)
bp.add_app_template_global(go_url)


def page_url(**changes: Any) -> str:
    args = {k: v for k, v in request.args.items() if v}
    args.update({k: v for k, v in changes.items()})
    return "/search?" + urlencode({k: v for k, v in args.items() if v not in (None, "")})


@bp.get("/")
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
    return render_template(
        "search.html", results=results, params=params, error=error, page_url=page_url, Markup=Markup
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
        related=related(current_app.extensions["engine"], article_id, 6) or [],
        hot=hot_lists(8)["articles"],
        params=None,
    )
