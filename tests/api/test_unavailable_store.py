"""A service whose store is held by another process answers 503 with the reason (never a 500),
and opens the store by itself once it is free."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from santiway_anomaly.config import load_settings
from santiway_anomaly.storage import Store
from tests.api.conftest import KEYS, start_server, stop_server
from tests.api.seed import World
from tests.conftest import SharedStore

pytestmark = pytest.mark.slow


def test_locked_store_gives_503_then_recovers(
    shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("api-locked")
    shared_store.close()
    holder = Store.open(load_settings(data_dir=path, _env_file=None))  # this process holds the directory
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
