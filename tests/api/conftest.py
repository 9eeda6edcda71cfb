"""A real uvicorn per configuration, in a subprocess, on 127.0.0.1 and its own data directory.

chDB admits one process per data directory, and a process cannot open a second directory while
the session store is open: the seeding step closes the session store first (it reopens lazily).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from santiway_anomaly.storage import Store
from tests.api.seed import World, seed
from tests.conftest import SharedStore, own_env, own_settings

REPO = Path(__file__).resolve().parents[2]
KEYS = ["k1-integration-key-0001", "k2-integration-key-0002", "k3-integration-key-0003"]
STARTUP_TIMEOUT_S = 90


@dataclass
class Server:
    url: str
    log: Path
    world: World
    proc: subprocess.Popen[bytes]

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seeded_dir(shared: SharedStore, path: Path) -> World:
    shared.close()  # one chDB directory per process at a time
    with Store.open(own_settings(path)) as store:
        return seed(store)


def start_server(
    data_dir: Path, world: World, env: dict[str, str], *, target: str = "santiway_anomaly.api.main:app"
) -> Server:
    port = free_port()
    log = data_dir / "server.log"
    full_env = {k: v for k, v in own_env(data_dir).items() if not k.startswith(("VALID_API_KEYS", "RATE_LIMIT"))}
    full_env.update({"LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **env})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--app-dir",
                str(REPO),
            ],
            cwd=data_dir,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code in (200, 503):
                return Server(url, log, world, proc)
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not start within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def prod_server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Production mode (three keys), the specification's rate limits."""
    path = tmp_path_factory.mktemp("api-prod")
    server = start_server(path, seeded_dir(shared_store, path), {"VALID_API_KEYS": ",".join(KEYS)})
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def dev_server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Development mode (no keys), started with the specification's `uvicorn backend.main:app`."""
    path = tmp_path_factory.mktemp("api-dev")
    server = start_server(path, seeded_dir(shared_store, path), {"VALID_API_KEYS": ""}, target="backend.main:app")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def fuzz_server(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Production mode with limits raised, so a generated test run explores the handlers rather
    than the 429 answer (which the rate-limit tests cover)."""
    path = tmp_path_factory.mktemp("api-fuzz")
    env = {
        "VALID_API_KEYS": KEYS[0],
        "RATE_LIMIT_LIST": "100000/minute",
        "RATE_LIMIT_DETECT": "100000/minute",
        "RATE_LIMIT_DEFAULT": "100000/minute",
        # schemathesis sends many requests without a key on purpose: not a brute force to block
        "API_AUTH_MAX_FAILURES": "100000",
    }
    server = start_server(path, seeded_dir(shared_store, path), env)
    yield server
    stop_server(server)
