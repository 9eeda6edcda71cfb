"""A real uvicorn on 127.0.0.1 running the service in a thread of the test process, on its own data dir.

In-process (not a subprocess) so that a test can store anomalies through the service's own store and
publish them exactly as a detection run does; the WebSocket clients and the webhook receivers talk to
it over real loopback sockets. The session store is closed first (one chDB directory per process); on the
HTTP stand-in the data dir has databases of its own (`tests.conftest.own_settings`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pytest
import uvicorn
from fastapi import FastAPI

from santiway_anomaly.anomaly import Anomaly, severity_for
from santiway_anomaly.api.main import create_app
from santiway_anomaly.config import Settings
from santiway_anomaly.notify.service import NotificationService
from santiway_anomaly.sightings import STORED_SCHEMA
from santiway_anomaly.storage.anomalies import save_anomalies
from tests.conftest import own_settings

T = TypeVar("T")
KEY = "notify-test-key-0001"
DEVICE = "AA:BB:CC:DD:EE:FF"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveService:
    """uvicorn + create_app(settings) on its own event loop in a thread."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.app: FastAPI = create_app(settings)
        self.loop = asyncio.new_event_loop()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", ws_ping_interval=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name=f"uvicorn-{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("service did not start")
            time.sleep(0.02)
        self.run(self.service.ready.wait(), timeout=START_TIMEOUT_S)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/ws/notifications/" + (f"?{query}" if query else "")

    @property
    def service(self) -> NotificationService:
        service = self.app.state.dispatcher
        assert isinstance(service, NotificationService)
        return service

    def run(self, coro: Awaitable[T], timeout: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def store_call(self, fn: Callable[..., T], *args: Any) -> T:
        return self.run(self.app.state.runner(fn, *args))

    def publish(self, anomalies: Sequence[Anomaly]) -> list[Anomaly]:
        """Store, then publish the new ones: what a detection run does after its detectors."""
        async def go() -> list[Anomaly]:
            new: list[Anomaly] = await self.app.state.runner(save_anomalies, list(anomalies))
            await self.service.publish(new)
            return new
        return self.run(go())

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "service did not stop"
        self.loop.close()


@pytest.fixture()
def make_service(store_closed: Settings, tmp_path: Path) -> Iterator[Callable[..., LiveService]]:
    """Start services on this test's own data dir: `make_service(**settings_overrides)`."""
    started: list[LiveService] = []

    def make(port: int | None = None, **overrides: Any) -> LiveService:
        values: dict[str, Any] = {"valid_api_keys": [KEY], "rate_limit_enabled": False, "api_log_requests": False,
                                  "notify_cooldown_s": 0.0, **overrides}
        service = LiveService(own_settings(tmp_path / "data", **values), port)
        started.append(service)
        return service

    yield make
    for service in started:
        if service.thread.is_alive():
            service.stop()


def lingering_rows(now: datetime) -> pa.Table:
    """A device that stays near one point for 4.7 hours with a steady signal (stationary surveillance),
    in an office whose history (a staff phone on the five days before) lets the detector tell regulars."""
    start = now - timedelta(hours=5)
    row = {"sensor_id": "s-office-1", "folder": "office", "network_type": "wifi", "lon": 37.61, "is_randomized": 0}
    rows = [{**row, "ts": start + timedelta(minutes=m), "device_id": DEVICE, "rssi": -50 - (m % 5),
             "lat": 55.75 + (m % 3) * 1e-5, "vendor": "Apple, Inc."} for m in range(280)]
    for day in range(2, 7):
        rows += [{**row, "ts": now - timedelta(days=day, minutes=m), "device_id": "11:22:33:44:55:00",
                  "rssi": -70, "lat": 55.75, "vendor": "Staff"} for m in range(0, 60, 5)]
    return pa.Table.from_pylist(rows, schema=STORED_SCHEMA)


_counter = iter(range(1, 1_000_000))


def make_anomaly(*, anomaly_type: str = "density_spike", score: float = 0.853, device_id: str = "",
                 folder: str = "office", hours_ago: int = 1, start: datetime | None = None, **extra: Any) -> Anomaly:
    """A distinct anomaly each call (its window differs: consecutive calls give consecutive hours), like a
    detector's output; `start` pins the window's start instead."""
    n = next(_counter)
    start = start or datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n, minutes=hours_ago)
    return Anomaly(anomaly_type=anomaly_type, severity=str(severity_for(score)), score=score, window_start=start,
                   window_end=start + timedelta(hours=1), device_id=device_id, folder=folder,
                   vendor=extra.pop("vendor", "Apple Inc."), network_type=extra.pop("network_type", "wifi"),
                   lat=extra.pop("lat", 55.7558), lon=extra.pop("lon", 37.6173),
                   details=extra.pop("details", {"unique_devices": 150, "p95_baseline": 80}), **extra)


@dataclass
class Receiver:
    """A local HTTP receiver for the webhook: fails the first `fail_first` requests with `fail_status`."""

    port: int
    fail_first: int = 0
    fail_status: int = 503
    received: list[dict[str, Any]] = field(default_factory=list)  # accepted bodies, in order
    keys: list[str] = field(default_factory=list)  # Idempotency-Key of each accepted request
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests += 1
                    fail = receiver.requests <= receiver.fail_first
                    if not fail and self.path == "/notifications/api/send/":
                        receiver.received.append(json.loads(body))
                        receiver.keys.append(self.headers.get("Idempotency-Key", ""))
                ok = 200 if self.path == "/notifications/api/send/" else 404
                self.send_response(receiver.fail_status if fail else ok)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture()
def receiver_port() -> Iterator[int]:
    yield free_port()


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
