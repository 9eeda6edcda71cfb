"""/health without a key leaks nothing about the machine, also when the store is owned by another process
(whose pid and command line the lock records): status only; the details need a key (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.api.conftest import start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.embedded_only]  # the embedded store's directory lock

KEY = "health-private-key-8c2d51"

_HOLDER = """
import sys, time
from santiway_anomaly.config import load_settings
from santiway_anomaly.storage import Store
store = Store.open(load_settings(data_dir=sys.argv[1], _env_file=None))
print("holding", flush=True)
time.sleep(300)
"""


def test_health_without_key_shows_no_path_pid_or_command_line(tmp_path: Path) -> None:
    data = tmp_path / "owned-data"
    data.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(data), "--marker-arg-7f3a"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ})
    server = None
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        server = start_server(data, None, {"VALID_API_KEYS": KEY})  # type: ignore[arg-type]
        with server.client() as anon, server.client(KEY) as keyed:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                private = keyed.get("/health")
                if private.status_code == 503:
                    break
                time.sleep(0.5)
            assert private.status_code == 503, private.text
            assert str(holder.pid) in private.text  # the details (with a key) say who owns the store
            public = anon.get("/health")
            assert public.status_code == 503
            assert set(public.json()) == {"status", "checked_at"}
            for leak in (str(holder.pid), str(data), "marker-arg-7f3a", "python"):
                assert leak not in public.text
    finally:
        if server is not None:
            stop_server(server)
        holder.kill()
        holder.wait()
    if server is not None:
        assert KEY not in server.log_text()
