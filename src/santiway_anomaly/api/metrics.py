"""Prometheus metrics and the request log, in one pure ASGI middleware (no per-request task).

Requests are labelled by route template (`/analyze/device/{device_id}`), never by raw path, so a
scan of random URLs cannot blow up the number of series. The log line carries method, path
(without the query string: it may carry secrets), status and duration.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger
from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "anomaly_detection_requests",
    "HTTP requests served, by method, route and status",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "anomaly_detection_request_duration_seconds",
    "HTTP request latency, by route and status",
    ["route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ANOMALIES_DETECTED = Counter(
    "anomaly_detection_anomalies_detected",
    "New anomalies stored by detection runs, by type and severity",
    ["anomaly_type", "severity"],
)
DETECTION_RUNS = Counter("anomaly_detection_runs", "Detection runs, by outcome", ["outcome"])
LAST_RUN_DURATION = Gauge("anomaly_detection_last_run_duration_seconds", "Duration of the last detection run")
LAST_RUN_FINISHED = Gauge("anomaly_detection_last_run_timestamp_seconds", "Unix time the last run finished")


# Set by a middleware that answers without routing (api/fastpath.py): the route template it answered for.
ROUTE_KEY = "santiway.route"


def route_label(scope: Scope) -> str:
    answered = scope.get(ROUTE_KEY)
    if isinstance(answered, str):
        return answered
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class ObserveRequests:
    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests
        # Labelled children per (method, route, status): labels() costs more than the increment.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # if the app dies before answering, that is what the client sees

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = route_label(scope)
            code = str(status)
            key = (scope["method"], route, code)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (REQUESTS.labels(*key), REQUEST_DURATION.labels(route, code))
            children[0].inc()
            children[1].observe(elapsed)
            if self.log_requests:
                logger.info("{} {} {} {:.1f}ms", scope["method"], scope["path"], status, elapsed * 1000)
