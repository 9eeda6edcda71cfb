"""The pure-ASGI pieces of the request path: rate-limit counters and the CORS gate."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from santiway_anomaly.api.cors import CorsForOrigins
from santiway_anomaly.api.ratelimit_storage import SWEEP_EVERY, WindowCounters


def test_window_counters_count_refuse_and_forget() -> None:
    storage = storage_from_string("santiway-memory://")
    assert isinstance(storage, WindowCounters)
    limiter = FixedWindowRateLimiter(storage)
    item = parse("3/second")
    assert [limiter.hit(item, "key:a", "/anomalies") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(item, "key:b", "/anomalies")  # another caller has a count of its own
    reset, remaining = limiter.get_window_stats(item, "key:a", "/anomalies")
    assert remaining == 0 and time.time() < reset <= time.time() + 1.01
    time.sleep(1.05)  # the window ends: a new one starts with the next hit
    assert limiter.hit(item, "key:a", "/anomalies")
    storage.reset()
    assert storage.get(item.key_for("key:b", "/anomalies")) == 0


def test_window_counters_sweep_expired_keys() -> None:
    storage = WindowCounters()
    for i in range(SWEEP_EVERY - 1):
        storage.incr(f"old-{i}", expiry=0)  # expired at once
    assert storage.get("old-0") == 0
    storage.incr("live", expiry=60)  # the table reaches the sweep size: expired keys go
    assert len(storage) == 1
    assert storage.get("live") == 1


def _app() -> TestClient:
    app = FastAPI()

    @app.get("/x")
    async def x() -> dict[str, int]:
        return {"x": 1}

    app.add_middleware(CorsForOrigins, allow_origins=["http://dash.example"], allow_methods=["GET"],
                       allow_headers=["X-API-Key"], max_age=600)
    return TestClient(app)


def test_cors_headers_only_for_requests_with_an_origin() -> None:
    with _app() as client:
        plain = client.get("/x")
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
        allowed = client.get("/x", headers={"Origin": "http://dash.example"})
        assert allowed.headers["access-control-allow-origin"] == "http://dash.example"
        other = client.get("/x", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = client.options("/x", headers={"Origin": "http://dash.example",
                                                  "Access-Control-Request-Method": "GET",
                                                  "Access-Control-Request-Headers": "X-API-Key"})
        assert preflight.status_code == 200 and preflight.headers["access-control-max-age"] == "600"
        refused = client.options("/x", headers={"Origin": "http://evil.example",
                                                "Access-Control-Request-Method": "GET"})
        assert refused.status_code == 400
