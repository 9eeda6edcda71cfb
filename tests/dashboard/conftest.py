"""One real service for the dashboard tests: simulated data, ingested, a quick model, detected, served.

The data directory is prepared with the CLI (`simulate`, `ingest`, `train`, `detect`) in
subprocesses BEFORE uvicorn starts, because the running service owns the embedded store. The
dashboard under test reaches the service only over HTTP and WebSocket, as in production.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

KEY = "dash-test-key-0001"
OPERATOR, OPERATOR_PASSWORD = "olga", "dashboard-test-password"
STARTUP_TIMEOUT_S = 90
CLI = [sys.executable, "-m", "santiway_anomaly.cli.main"]


@dataclass
class Service:
    url: str
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def http(self, key: str = KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VALID_API_KEYS", "DASHBOARD_", "RATE_LIMIT"))}
    env.update({"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", **extra})
    return env


def _cli(data_dir: Path, *args: str) -> None:
    done = subprocess.run([*CLI, *args], cwd=data_dir, env=_env(data_dir), capture_output=True, text=True,
                          timeout=600)
    if done.returncode not in (0, 1):  # ingest/detect answer 1 for "some rejected / a detector failed"
        raise RuntimeError(f"santiway-anomaly {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def prepare(data_dir: Path) -> None:
    """~150 devices x 4 days, ingested, a 3-epoch model, detection over the whole period."""
    sim = data_dir / "sim"
    _cli(data_dir, "simulate", "--devices", "150", "--days", "4", "--out", str(sim))
    _cli(data_dir, "ingest", str(sim / "sightings.parquet"), "--no-progress")
    midnight = datetime.now(UTC).strftime("%Y-%m-%dT00:00")
    _cli(data_dir, "train", "--days", "4", "--epochs", "3", "--hidden", "16", "--levels", "2", "--quiet",
         "--until", midnight)
    _cli(data_dir, "detect", "--hours", "120", "--until", "latest")


def start(data_dir: Path, **env: str) -> Service:
    port = free_port()
    log = data_dir / "server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "santiway_anomaly.api.main:app", "--host", "127.0.0.1", "--port",
             str(port)],
            cwd=data_dir, env=_env(data_dir, **env), stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return Service(url, data_dir, log, proc)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"service did not start within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The API on a free port, production mode (one key), over simulated data."""
    data_dir = tmp_path_factory.mktemp("dashboard-data")
    prepare(data_dir)
    # The wrong-key page tests send dozens of bad keys from 127.0.0.1 on purpose: with the default
    # API_AUTH_MAX_FAILURES the service would then refuse every request from this address (429, the right
    # key included) for a minute, and whichever tests ran next would see only that.
    svc = start(data_dir, VALID_API_KEYS=KEY, API_AUTH_MAX_FAILURES="100000")
    yield svc
    stop(svc.proc)


def users_file(service: Service) -> Path:
    """The dashboard's operators file, with one operator (production mode needs sign-in)."""
    from santiway_anomaly.dashboard.auth import set_password

    path = service.data_dir / "dashboard-users.toml"
    if not path.exists():
        set_password(path, OPERATOR, OPERATOR_PASSWORD)
    return path


@pytest.fixture()
def dash_env(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """Point the dashboard (running in this process under AppTest) at the service with the right key."""
    monkeypatch.delenv("VALID_API_KEYS", raising=False)
    monkeypatch.setenv("DASHBOARD_API_URL", service.url)
    monkeypatch.setenv("DASHBOARD_API_KEY", KEY)
    monkeypatch.setenv("DASHBOARD_USERS_FILE", str(users_file(service)))
    return service
