"""Small answers that were wrong (issue 13): a 405's Allow names every method of the path, `mark_known: 0` is not
a boolean, a detector named twice runs once, and a binary WebSocket frame gets an error message, not a dropped
connection."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from santiway_anomaly.catalog import RULE_DETECTORS
from tests.api.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

KEY = "clear-answers-key-7d1f0e"
ANOMALY = "0" * 32


async def _binary_then_ping(url: str) -> list[dict[str, object]]:
    async with connect(url + f"/ws/notifications/?api_key={KEY}", open_timeout=20, ping_interval=None) as ws:
        got = [json.loads(await asyncio.wait_for(ws.recv(), 20))]
        await ws.send(b"\x00\x01binary")
        got.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
        await ws.send(json.dumps({"type": "ping"}))
        got.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
        return got


def test_clear_answers(tmp_path: Path) -> None:
    server = start_server(tmp_path, None, {"VALID_API_KEYS": KEY, "DETECT_INTERVAL": "0"})  # type: ignore[arg-type]
    try:
        with server.client(KEY) as client:
            known = client.put("/devices/3C:22:FB:01:02:03/known")
            assert known.status_code == 405
            assert {"POST", "DELETE"} <= {m.strip() for m in known.headers["allow"].split(",")}
            feedback = client.put(f"/anomalies/{ANOMALY}/feedback")
            assert feedback.status_code == 405
            assert {"GET", "POST"} <= {m.strip() for m in feedback.headers["allow"].split(",")}
            assert client.get("/ingest").headers["allow"] == "POST"
            assert client.get("/anomalies/detect-and-notify").headers["allow"] == "POST"  # not an anomaly id

            for value in (0, 1, "true", None):
                r = client.post(f"/anomalies/{ANOMALY}/feedback", json={"verdict": "false_alarm", "mark_known": value})
                assert r.status_code == 422, (value, r.text)
                assert r.json()["detail"][0]["loc"][-1] == "mark_known"

            name = RULE_DETECTORS[0]
            twice = client.post(f"/anomalies/detect-and-notify?detectors={name},{name}")
            assert twice.status_code == 200, twice.text
            assert list(twice.json()["timings"]) == [name]  # a name given twice runs once
            once = client.post(f"/anomalies/detect-and-notify?detectors={name}")
            assert once.status_code == 200, once.text

        established, error, pong = asyncio.run(_binary_then_ping(server.url.replace("http://", "ws://")))
        assert established["type"] == "connection.established"
        assert error["type"] == "error" and "binary" in str(error["detail"])
        assert pong["type"] == "pong"  # the connection is still open after the binary frame
    finally:
        stop_server(server)
