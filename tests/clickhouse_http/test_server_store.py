"""The server path (clickhouse-connect over HTTP) against the stand-in: an empty server, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from santiway_anomaly.storage import Store
from santiway_anomaly.storage.migrations import applied, discover
from tests.clickhouse_http.fixture import REPO, ClickHouseHttp


def _cli(server: ClickHouseHttp, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "DATA_DIR": str(tmp_path / "data"),
                **server.env(), **env}
    return subprocess.run([sys.executable, "-m", "santiway_anomaly.cli.main", *args], capture_output=True,
                          text=True, env=full_env, timeout=300, check=False)


def sightings(n: int, start: datetime) -> pa.Table:
    return pa.table({
        "ts": pa.array([start + timedelta(seconds=30 * i) for i in range(n)], pa.timestamp("ms", tz="UTC")),
        "device_id": [f"00:11:22:33:44:{i % 7:02X}" for i in range(n)],
        "sensor_id": ["s1"] * n,
        "folder": ["office"] * n,
        "network_type": ["wifi"] * n,
        "rssi": pa.array([-60] * n, pa.int16()),
        "lat": [55.0] * n,
        "lon": [37.0] * n,
        "vendor": ["Acme"] * n,
        "is_randomized": pa.array([0] * n, pa.uint8()),
    })


def test_schema_apply_on_an_empty_server(ch_server: ClickHouseHttp, tmp_path: Path) -> None:
    first = _cli(ch_server, tmp_path, "schema", "apply")
    assert first.returncode == 0, first.stderr
    assert "applied now" in first.stdout and "already applied" not in first.stdout
    again = _cli(ch_server, tmp_path, "schema", "apply")
    assert again.returncode == 0, again.stderr
    assert "applied now" not in again.stdout


def test_store_round_trip_and_dedup_over_http(ch_server: ClickHouseHttp, tmp_path: Path) -> None:
    with Store.open(ch_server.settings(tmp_path / "data")) as store:
        assert sorted(applied(store)) == [m.version for m in discover()]
        assert store.client.database == "anomaly_ml"
        start = datetime(2026, 3, 2, 9, tzinfo=UTC)
        batch = sightings(120, start)
        store.insert_arrow("santi.way_data", batch, dedup_token="batch-1")
        store.insert_arrow("santi.way_data", batch, dedup_token="batch-1")  # a re-sent batch: a no-op
        assert store.scalar("SELECT count() FROM santi.way_data") == 120
        assert store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") == 120
        # Bound parameters, a large Array parameter (sent as a form field), and Arrow / DataFrame answers.
        ids = [f"00:11:22:33:44:{i:02X}" for i in range(7)] + [f"x{i}" for i in range(20_000)]
        assert store.scalar("SELECT count() FROM santi.way_data WHERE device_id IN {ids:Array(String)}",
                            {"ids": ids}) == 120
        df = store.query_df("SELECT device_id, min(ts) AS first FROM santi.way_data GROUP BY device_id "
                            "ORDER BY device_id")
        assert len(df) == 7 and str(df["first"].dt.tz) == "UTC"
        assert store.query_arrow("SELECT 1 AS one").num_rows == 1
