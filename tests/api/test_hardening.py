"""Issue 13 on a real uvicorn with keys: no secret in any log line (WebSocket included), /health shows
status only without a key, failed sign-ins end in 429 and are counted, hostile POST /ingest bodies
get one clear 4xx or per-row rejects, never a 500."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

KEY = "hardening-key-5c1e7a2b9d"
OTHER = "second-key-0f3e8c6d4a21"
WRONG = "guess-0000000000000001"
MAX_FAILURES = 6
GOOD = {"ts": "2026-11-20T10:00:00Z", "device_id": "3C:22:FB:01:02:03", "sensor_id": "s1", "folder": "office",
        "rssi": -60, "lat": 55.75, "lon": 37.61}


async def _ws(url: str, query: str) -> str:
    try:
        async with connect(url + "/ws/notifications/?" + query, open_timeout=20, ping_interval=None) as ws:
            return str(json.loads(await asyncio.wait_for(ws.recv(), 20))["type"])
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}"


def test_keys_never_logged_health_private_sign_ins_limited(tmp_path: Path) -> None:
    env = {"VALID_API_KEYS": f"{KEY},{OTHER}", "API_AUTH_MAX_FAILURES": str(MAX_FAILURES),
           "API_AUTH_FAILURE_WINDOW_S": "600", "DETECT_INTERVAL": "0", "API_MAX_INGEST_BYTES": "65536"}
    server = start_server(tmp_path, None, env)  # type: ignore[arg-type] # no seeded world needed
    ws_url = server.url.replace("http://", "ws://")
    try:
        with server.client() as anon, server.client(KEY) as keyed:
            public = anon.get("/health").json()
            assert set(public) == {"status", "checked_at"}
            private = keyed.get("/health").json()
            assert private["store"]["target"] and private["version"]

            # WebSocket with the key in the query (the specification's way): accepted, and logged
            assert asyncio.run(_ws(ws_url, f"api_key={KEY}")) == "connection.established"
            assert asyncio.run(_ws(ws_url, f"api_key={OTHER}&min_severity=info")) == "connection.established"

            # hostile bodies: one clear 4xx for the body, per-row rejects for rows, never 500
            deep = keyed.post("/ingest", content=b"[" * 5000 + b"]" * 5000,
                              headers={"Content-Type": "application/json"})
            assert deep.status_code == 422 and "nested" in deep.text
            rows = (json.dumps(GOOD) + "\n" + '{"ts": "now", "vendor": "\\ud800"}' + "\u2028" + "\n"
                    + json.dumps({**GOOD, "ts": "2026-11-20T10:00:01Z"}) + "\n").encode()
            r = keyed.post("/ingest", content=rows, headers={"Content-Type": "application/x-ndjson"})
            assert r.status_code == 200, r.text
            assert (r.json()["accepted"], r.json()["rejected"]) == (2, 1)
            again = keyed.post("/ingest", content=rows, headers={"Content-Type": "application/x-ndjson"})
            assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
            big = keyed.post("/ingest", content=(json.dumps(GOOD) + "\n").encode() * 1000)
            assert big.status_code == 413 and "API_MAX_INGEST_BYTES" in big.text

            # a key in an HTTP query is refused (and must not be logged either)
            assert anon.get("/anomalies", params={"api_key": KEY}).status_code == 400

            # failed sign-ins: 401 up to the limit, then 429 for everything from this address, even for
            # an answer the fast path holds in memory (fetched here, before the failures)
            assert keyed.get("/anomalies").status_code == 200
            codes = [anon.get("/anomalies", headers={"X-API-Key": WRONG}).status_code for _ in range(MAX_FAILURES)]
            assert codes == [401] * MAX_FAILURES
            blocked = anon.get("/anomalies", headers={"X-API-Key": WRONG})
            assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
            assert keyed.get("/anomalies").status_code == 429  # the right key too: no oracle
            assert asyncio.run(_ws(ws_url, f"api_key={KEY}")).startswith("closed")
            metrics = httpx.get(server.url + "/metrics").text
            assert 'anomaly_detection_auth_failures_total{reason="invalid"} 6.0' in metrics
            assert 'anomaly_detection_auth_failures_total{reason="blocked"}' in metrics
    finally:
        stop_server(server)
    log = server.log_text()
    assert "WebSocket /ws/notifications/" in log  # the lines exist, the keys in them do not
    for secret in (KEY, OTHER, WRONG):
        assert secret not in log, [line for line in log.splitlines() if secret in line][:3]
    assert "Traceback" not in log
