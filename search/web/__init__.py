"""The web service: app factory, JSON API and search pages.

``create_app(config=None)`` reads the settings table (defaults → ``NEWS_SEARCH_*``
environment variables → ``config``), opens the engine once, and registers the
``api`` and ``pages`` blueprints. Every 4xx/5xx answers with one JSON shape,
``{"error": {"code": ..., "message": ...}}`` (pages answer HTML for 404s and
503s). A missing or unusable index is one 503 on every route, its message
without the machine's paths. Every answer carries the security headers of
``security_headers``; redirects are relative paths, never built from ``Host``.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import (
    Denylist,
    IndexError_,
    NoIndexError,
    QueryLog,
    load_settings,
    load_word_classes,
    open_engine,
    query_log_path,
    read_groups,
    terminal_safe,
)
from . import metrics

log = logging.getLogger(__name__)


def _warm(engine: Any) -> None:
    """Load what the first searches need, then move it out of the garbage collector's way.

    The scoring arrays and the pinyin vocabulary are ~260,000 long-lived objects;
    frozen, a full collection no longer walks them (75 → 16 ms per full
    collection on xwlb, about one every 1,500 searches).
    """
    engine.warm()
    load_word_classes()  # function and generic words (jieba's dictionary, ~0.3 s): autocomplete, weak answers
    gc.freeze()


class ApiError(Exception):
    """An error with an HTTP status and a stable code, answered as JSON."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> Any:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def error_answer(status: int, code: str, message: str) -> Any:
    """The error in the shape the route speaks: JSON under /api/ and /healthz, an HTML page elsewhere."""
    if request.path.startswith(("/api/", "/healthz")):
        return error_response(status, code, message)
    return render_template("error.html", status=status, message=message, params=None), status


_PATH = re.compile(r"(?:/[^\s/:]+)+/?")


def index_error_message(exc: IndexError_, root: str) -> str:
    """``exc``'s message for readers: the index directory named as such, no absolute path of this machine."""
    message = str(exc)
    for path in sorted({root, os.path.abspath(root), os.path.realpath(root)}, key=len, reverse=True):
        message = message.replace(f" in {path}", "").replace(path, "the index")
    return _PATH.sub("…", message)


# Pages load their scripts and styles from /static only (no inline code): a script
# injected into a page cannot run, and no other site may frame one.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


def relative_location(response: Any) -> Any:
    """Make a redirect's Location a path on this site: never a host taken from the request's Host header.

    Werkzeug's own redirects (an empty path to ``/``, a slash added) are
    absolute URLs built from ``Host``; a reader's browser (or a cache in front)
    must not be sent to whatever host a request claimed.
    """
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        path = "/" + (parts.path if parts.scheme or parts.netloc else location).lstrip("/\\")
        if parts.scheme or parts.netloc:
            path += "?" + parts.query if parts.query else ""
        response.headers["Location"] = path
    return response


def security_headers(response: Any, static: bool) -> Any:
    """Add the headers every answer carries; dynamic answers are not stored by caches."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")  # a result page's ?q= never leaves the site
    if not static:
        html = (response.mimetype or "").startswith("text/html")
        headers.setdefault("Content-Security-Policy", PAGE_CSP if html else DATA_CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the search app; ``config`` overrides settings (tests pass INDEX etc.)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    config = dict(config or {})
    flask_keys = {k: config.pop(k) for k in list(config) if k in ("TESTING", "DEBUG")}
    settings = load_settings(os.environ, config)
    app.config.update(settings)
    app.config.update(flask_keys)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024  # the one body we read is a click: an id and a query
    engine = open_engine(settings)
    app.extensions["engine"] = engine
    serving = app.extensions["serving"] = read_groups(settings).serving
    querylog = app.extensions["querylog"] = QueryLog(
        str(query_log_path(settings)),
        serving.query_log_max_rows,
        serving.hot_ttl_seconds,
        window=serving.hot_window_seconds,
        min_clients=serving.hot_min_clients,
        denylist=Denylist.load(serving.paths("hot_denylist")),
    )
    atexit.register(querylog.close)  # a worker that stops writes the searches it has not written yet
    if serving.trusted_proxies > 0:  # the client address is the one the proxies in front saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=serving.trusted_proxies)  # type: ignore[method-assign]
    # ``//x`` or ``/a//b`` must not be answered with a redirect to an absolute URL built from Host.
    app.url_map.merge_slashes = False
    metrics.init_app(app)
    if not app.config.get("TESTING"):
        threading.Thread(target=_warm, args=(engine,), name="warm-up", daemon=True).start()

    from .api import bp as api_bp
    from .pages import bp as pages_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if exc.code == 404 and not request.path.startswith("/api/"):
            return render_template("404.html", params=None), 404
        return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "")

    @app.errorhandler(IndexError_)
    def _index_error(exc: IndexError_) -> Any:
        code = "no_index" if isinstance(exc, NoIndexError) else "index_unavailable"
        log.warning("%s on %s: %s", code, terminal_safe(request.path), terminal_safe(str(exc)))
        return error_answer(503, code, index_error_message(exc, str(settings["INDEX"])))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s", terminal_safe(request.path))
        return error_response(500, "internal_error", "the server could not answer this request")

    origins = [o.strip() for o in serving.cors_origins.split(",") if o.strip()]

    @app.after_request
    def _cors(response: Any) -> Any:
        origin = request.headers.get("Origin")
        if origins and origin and ("*" in origins or origin in origins):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            response.headers["Vary"] = "Origin"
        return security_headers(relative_location(response), static=request.endpoint == "static")

    return app
