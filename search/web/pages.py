"""HTML pages: the search page and the article page (work without JavaScript)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from ..related import hot_articles, related
from . import ApiError
from .api import get_article, run_search, search_params

bp = Blueprint("pages", __name__)


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
    try:
        params = search_params()
        if params["q"] or params["channel"] or params["source"]:
            results = run_search(params)
    except ApiError as exc:
        error = exc.message
        params = {"q": request.args.get("q", "")[:200], "page": 1, "size": 10, "sort": "relevance"}
    status = 400 if error else 200
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
    engine = current_app.extensions["engine"]
    return render_template(
        "article.html",
        article=article,
        related=related(engine, article_id, 6) or [],
        hot=hot_articles(engine, 8, current_app.extensions["querylog"].clicks_by_article()),
        params=None,
    )
