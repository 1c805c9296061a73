"""Prometheus metrics: requests, latency histogram, errors, zero-result rate.

Counters live in the worker process (waitress runs threads in one process),
updated under a lock, rendered in Prometheus' text format at ``/metrics``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from flask import Flask, Response, g, request

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.buckets: Counter[tuple[str, float]] = Counter()
        self.latency_sum: Counter[str] = Counter()
        self.latency_count: Counter[str] = Counter()
        self.searches = 0
        self.zero_results = 0
        self.started = time.time()

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(endpoint, status)] += 1
            self.latency_sum[endpoint] += seconds
            self.latency_count[endpoint] += 1
            for b in BUCKETS:
                if seconds <= b:
                    self.buckets[(endpoint, b)] += 1

    def search(self, total: int) -> None:
        with self.lock:
            self.searches += 1
            self.zero_results += total == 0

    def render(self) -> str:
        with self.lock:
            lines = [
                "# HELP news_search_requests_total HTTP requests by endpoint and status.",
                "# TYPE news_search_requests_total counter",
            ]
            for (endpoint, status), n in sorted(self.requests.items()):
                lines.append(f'news_search_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
            lines += [
                "# HELP news_search_errors_total HTTP responses with status 500 or more.",
                "# TYPE news_search_errors_total counter",
                f"news_search_errors_total {sum(n for (_, s), n in self.requests.items() if s >= 500)}",
                "# HELP news_search_request_seconds Request latency.",
                "# TYPE news_search_request_seconds histogram",
            ]
            for endpoint in sorted(self.latency_count):
                for b in BUCKETS:
                    lines.append(
                        f'news_search_request_seconds_bucket{{endpoint="{endpoint}",le="{b}"}} {self.buckets[(endpoint, b)]}'
                    )
                lines.append(
                    f'news_search_request_seconds_bucket{{endpoint="{endpoint}",le="+Inf"}} {self.latency_count[endpoint]}'
                )
                lines.append(
                    f'news_search_request_seconds_sum{{endpoint="{endpoint}"}} {self.latency_sum[endpoint]:.6f}'
                )
                lines.append(
                    f'news_search_request_seconds_count{{endpoint="{endpoint}"}} {self.latency_count[endpoint]}'
                )
            rate = self.zero_results / self.searches if self.searches else 0.0
            lines += [
                "# HELP news_search_searches_total Searches answered.",
                "# TYPE news_search_searches_total counter",
                f"news_search_searches_total {self.searches}",
                "# HELP news_search_zero_results_total Searches that found nothing.",
                "# TYPE news_search_zero_results_total counter",
                f"news_search_zero_results_total {self.zero_results}",
                "# HELP news_search_zero_result_rate Share of searches that found nothing.",
                "# TYPE news_search_zero_result_rate gauge",
                f"news_search_zero_result_rate {rate:.4f}",
            ]
        return "\n".join(lines) + "\n"


def init_app(app: Flask) -> Metrics:
    metrics = Metrics()
    app.extensions["metrics"] = metrics

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _record(response: Any) -> Any:
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.observe(endpoint, response.status_code, time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @app.get("/metrics")
    def metrics_view() -> Response:
        """Expose Prometheus metrics."""
        return Response(metrics.render(), mimetype="text/plain; version=0.0.4")

    return metrics
