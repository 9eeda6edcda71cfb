"""`santiway-anomaly serve` starts the service on the configured host/port and stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.api.conftest import free_port
from tests.conftest import SharedStore, own_env

pytestmark = pytest.mark.slow


def test_serve_command_runs_the_service(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("api-serve")
    port = free_port()
    shared_store.close()  # one chDB directory per process at a time
    env = {k: v for k, v in own_env(path).items() if not k.startswith("VALID_API_KEYS")}
    env.update({"API_PORT": str(port), "API_HOST": "127.0.0.1"})
    log = path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "santiway_anomaly.cli.main", "serve"],
            cwd=path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code
            except httpx.TransportError:
                time.sleep(0.3)
        assert status == 200, log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/anomalies").json()["count"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    text = log.read_text()
    assert "DEVELOPMENT MODE" in text and "store closed" in text
    assert "Traceback" not in text
