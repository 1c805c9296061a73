"""The JSON API: search, articles, related, health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from ..index import IndexError_, NoIndexError
from ..query import parse_date_bound
from ..related import hot_articles, related
from ..searching import SORTS, QueryError, SearchEngine
from ..suggest import suggest
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
    cfg = current_app.config
    q = request.args.get("q", "")
    if len(q) > int(cfg["MAX_QUERY_CHARS"]):
        raise ApiError(400, "invalid_parameter", f"parameter 'q' is longer than {cfg['MAX_QUERY_CHARS']} characters")
    if "\x00" in q:
        raise ApiError(400, "invalid_parameter", "parameter 'q' contains a NUL character")
    sort = request.args.get("sort") or "relevance"
    if sort not in SORTS:
        raise ApiError(400, "invalid_parameter", f"parameter 'sort' must be one of {', '.join(SORTS)}")
    page = int_param("page", 1, 1, 1000)
    size = int_param("size", int(cfg["PAGE_SIZE"]), 1, int(cfg["MAX_PAGE_SIZE"]))
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


def run_search(params: dict[str, Any]) -> Any:
    try:
        results = engine().search(**params, facets=True)
        if params["page"] == 1 and params["q"]:
            found = 0 if results.weak else results.total  # a weak answer is a zero result to the reports
            current_app.extensions["querylog"].search(params["q"], found, results.took_ms)
            current_app.extensions["metrics"].search(found)
        return results
    except QueryError as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    except NoIndexError as exc:
        raise ApiError(503, "no_index", str(exc)) from None
    except IndexError_ as exc:
        raise ApiError(503, "index_unavailable", str(exc)) from None


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
    try:
        items = suggest(engine(), q, size, searched)
    except NoIndexError as exc:
        raise ApiError(503, "no_index", str(exc)) from None
    return jsonify({"query": q, "suggestions": items})


@bp.get("/go/<path:article_id>")
def go(article_id: str) -> Any:
    """Follow a result link to the article, recording the click when click logging is on."""
    get_article(article_id)
    if current_app.config["CLICK_LOG"]:
        current_app.extensions["querylog"].click(request.args.get("q", "")[:200], article_id)
    return redirect(url_for("pages.article_page", article_id=article_id), code=302)


def get_article(article_id: str) -> dict[str, Any]:
    try:
        article = engine().article(article_id)
    except NoIndexError as exc:
        raise ApiError(503, "no_index", str(exc)) from None
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
    items = related(engine(), article_id, size)
    if items is None:
        raise ApiError(404, "not_found", f"no article with id {article_id!r}")
    return jsonify({"id": article_id, "related": items})


@bp.get("/api/hot")
def api_hot() -> Any:
    """Return hot searches (from the query log) and hot articles (views plus clicks)."""
    size = int_param("size", 8, 1, 50)
    log = current_app.extensions["querylog"]
    return jsonify(
        {"searches": log.hot_searches(size), "articles": hot_articles(engine(), size, log.clicks_by_article())}
    )


@bp.get("/api/openapi.json")
def openapi() -> Any:
    """Describe the API (OpenAPI 3)."""
    return jsonify(openapi_document())


@bp.get("/healthz")
def healthz() -> Any:
    """Report the index generation and document count."""
    store = engine().store
    try:
        meta = store.meta()
    except NoIndexError as exc:
        raise ApiError(503, "no_index", str(exc)) from None
    try:
        store.check_compatible(meta)  # an index this analysis cannot search is not healthy
    except IndexError_ as exc:
        raise ApiError(503, "index_unavailable", str(exc)) from None
    return jsonify(
        {
            "status": "ok",
            "generation": store.current(),
            "doc_count": meta.get("doc_count"),
            "fingerprint": meta.get("fingerprint"),
        }
    )
