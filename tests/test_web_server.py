"""The production server wrapper: connection recycling and gunicorn settings."""

from __future__ import annotations

import gc
import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.web.server import RECYCLE_EVERY, RecycleConnections, gunicorn_options


class FakeResponse:
    """Stands for gunicorn's Response: ``start_response`` is its bound method."""

    def __init__(self) -> None:
        self.closed = False

    def force_close(self) -> None:
        self.closed = True

    def start_response(self, status: str, headers: list) -> None:
        pass


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def serve(wrapped: RecycleConnections, sock: object, n: int) -> list[bool]:
    closed = []
    for _ in range(n):
        response = FakeResponse()
        assert wrapped({"gunicorn.socket": sock}, response.start_response) == [b"ok"]
        closed.append(response.closed)
    return closed


def test_connection_closed_after_every_requests_then_counted_again():
    wrapped = RecycleConnections(app, every=3)
    with socket.socket() as a, socket.socket() as b:
        assert serve(wrapped, a, 7) == [False, False, True, False, False, True, False]
        assert serve(wrapped, b, 2) == [False, False]  # counted per connection


def test_counts_do_not_outlive_their_sockets():
    wrapped = RecycleConnections(app, every=100)
    sock = socket.socket()
    serve(wrapped, sock, 5)
    assert len(wrapped._served) == 1
    sock.close()
    del sock
    gc.collect()
    assert len(wrapped._served) == 0


def test_other_servers_pass_through_untouched():
    wrapped = RecycleConnections(app, every=1)
    seen = []
    # werkzeug's dev server: a plain function, no gunicorn socket
    assert wrapped({}, lambda status, headers: seen.append(status)) == [b"ok"]
    assert seen == ["200 OK"]


def test_every_must_be_positive():
    with pytest.raises(ValueError, match="every must be at least 1, got 0"):
        RecycleConnections(app, every=0)


def test_gunicorn_options():
    assert gunicorn_options("127.0.0.1", 5000, 2, 8) == {
        "bind": "127.0.0.1:5000",
        "workers": 2,
        "threads": 8,
        "worker_class": "gthread",
        "keepalive": 5,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": False,
    }


def test_serve_recycles_kept_alive_connections(tmp_path, corpus):
    """The real ``cli.py serve``: answers over keep-alive and closes each connection after RECYCLE_EVERY requests."""
    root = Path(__file__).resolve().parents[1]
    index = tmp_path / "ix"
    cli = [sys.executable, str(root / "cli.py"), "--index", str(index)]
    subprocess.run([*cli, "reindex", str(corpus), "--full"], check=True, capture_output=True, timeout=300)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not listen within 60 s"
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        closed_after = []
        for i in range(2 * RECYCLE_EVERY + 1):
            conn.request("GET", "/api/search?q=%E7%96%AB%E6%83%85")
            response = conn.getresponse()
            assert response.status == 200, response.read()[:300]
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                closed_after.append(i + 1)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        assert closed_after == [RECYCLE_EVERY, 2 * RECYCLE_EVERY]
    finally:
        server.terminate()
        server.wait(timeout=30)
