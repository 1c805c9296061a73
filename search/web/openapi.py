"""The OpenAPI document of the JSON API (a test checks it against the routes)."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def _param(
    name: str, schema: dict[str, Any], description: str, where: str = "query", required: bool = False
) -> dict[str, Any]:
    param = {"name": name, "in": where, "required": required, "schema": schema, "description": description}
    if where == "query":
        # ``size=`` (as an empty form field or data attribute sends it) means the default
        param["allowEmptyValue"] = True
    return param


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "A parameter is invalid (the message names it).",
        403: "Not sent by one of this site's own pages (Sec-Fetch-Site / Origin).",
        404: "No such article.",
        503: "No index is built yet.",
    }
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}


ARTICLE_ID = _param("article_id", {"type": "string", "minLength": 1}, "Article id.", where="path", required=True)


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.0 document."""
    hit = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": "string"},
            "published": {"type": "string", "nullable": True},
            "source": {"type": "string"},
            "channel": {"type": "string"},
            "score": {"type": "number"},
            "snippet": {"type": "string", "description": "HTML-escaped text with <mark> around matches."},
            "title_html": {"type": "string"},
            "duplicates": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["id", "title", "url", "published", "source", "channel", "score", "snippet"],
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "news-search", "version": "0.1.0", "description": "Site search for Chinese news."},
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "Search articles.",
                    "parameters": [
                        _param(
                            "q",
                            {"type": "string", "maxLength": 256, "pattern": "^[^\\x00]*$"},
                            "Query, with search-box syntax (no NUL character).",
                        ),
                        _param("page", {"type": "integer", "minimum": 1, "maximum": 1000}, "Result page."),
                        _param("size", {"type": "integer", "minimum": 1, "maximum": 100}, "Hits per page."),
                        _param("sort", {"type": "string", "enum": ["relevance", "date"]}, "Order."),
                        _param("channel", {"type": "string"}, "Only this channel."),
                        _param("source", {"type": "string"}, "Only this source."),
                        _param("author", {"type": "string"}, "Only this author."),
                        _param("from", {"type": "string", "format": "date"}, "Published on or after."),
                        _param("to", {"type": "string", "format": "date"}, "Published on or before."),
                    ],
                    "responses": {
                        **_ok(
                            {
                                "type": "object",
                                "properties": {
                                    "query": {"type": "string"},
                                    "rewritten": {"type": "string"},
                                    "rewrite_reason": {"type": "string"},
                                    "suggestion": {"type": "string"},
                                    "weak": {"type": "boolean"},
                                    "missing": {"type": "array", "items": {"type": "string"}},
                                    "inexact": {"type": "array", "items": {"type": "string"}},
                                    "inexact_total": {"type": "integer"},
                                    "total": {"type": "integer"},
                                    "page": {"type": "integer"},
                                    "size": {"type": "integer"},
                                    "hits": {"type": "array", "items": hit},
                                    "facets": {"type": "object"},
                                    "took_ms": {"type": "number"},
                                },
                                "required": ["query", "total", "page", "size", "hits", "took_ms"],
                            }
                        ),
                        **_errors(400, 503),
                    },
                }
            },
            "/api/articles/{article_id}": {
                "get": {
                    "summary": "One article.",
                    "parameters": [ARTICLE_ID],
                    "responses": {**_ok({"type": "object"}), **_errors(404, 503)},
                }
            },
            "/api/articles/{article_id}/related": {
                "get": {
                    "summary": "The related-articles box (相关内容).",
                    "parameters": [
                        ARTICLE_ID,
                        _param("size", {"type": "integer", "minimum": 1, "maximum": 50}, "Items."),
                    ],
                    "responses": {**_ok({"type": "object"}), **_errors(400, 404, 503)},
                }
            },
            "/api/suggest": {
                "get": {
                    "summary": "Autocomplete (words, pinyin prefixes, titles).",
                    "parameters": [
                        _param("q", {"type": "string", "maxLength": 50}, "What was typed so far."),
                        _param("size", {"type": "integer", "minimum": 1, "maximum": 20}, "Suggestions."),
                    ],
                    "responses": {**_ok({"type": "object"}), **_errors(400, 503)},
                }
            },
            "/api/hot": {
                "get": {
                    "summary": "Hot searches and hot articles.",
                    "parameters": [_param("size", {"type": "integer", "minimum": 1, "maximum": 50}, "Items.")],
                    "responses": {**_ok({"type": "object"}), **_errors(400, 503)},
                }
            },
            "/api/click": {
                "post": {
                    "summary": "Record a click on a result (sent by the result page with navigator.sendBeacon).",
                    "description": "Counted only when the browser says the request comes from this site "
                    "(Sec-Fetch-Site: same-origin, or an Origin of this host), once per client per window, "
                    "and only with NEWS_SEARCH_CLICK_LOG on.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string", "minLength": 1},
                                        "q": {"type": "string"},
                                    },
                                    "required": ["id"],
                                }
                            }
                        },
                    },
                    "responses": {
                        "204": {"description": "Recorded (or click logging is off)."},
                        **_errors(400, 403, 404, 503),
                    },
                }
            },
            "/api/openapi.json": {"get": {"summary": "This document.", "responses": _ok({"type": "object"})}},
            "/healthz": {
                "get": {
                    "summary": "Index generation and document count.",
                    "responses": {**_ok({"type": "object"}), **_errors(503)},
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                            "required": ["code", "message"],
                        }
                    },
                    "required": ["error"],
                }
            }
        },
    }
