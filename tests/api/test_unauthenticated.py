"""Production mode: nothing of the data is readable (or writable) without a key. Every operation of the
service's OpenAPI is called without a key and with a wrong one; only the health status, the metrics
(counts by route, type and severity, no MAC or folder) and the API's own documentation answer, and
none of them shows a device, a folder or an anomaly. The routes outside the OpenAPI are listed from the
app itself, so a new route cannot slip past this walk."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from santiway_anomaly.api.security import INVALID_KEY, MISSING_KEY
from tests.api.conftest import KEYS, Server, seeded_dir, start_server, stop_server
from tests.api.seed import DEVICE_A, DEVICE_B, DEVICE_C, OFFICE, WAREHOUSE
from tests.conftest import SharedStore

pytestmark = pytest.mark.slow

PUBLIC = {("GET", "/health"), ("GET", "/anomalies/health"), ("GET", "/metrics")}
# Served outside the OpenAPI on purpose: the documentation (its pages, its assets, the schema itself)
# and the WebSocket, which checks its key on connect (walked below).
OUTSIDE_SCHEMA = {"/docs", "/redoc", "/openapi.json", "/docs-assets", "/ws/notifications/"}
PLANTED = "0E:00:00:00:00:AA"  # sent without a key to POST /ingest: must not be stored
MAC = re.compile(r"(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
DATA_WORDS = (DEVICE_A, DEVICE_B, DEVICE_C, PLANTED, OFFICE[1], WAREHOUSE[1], "TestVendor")


@pytest.fixture(scope="module")
def server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("api-unauthenticated")
    # Many refused requests from one address on purpose: not a brute force to block here.
    env = {"VALID_API_KEYS": KEYS[0], "API_AUTH_MAX_FAILURES": "100000", "RATE_LIMIT_DEFAULT": "100000/minute",
           "RATE_LIMIT_LIST": "100000/minute", "RATE_LIMIT_DETECT": "100000/minute"}
    srv = start_server(path, seeded_dir(shared_store, path), env)
    yield srv
    stop_server(srv)


def _served_routes(data_dir: Path) -> set[str]:
    """Every path the app serves, read from the app in a separate process (it opens no store to list)."""
    code = ("import json; from santiway_anomaly.api.main import app; "
            "print(json.dumps(sorted({r.path for r in app.routes if getattr(r, 'path', '')})))")
    env = {**os.environ, "DATA_DIR": str(data_dir), "VALID_API_KEYS": KEYS[0], "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _no_data(text: str, where: str, examples: bool = False) -> None:
    """No MAC at all (the documentation's may hold its example MACs) and none of the stored data."""
    if not examples:
        assert not MAC.search(text), f"{where} shows a MAC: {MAC.search(text)}"
    for word in DATA_WORDS:
        if examples and MAC.fullmatch(word):
            continue  # the seed's third device is the documentation's own example MAC
        assert word not in text, f"{where} shows {word!r}"


def _body(method: str, path: str) -> dict[str, object]:
    if path == "/ingest":  # a well-formed row: refused for the key, not for its shape
        return {"json": [{"ts": "2026-11-20T10:00:00Z", "device_id": PLANTED, "sensor_id": "s1", "folder": "x",
                          "rssi": -60, "lat": 55.75, "lon": 37.61}]}
    if path.endswith("/feedback") and method == "POST":  # well-formed actions: refused for the key alone
        return {"json": {"verdict": "false_alarm", "mark_known": True}}
    if path.endswith("/known") and method == "POST":
        return {"json": {"reason": "all"}}
    return {"json": {"device_ids": [DEVICE_A, DEVICE_B], "device_id": DEVICE_A}} if method == "POST" else {}


async def _ws(url: str, query: str) -> str:
    try:
        async with connect(url + "/ws/notifications/" + query, open_timeout=20, ping_interval=None) as ws:
            return str(json.loads(await asyncio.wait_for(ws.recv(), 20)).get("type"))
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}"


def test_every_route_needs_a_key_in_production(server: Server, tmp_path: Path) -> None:
    anomaly_id = server.world.anomalies[0].anomaly_id
    with server.client() as anon:
        spec = anon.get("/openapi.json").json()
        operations = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
        assert len(operations) >= 20 and ("GET", "/devices/now") in operations
        for method, path in operations:
            url = path.format(anomaly_id=anomaly_id, device_id=DEVICE_A)
            for headers, detail in (({}, MISSING_KEY), ({"X-API-Key": "not-a-valid-key-123"}, INVALID_KEY)):
                r = anon.request(method, url, headers=headers, **_body(method, path))  # type: ignore[arg-type]
                if (method, path) in PUBLIC:
                    assert r.status_code == 200, (method, path, r.status_code)
                    _no_data(r.text, f"{method} {path}")
                    if path.endswith("/health"):
                        assert set(r.json()) == {"status", "checked_at"}
                else:
                    assert r.status_code == 401 and r.json() == {"detail": detail}, (method, path, r.text[:200])
        for path in ("/docs", "/redoc", "/openapi.json"):
            page = anon.get(path)
            assert page.status_code == 200
            _no_data(page.text, path, examples=True)
    # nothing sent without a key was stored
    with server.client(KEYS[0]) as keyed:
        heard = keyed.get("/devices/now", params={"minutes": 24 * 60}).json()
        assert PLANTED not in {d["device_id"] for d in heard["data"]}
        assert keyed.get(f"/anomalies/{anomaly_id}/feedback").status_code == 404  # no verdict was recorded
        assert DEVICE_A not in {k["device_id"] for k in keyed.get("/devices/known").json()["data"]}

    ws = server.url.replace("http://", "ws://")
    assert asyncio.run(_ws(ws, "")).startswith("closed")
    assert asyncio.run(_ws(ws, "?api_key=not-a-valid-key-123")).startswith("closed")
    assert asyncio.run(_ws(ws, f"?api_key={KEYS[0]}")) == "connection.established"

    documented = set(spec["paths"])
    served = _served_routes(tmp_path)
    assert served - documented <= OUTSIDE_SCHEMA, served - documented - OUTSIDE_SCHEMA
