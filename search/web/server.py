"""The production server: gunicorn (pre-forked workers with threads) around the app.

Searching is CPU-bound Python, so one worker process serves one request at a
time however many threads it has (the GIL); parallelism comes from workers.
With HTTP keep-alive a client's connection stays with the worker that accepted
it, and when a client's few connections (a load balancer, a proxy, wrk) all
land on the same worker, that worker does all the work while the others idle:
in the soak test throughput fell from ~80 to ~25 requests/s for as long as the
connections lived. ``RecycleConnections`` closes a kept-alive connection after
``every`` requests, so the client reconnects and a free worker (the first to
wake) accepts it; the cost is one reconnect per ``every`` requests.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

RECYCLE_EVERY = 32


class RecycleConnections:
    """WSGI middleware: close a kept-alive gunicorn connection after ``every`` requests."""

    def __init__(self, app: Callable[..., Iterable[bytes]], every: int = RECYCLE_EVERY) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.app = app
        self.every = every
        self._served: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        # gunicorn's start_response is a bound method of its Response, which can close the connection
        response = getattr(start_response, "__self__", None)
        if sock is not None and callable(getattr(response, "force_close", None)):
            with self._lock:
                served = self._served.pop(sock, 0) + 1
                recycle = served >= self.every
                if not recycle:
                    self._served[sock] = served
            if recycle:
                response.force_close()
        return self.app(environ, start_response)


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """The gunicorn settings ``serve`` runs with."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "keepalive": 5,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": False,  # each worker opens the index itself, after the fork
    }


def run(app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
    """Run gunicorn with ``options``; each worker builds its app with ``app_factory``."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return RecycleConnections(app_factory())

    Server().run()
