"""The JSON API: search, articles, related, hot lists, clicks, health.

A missing index raises ``NoIndexError`` through every view: the app answers
it with one 503 (``search.web``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, current_app, jsonify, redirect, request

from .. import SORTS, QueryError, SearchEngine, hot_articles, parse_date_bound, related_articles, suggestions
from . import ApiError
from .openapi import openapi_document

bp = Blueprint("api", __name__)
SUGGEST_SEARCHED = 500  # hot searches autocomplete ranks by (the query log keeps them for HOT_TTL_SECONDS)


def engine() -> SearchEngine:
    return current_app.extensions["engine"]


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"parameter {name!r} must be an integer, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"parameter {name!r} must be between {low} and {high}, got {value}")
    return value


def date_param(name: str, end: bool = False) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    value = parse_date_bound(raw, end=end)
    if value is None:
        raise ApiError(400, "invalid_parameter", f"parameter {name!r} must be a date like 2020-01-31, got {raw[:40]!r}")
    return value


def search_params() -> dict[str, Any]:
    """Validate the search parameters shared by the API and the page."""
    serving = current_app.extensions["serving"]
    q = request.args.get("q", "")
    if len(q) > serving.max_query_chars:
        raise ApiError(400, "invalid_parameter", f"parameter 'q' is longer than {serving.max_query_chars} characters")
    if "\x00" in q:
        raise ApiError(400, "invalid_parameter", "parameter 'q' contains a NUL character")
    sort = request.args.get("sort") or "relevance"
    if sort not in SORTS:
        raise ApiError(400, "invalid_parameter", f"parameter 'sort' must be one of {', '.join(SORTS)}")
    page = int_param("page", 1, 1, 1000)
    size = int_param("size", serving.page_size, 1, serving.max_page_size)
    return {
        "q": q,
        "page": page,
        "size": size,
        "sort": sort,
        "channel": request.args.get("channel") or None,
        "source": request.args.get("source") or None,
        "author": request.args.get("author") or None,
        "date_from": date_param("from"),
        "date_to": date_param("to", end=True),
    }


def article_url(article_id: str) -> str:
    """The article page's path, the id one URL-encoded segment (``/`` ``?`` ``#`` ``..`` cannot escape it)."""
    return "/articles/" + quote(article_id, safe="")


def go_url(article_id: str, q: str = "") -> str:
    """A result link: ``/go/<id>?q=`` redirects to the article (with JavaScript, a beacon records the click)."""
    return "/go/" + quote(article_id, safe="") + ("?q=" + quote(q, safe="") if q else "")


def client() -> str:
    """This request's client key for today (a salted hash; neither address nor User-Agent is kept)."""
    ua = request.headers.get("User-Agent", "")[:512]
    return current_app.extensions["querylog"].client_id(request.remote_addr or "", ua)


def same_origin() -> bool:
    """True when the browser says this request comes from one of our own pages.

    ``Sec-Fetch-Site`` is set by the browser and cannot be set by a page;
    browsers without it send ``Origin`` on a POST. An ``<img>`` or a link on
    another site, or a form posted from one, fails both.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc == request.host


def run_search(params: dict[str, Any]) -> Any:
    try:
        results = engine().search(**params, facets=True)
    except QueryError as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    if params["page"] == 1 and params["q"]:
        log = current_app.extensions["querylog"]
        found = 0 if results.weak else results.total  # a weak answer is a zero result to the reports
        log.search(params["q"], found, results.took_ms, client(), results.relaxed or results.weak)
        current_app.extensions["metrics"].search(found)
    return results


@bp.get("/api/search")
def api_search() -> Any:
    """Search articles."""
    return jsonify(run_search(search_params()).to_json())


@bp.get("/api/suggest")
def api_suggest() -> Any:
    """Autocomplete what the reader has typed (words, pinyin prefixes, titles)."""
    q = request.args.get("q", "")
    if len(q) > 50:
        raise ApiError(400, "invalid_parameter", "parameter 'q' is longer than 50 characters")
    size = int_param("size", 8, 1, 20)
    searched = {h["query"]: h["count"] for h in current_app.extensions["querylog"].hot_searches(SUGGEST_SEARCHED)}
    items = suggestions(engine(), q, size, searched)
    return jsonify({"query": q, "suggestions": items})


@bp.get("/go/<path:article_id>")
def go(article_id: str) -> Any:
    """Follow a result link to the article (a GET never counts as a click: see ``/api/click``)."""
    get_article(article_id)
    return redirect(article_url(article_id), code=302)


@bp.post("/api/click")
def api_click() -> Any:
    """Record a reader's click on a result, sent by our own page (``navigator.sendBeacon``)."""
    if not same_origin():
        raise ApiError(403, "cross_site", "clicks are recorded only from this site's own pages")
    data = request.form if request.form else request.get_json(silent=True)
    article_id, q = (data.get("id"), data.get("q", "")) if hasattr(data, "get") else (None, "")
    if not isinstance(article_id, str) or not article_id or not isinstance(q, str):
        raise ApiError(400, "invalid_parameter", "parameter 'id' (and 'q', if given) must be strings")
    get_article(article_id)
    if current_app.extensions["serving"].click_log:
        current_app.extensions["querylog"].click(q[:400], article_id, client())
    return "", 204


def get_article(article_id: str) -> dict[str, Any]:
    article = engine().article(article_id)
    if article is None:
        raise ApiError(404, "not_found", f"no article with id {article_id!r}")
    return article


@bp.get("/api/articles/<path:article_id>")
def api_article(article_id: str) -> Any:
    """Return one article."""
    return jsonify(get_article(article_id))


@bp.get("/api/articles/<path:article_id>/related")
def api_related(article_id: str) -> Any:
    """Return the related-articles box (相关内容) for an article."""
    size = int_param("size", 5, 1, 50)
    items = related_articles(engine(), article_id, size)
    if items is None:
        raise ApiError(404, "not_found", f"no article with id {article_id!r}")
    return jsonify({"id": article_id, "related": items})


def hot_lists(size: int) -> dict[str, list[dict[str, Any]]]:
    """Hot searches and hot articles (views plus clicks), both through the deny-list; what pages and /api/hot show."""
    log = current_app.extensions["querylog"]
    articles = hot_articles(engine(), size + 8, log.clicks_by_article())
    return {
        "searches": log.hot_searches(size),
        "articles": [a for a in articles if not log.denylist.blocks(a["title"])][:size],
    }


@bp.get("/api/hot")
def api_hot() -> Any:
    """Return hot searches (from the query log) and hot articles (views plus clicks)."""
    return jsonify(hot_lists(int_param("size", 8, 1, 50)))


@bp.get("/api/openapi.json")
def openapi() -> Any:
    """Describe the API (OpenAPI 3)."""
    return jsonify(openapi_document())


@bp.get("/healthz")
def healthz() -> Any:
    """Report the index generation and document count."""
    store = engine().store
    meta = store.meta()
    store.check_compatible(meta)  # an index this analysis cannot search is not healthy
    return jsonify(
        {
            "status": "ok",
            "generation": store.current(),
            "doc_count": meta.get("doc_count"),
            "fingerprint": meta.get("fingerprint"),
        }
    )
