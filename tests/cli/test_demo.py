"""The one-command demo, as a new user runs it: history, model, service, live feed; a live anomaly
reaches a WebSocket client within one detection interval; SIGTERM stops every process it started."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import websockets

from santiway_anomaly.config import Settings
from tests.conftest import own_env

KEY = "demo-test-key-0123456789"
DETECT_INTERVAL_S = 10
SLACK_S = 10
HOUR_END_GUARD_S = 15  # the live feed's arrival burst (10 s) and a little


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _injected_crowds(truth: Path) -> list[dict[str, object]]:
    if not truth.exists():
        return []
    lines = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [t for t in lines if t["anomaly_type"] == "density_spike"]


async def _injected_crowd_notified(url: str, truth: Path, timeout: float) -> tuple[dict[str, object], float]:
    """The first density_spike pushed for a crowd the live feed injected (its truth file says where and
    when), with the crowd's latency: the history's own crowds were stored before the service started."""
    deadline = time.monotonic() + timeout
    async with websockets.connect(url) as ws:
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=deadline - time.monotonic()))
            received = time.time()
            if message.get("type") != "anomaly.detected" or message["anomaly"]["type"] != "density_spike":
                continue
            for crowd in _injected_crowds(truth):
                injected = datetime.fromisoformat(str(crowd["injected_at"])).timestamp()
                # The detector counts clock hours: a crowd that arrived in an hour's last seconds is counted
                # in the next hour once its members probe again. Rare; then wait for the next crowd.
                at_hour_end = 3600 - injected % 3600 < HOUR_END_GUARD_S
                if crowd["folder"] == message["anomaly"]["folder"] and injected <= received and not at_hour_end:
                    return dict(message), received - injected
    raise AssertionError(f"no density_spike notification for an injected crowd ({truth}) in time")


@pytest.mark.slow
def test_demo_delivers_a_live_anomaly_and_stops_cleanly(store_closed: Settings, tmp_path: Path) -> None:
    port = _free_port()
    env = {**own_env(tmp_path / "data"), "MODEL_PATH": str(tmp_path / "models" / "m.pt"),
           "API_PORT": str(port), "VALID_API_KEYS": KEY, "LOG_LEVEL": "WARNING"}
    env.pop("TIMEZONE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "santiway_anomaly.cli.main", "demo", "--devices", "120", "--days", "6",
         "--epochs", "1", "--inject-every", "20", "--detect-interval", str(DETECT_INTERVAL_S), "--no-dashboard"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo's service did not come up"
            time.sleep(1)
        message, latency = asyncio.run(_injected_crowd_notified(
            f"ws://127.0.0.1:{port}/ws/notifications/?api_key={KEY}", tmp_path / "data" / "demo-live" / "truth.jsonl",
            180))
        # Within one detection interval of the injection, plus the run and the feed's 2-second batches.
        assert latency <= DETECT_INTERVAL_S + SLACK_S, latency
        assert message["severity"] in ("info", "warning", "critical")
        assert {"title", "text", "anomaly", "coords"} <= set(message)
        listed = httpx.get(f"http://127.0.0.1:{port}/anomalies?limit=5", headers={"X-API-Key": KEY}, timeout=30)
        assert listed.status_code == 200 and listed.json()["count"] >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert "SantiWay anomaly detection is running" in out
    time.sleep(1)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)  # the service went down with the demo
    assert (tmp_path / "data" / "demo.json").exists()  # the world is kept for the next start
