"""A service whose store is unavailable answers 503 with the reason (never a 500), and opens or reaches
the store by itself once it is back: on embedded chDB, a data directory held by another process; on a
ClickHouse server (the HTTP stand-in), a server that is not there at start, then goes away while the
service runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from santiway_anomaly.storage import Store
from tests.api.conftest import KEYS, start_server, stop_server
from tests.api.seed import World
from tests.clickhouse_http.fixture import ClickHouseHttp
from tests.conftest import STORE_MODE, SharedStore, own_settings

pytestmark = pytest.mark.slow

# The service tries to open a store it could not open every 10 s (api/main.py REOPEN_INTERVAL_S).
RECOVERY_S = 40


def _wait_for_health(client: httpx.Client, status: int) -> httpx.Response:
    deadline = time.monotonic() + RECOVERY_S
    while (health := client.get("/health")).status_code != status and time.monotonic() < deadline:
        time.sleep(0.5)
    assert health.status_code == status, health.text
    return health


def _assert_unavailable(client: httpx.Client, reason: str) -> None:
    body = _wait_for_health(client, 503).json()
    assert body["status"] == "unhealthy" and body["store"]["reachable"] is False
    assert reason in body["store"]["error"].lower(), body["store"]
    listing = client.get("/anomalies", params={"limit": 7})  # a query of its own: no cached answer
    assert listing.status_code == 503 and "store unavailable" in listing.json()["detail"], listing.text


@pytest.mark.embedded_only  # a directory lock is the embedded store's; the server path's fault is below
def test_locked_store_gives_503_then_recovers(
    shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("api-locked")
    shared_store.close()
    holder = Store.open(own_settings(path))  # this process holds the directory
    server = start_server(
        path,
        World(now=datetime.now(UTC), anomalies=[]),
        {"VALID_API_KEYS": KEYS[0]},
    )
    try:
        with server.client(KEYS[0]) as c:
            health = c.get("/health")
            assert health.status_code == 503
            body = health.json()
            assert body["status"] == "unhealthy" and body["store"]["reachable"] is False
            assert "locked" in body["store"]["error"].lower()
            listing = c.get("/anomalies")
            assert listing.status_code == 503 and "store unavailable" in listing.json()["detail"]
            holder.close()
            deadline = time.monotonic() + 40  # the service retries every 10 s
            while time.monotonic() < deadline and c.get("/health").status_code != 200:
                time.sleep(1)
            assert c.get("/health").json()["store"]["reachable"] is True
            assert c.get("/anomalies").json()["count"] == 0
    finally:
        holder.close()
        stop_server(server)
    assert " 500 " not in server.log_text()


@pytest.mark.skipif(STORE_MODE != "http", reason="the server path (SANTIWAY_TEST_STORE=http); "
                    "the embedded pass has the directory lock above")
def test_store_server_down_gives_503_then_recovers(
    shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("api-server-down")
    clickhouse = ClickHouseHttp(path / "clickhouse")  # a server of this test's own, to stop and start; not yet up
    env = {"VALID_API_KEYS": KEYS[0], **clickhouse.env(), "CLICKHOUSE_CONNECT_TRIES": "1"}
    server = start_server(path, World(now=datetime.now(UTC), anomalies=[]), env)
    try:
        with server.client(KEYS[0]) as c:
            # Down at start: the service runs and answers 503 until the server is there.
            _assert_unavailable(c, "cannot connect to clickhouse")
            clickhouse.start()
            health = _wait_for_health(c, 200).json()
            assert health["store"]["reachable"] is True and health["store"]["schema_version"]
            assert c.get("/anomalies").json()["count"] == 0
            # Gone while the service runs (kill -9), then back on the same port with the same data.
            clickhouse.stop()
            _assert_unavailable(c, "did not answer")  # a time-out or the query retries used up
            clickhouse.start()
            assert _wait_for_health(c, 200).json()["store"]["reachable"] is True
            assert c.get("/anomalies", params={"limit": 5}).json()["count"] == 0
    finally:
        stop_server(server)
        clickhouse.stop()
    assert " 500 " not in server.log_text()
    assert "Traceback" not in server.log_text()
