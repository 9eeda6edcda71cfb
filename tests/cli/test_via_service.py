"""`anomalies`, `detect`, `known list` and `schema status` while the service owns the embedded store: they
go through its API, print the same output, and say (on stderr) which way they went."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import KEYS, seeded_dir, start_server, stop_server
from tests.conftest import SharedStore

CLI = [sys.executable, "-m", "santiway_anomaly.cli.main"]


def run(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VALID_API_KEYS", "DASHBOARD_", "TIMEZONE"))}
    env.update(DATA_DIR=str(data_dir), VALID_API_KEYS=KEYS[0], DASHBOARD_API_URL=url, TIMEZONE="Europe/Moscow",
               LOG_LEVEL="WARNING", API_MAX_LIMIT="3")  # the same .env as the service
    return subprocess.run([*CLI, *args], cwd=data_dir, env=env, capture_output=True, text=True, timeout=300)


def test_same_output_through_the_service_and_the_store(shared_store: SharedStore,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("cli-via-service")
    world = seeded_dir(shared_store, path)
    server = start_server(path, world, {"VALID_API_KEYS": KEYS[0], "API_MAX_LIMIT": "3"})
    try:
        listed = run(path, server.url, "anomalies", "--limit", "0")
        as_json = run(path, server.url, "anomalies", "--json", "--limit", "0")
        short = run(path, server.url, "anomalies", "--json", "--limit", "2")
        known = run(path, server.url, "known", "list")
        schema = run(path, server.url, "schema", "status")
        detected = run(path, server.url, "detect", "--hours", "6")
    finally:
        stop_server(server)
    for done in (listed, as_json, short, known, schema):
        assert done.returncode == 0, done.stderr
        assert "via the running service" in done.stderr
    assert detected.returncode in (0, 1) and "window" in detected.stdout and "Europe/Moscow" in detected.stdout
    # every anomaly, although the service answers at most 3 per request (API_MAX_LIMIT): pages were followed
    assert len(json.loads(as_json.stdout)) == len(world.anomalies) > 3
    assert len(json.loads(short.stdout)) == 2 and f"2 of {len(world.anomalies)} anomalies shown" in short.stderr
    assert "window_start (Europe/Moscow)" in listed.stdout and "MSK" in listed.stdout
    assert "schema at version" in schema.stdout

    direct = run(path, "http://127.0.0.1:9", "anomalies", "--limit", "0")  # the service is gone: the store
    assert direct.returncode == 0 and "via the store" in direct.stderr
    assert direct.stdout == listed.stdout
    direct_json = run(path, "http://127.0.0.1:9", "anomalies", "--json", "--limit", "0")
    assert {a["anomaly_id"] for a in json.loads(direct_json.stdout)} == {a["anomaly_id"] for a in json.loads(
        as_json.stdout)}
