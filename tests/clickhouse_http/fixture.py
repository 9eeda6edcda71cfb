"""Start, stop, restart and fault the ClickHouse HTTP stand-in (`server.py`) from a test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from santiway_anomaly.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClickHouseHttp:
    """One stand-in server process on `path` (a chDB directory), always on the same port once chosen.

    A subprocess, not a thread: chDB opens one data directory per process, the test process may hold
    the embedded store's, and a restart must be a real process dying (kill -9) and coming back.
    """

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> ClickHouseHttp:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.clickhouse_http.server", "--path", str(self.path), "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError(f"the ClickHouse HTTP stand-in did not start: {line!r}")
        return self

    def stop(self, *, kill: bool = True) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def fault(self, **faults: Any) -> dict[str, Any]:
        """Set faults for the next requests (see `server.Faults`); returns the server's fault state."""
        query = urllib.parse.urlencode(faults)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__fault?{query}", data=b"", timeout=10) as r:
            state: dict[str, Any] = json.loads(r.read())
        return state

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        return load_settings(_env_file=None, data_dir=data_dir, clickhouse_host="127.0.0.1",
                             clickhouse_port=self.port, **overrides)

    def env(self) -> dict[str, str]:
        """Environment for a CLI subprocess pointed at this server."""
        return {"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(self.port)}
