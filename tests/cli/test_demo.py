"""The one-command demo, as a new user runs it: history, model, service, live feed; a live anomaly
reaches a WebSocket client; SIGTERM stops every process it started."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets

from santiway_anomaly.config import Settings

KEY = "demo-test-key-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _injected_crowd_folders(truth: Path) -> set[str]:
    if not truth.exists():
        return set()
    lines = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {str(t["folder"]) for t in lines if t["anomaly_type"] == "density_spike"}


async def _injected_crowd_notified(url: str, truth: Path, timeout: float) -> dict[str, object]:
    """The first density_spike pushed for a folder where the live feed injected a crowd (its truth file
    says where): the history's own crowds were stored before the service started and are not new."""
    deadline = time.monotonic() + timeout
    async with websockets.connect(url) as ws:
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=deadline - time.monotonic()))
            if message.get("type") != "anomaly.detected" or message["anomaly"]["type"] != "density_spike":
                continue
            if message["anomaly"]["folder"] in _injected_crowd_folders(truth):
                return dict(message)
    raise AssertionError(f"no density_spike notification for an injected crowd ({truth}) in time")


@pytest.mark.slow
def test_demo_delivers_a_live_anomaly_and_stops_cleanly(store_closed: Settings, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "MODEL_PATH": str(tmp_path / "models" / "m.pt"),
           "API_PORT": str(port), "VALID_API_KEYS": KEY, "LOG_LEVEL": "WARNING"}
    env.pop("TIMEZONE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "santiway_anomaly.cli.main", "demo", "--devices", "120", "--days", "6",
         "--epochs", "1", "--inject-every", "20", "--detect-interval", "10", "--no-dashboard"],
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
        message = asyncio.run(_injected_crowd_notified(
            f"ws://127.0.0.1:{port}/ws/notifications/?api_key={KEY}", tmp_path / "data" / "demo-live" / "truth.jsonl",
            480))
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
