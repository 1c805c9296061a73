"""The web service: app factory, JSON API and search pages.

``create_app(config=None)`` reads the settings table (defaults → ``NEWS_SEARCH_*``
environment variables → ``config``), opens the engine once, and registers the
``api`` and ``pages`` blueprints. Every 4xx/5xx answers with one JSON shape,
``{"error": {"code": ..., "message": ...}}`` (pages answer HTML for 404s).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import open_engine, wordclass
from ..querylog import QueryLog
from ..settings import load_settings
from . import metrics

log = logging.getLogger(__name__)


def _warm(engine: Any) -> None:
    """Load what the first searches need, then move it out of the garbage collector's way.

    The scoring arrays and the pinyin vocabulary are ~260,000 long-lived objects;
    frozen, a full collection no longer walks them (75 → 16 ms per full
    collection on xwlb, about one every 1,500 searches).
    """
    engine.warm()
    wordclass.load()  # function and generic words (jieba's dictionary, ~0.3 s): autocomplete, weak answers
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


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the search app; ``config`` overrides settings (tests pass INDEX etc.)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    config = dict(config or {})
    flask_keys = {k: config.pop(k) for k in list(config) if k in ("TESTING", "DEBUG")}
    settings = load_settings(os.environ, config)
    app.config.update(settings)
    app.config.update(flask_keys)
    engine = open_engine(settings)
    app.extensions["engine"] = engine
    log_path = settings["QUERY_LOG"] or str(Path(settings["INDEX"]) / "querylog.sqlite3")
    app.extensions["querylog"] = QueryLog(
        log_path, int(settings["QUERY_LOG_MAX_ROWS"]), float(settings["HOT_TTL_SECONDS"])
    )
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
            from flask import render_template

            return render_template("404.html"), 404
        return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s", request.path)
        return error_response(500, "internal_error", "the server could not answer this request")

    origins = [o.strip() for o in str(settings["CORS_ORIGINS"]).split(",") if o.strip()]

    @app.after_request
    def _cors(response: Any) -> Any:
        origin = request.headers.get("Origin")
        if origins and origin and ("*" in origins or origin in origins):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            response.headers["Vary"] = "Origin"
        return response

    return app
