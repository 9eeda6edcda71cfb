"""CLICKHOUSE_DATABASE and CLICKHOUSE_RAW_DATABASE move every table: ingest, train, every detector, the
API, notifications, feedback and the webhook outbox run on the configured databases, and nothing is
created in the canonical `anomaly_ml` / `santi` (storage/databases.py).

On the embedded store (a data directory of the test's own) and, with SANTIWAY_TEST_STORE=http, on a
fresh ClickHouse HTTP stand-in of its own (CI runs tests/storage both ways).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from santiway_anomaly.catalog import ANOMALY_TYPES
from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.migrations import discover
from tests.conftest import STORE_MODE

pytestmark = pytest.mark.slow

PRODUCT_DB = "x_product"
RAW_DB = "x_host"
KEY = "configured-databases-key-0001"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def env(store_closed: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of every command: the configured databases, and a store of this test's own."""
    base = {**os.environ, "PYTHONPATH": str(REPO / "src"), "DATA_DIR": str(tmp_path / "data"),
            "MODEL_PATH": str(tmp_path / "models" / "m.pt"), "LOG_LEVEL": "WARNING", "TIMEZONE": "UTC",
            "CLICKHOUSE_DATABASE": PRODUCT_DB, "CLICKHOUSE_RAW_DATABASE": RAW_DB}
    for name in ("CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "VALID_API_KEYS", "DJANGO_URL"):
        base.pop(name, None)
    if STORE_MODE != "http":
        yield base
        return
    from tests.clickhouse_http.fixture import ClickHouseHttp

    server = ClickHouseHttp(tmp_path / "server").start()
    try:
        yield {**base, **server.env()}
    finally:
        server.stop()


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "santiway_anomaly", *args], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _settings(env: dict[str, str]) -> Settings:
    names = ("DATA_DIR", "CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "CLICKHOUSE_DATABASE", "CLICKHOUSE_RAW_DATABASE")
    return load_settings(_env_file=None, **{n.lower(): env[n] for n in names if n in env})


def _serve(env: dict[str, str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    # The webhook points at a closed port: each notification waits in the outbox (a table too).
    service_env = {**env, "VALID_API_KEYS": KEY, "DJANGO_URL": f"http://127.0.0.1:{_free_port()}",
                   "NOTIFY_WEBHOOK_TRIES": "1"}
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen([sys.executable, "-m", "santiway_anomaly", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=service_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("the service did not start: " + (tmp_path / "serve.log").read_text(errors="replace"))


def test_every_table_lives_in_the_configured_databases(env: dict[str, str], tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    # Eight simulated days: the detectors need a week of history to leave their learning state.
    _cli(env, "simulate", "--devices", "80", "--days", "8", "--folders", "3", "--anomaly-days", "2",
         "--seed", "3", "--out", str(sim))
    _cli(env, "schema", "apply")
    _cli(env, "ingest", str(sim / "sightings.parquet"), "--no-progress")
    _cli(env, "train", "--days", "8", "--epochs", "1", "--quiet")

    proc, url = _serve(env, tmp_path)
    try:
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=300) as api:
            health = api.get("/health").json()
            assert health["store"]["reachable"] and health["store"]["schema_version"] == discover()[-1].version
            assert health["latest_sighting"] is not None  # read from the raw database's system.parts
            newest = health["latest_sighting"]
            run = api.post("/anomalies/detect-and-notify", params={"hours": 72, "until": newest})
            assert run.status_code == 200, run.text
            body = run.json()
            # Every detector ran (the ML one with the model trained above) and found something.
            assert not body["errors"] and not body["skipped"], body
            assert set(body["timings"]) == {"density", "night", "stationary", "ml"}
            assert body["new"] > 0 and body["notified"] == body["new"]
            listed = api.get("/anomalies", params={"limit": 500}).json()
            assert listed["count"] == body["new"]
            assert {a["anomaly_type"] for a in listed["data"]} <= set(ANOMALY_TYPES)
            assert api.get("/anomalies/stats").status_code == 200
            first = listed["data"][0]
            assert api.get(f"/anomalies/{first['anomaly_id']}").status_code == 200
            assert api.post(f"/anomalies/{first['anomaly_id']}/feedback",
                            json={"verdict": "confirmed"}).status_code == 201
            assert api.get("/feedback").json()["count"] == 1
            device = next(a["device_id"] for a in listed["data"] if a["device_id"])
            assert api.post(f"/devices/{device}/known", json={"reason": "all"}).status_code == 201
            assert api.post(f"/analyze/device/{device}", params={"hours": 72, "until": newest}).status_code == 200
            assert api.get("/folders/hourly", params={"hours": 72, "until": newest}).json()["data"]
            assert api.get("/folders/coverage", params={"hours": 72, "until": newest}).status_code == 200
            good = {"ts": newest, "device_id": "02:11:22:33:44:55", "sensor_id": "s-api", "folder": "api-folder",
                    "network_type": "wifi", "rssi": -60, "lat": 55.0, "lon": 37.0}
            ingested = api.post("/ingest", json=[good, {**good, "rssi": 7}])
            assert ingested.status_code == 200 and ingested.json()["accepted"] == 1, ingested.text
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    with Store.open(_settings(env)) as store:
        where = store.query_rows(
            "SELECT database, count() FROM system.tables WHERE database IN "
            "('anomaly_ml', 'santi', {product:String}, {raw:String}) GROUP BY database ORDER BY database",
            {"product": PRODUCT_DB, "raw": RAW_DB})
        databases = {str(name) for (name,) in store.query_rows("SELECT name FROM system.databases")}
        rows = {table: store.scalar(f"SELECT count() FROM {db}.{table}") for db, table in (
            (RAW_DB, "way_data"), (PRODUCT_DB, "anomalies"), (PRODUCT_DB, "notifications"),
            (PRODUCT_DB, "notify_outbox"), (PRODUCT_DB, "anomaly_feedback"), (PRODUCT_DB, "known_devices"),
            (PRODUCT_DB, "ingest_batches"), (PRODUCT_DB, "ingest_rejects"), (PRODUCT_DB, "hourly_features"),
            (PRODUCT_DB, "schema_migrations"))}
    assert "anomaly_ml" not in databases and "santi" not in databases, databases
    counts = {str(db): int(n) for db, n in where}
    assert set(counts) == {PRODUCT_DB, RAW_DB} and counts[RAW_DB] == 1, counts
    assert counts[PRODUCT_DB] >= len(discover()), counts  # every table and view of the schema
    assert all(count > 0 for count in rows.values()), rows
