"""The store on real embedded chDB: schema, parameters, one-process lock, durability."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.config import Settings, SettingsError, load_settings
from santiway_anomaly.storage import Store, StoreLockedError, identifier
from santiway_anomaly.storage.anomalies import AnomalyFilter, list_anomalies, save_anomalies
from santiway_anomaly.storage.migrations import MigrationError, apply_migrations, discover
from tests.ingest.helpers import random_sightings

CLI = [sys.executable, "-m", "santiway_anomaly.cli.main"]
INJECTION = "x'; DROP TABLE santi.way_data;--"


def test_migrations_are_idempotent_and_recorded(store: Store) -> None:
    assert apply_migrations(store) == []
    versions = [v for (v,) in store.query_rows("SELECT version FROM anomaly_ml.schema_migrations FINAL")]
    assert sorted(versions) == [m.version for m in discover()]


def test_changed_applied_migration_is_refused(store: Store, tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(Path(discover()[0].path).parent, sql)
    (sql / "schema.sql").write_text((sql / "schema.sql").read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="must not change"):
        apply_migrations(store, sql)


def test_injection_string_as_filter_value_is_inert(empty_store: Store) -> None:
    window = datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    save_anomalies(empty_store, [Anomaly("density_spike", "warning", 0.8, *window, folder=INJECTION)])
    assert list_anomalies(empty_store, AnomalyFilter(device_id=INJECTION)) == []
    found = list_anomalies(empty_store, AnomalyFilter(folder=INJECTION))
    assert [a["folder"] for a in found] == [INJECTION]  # stored and matched literally
    assert empty_store.scalar("EXISTS TABLE santi.way_data") == 1
    with pytest.raises(ValueError):
        identifier("anomalies; DROP TABLE x")


def test_anomalies_are_stored_once(empty_store: Store) -> None:
    window = datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    a = Anomaly("night_activity", "critical", 0.9, *window, device_id="3C:22:FB:01:02:03")
    again = Anomaly("night_activity", "critical", 0.95, *window, device_id="3C:22:FB:01:02:03")
    assert save_anomalies(empty_store, [a]) == [a]
    assert save_anomalies(empty_store, [again]) == []
    assert empty_store.scalar("SELECT count() FROM anomaly_ml.anomalies") == 1


@pytest.mark.embedded_only
def test_second_process_gets_a_clear_message(store: Store, settings: Settings) -> None:
    env = {**os.environ, "DATA_DIR": str(settings.data_dir)}
    result = subprocess.run([*CLI, "schema", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "in use by process" in result.stderr and str(os.getpid()) in result.stderr
    assert "Traceback" not in result.stderr


def test_lock_error_in_process_api(tmp_path: Path) -> None:
    # The same process may open the same directory twice (shared lock); only other processes are refused.
    settings = load_settings(data_dir=tmp_path, _env_file=None)
    from santiway_anomaly.storage.lock import DirectoryLock

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from santiway_anomaly.storage.lock import DirectoryLock; "
        f"DirectoryLock(Path({str(settings.chdb_path)!r})).acquire(); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLockedError, match=f"process {holder.pid}"):
            DirectoryLock(settings.chdb_path).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_data_survives_restart_and_kill_during_ingest(store_closed: Settings, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", _env_file=None)
    path = tmp_path / "big.parquet"
    rows = 60_000
    pq.write_table(pa.Table.from_pandas(random_sightings(rows, devices=500, seed=9), preserve_index=False), path)
    env = {**os.environ, "DATA_DIR": str(settings.data_dir), "INGEST_BATCH_ROWS": "5000", "LOG_LEVEL": "DEBUG"}
    proc = subprocess.Popen([*CLI, "ingest", str(path), "--no-progress"], env=env, stderr=subprocess.PIPE,
                            text=True)
    reported = 0
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if "Stored batch" in line:
            reported += 1
            if reported == 3:
                proc.send_signal(signal.SIGKILL)
                break
        assert time.monotonic() < deadline
    proc.wait(timeout=30)
    assert reported == 3
    with Store.open(settings) as st:
        after_kill = st.scalar("SELECT count() FROM santi.way_data")
        assert after_kill >= 3 * 5000  # every batch reported as stored is there
    result = subprocess.run([*CLI, "ingest", str(path), "--no-progress", "--json"], env={**env, "LOG_LEVEL": "INFO"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with Store.open(settings) as st:
        assert st.scalar("SELECT count() FROM santi.way_data") == rows  # completed, nothing doubled
        assert st.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") == rows


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_PORT", "eighty")
    with pytest.raises(SettingsError, match="CLICKHOUSE_PORT"):
        load_settings(_env_file=None)
    monkeypatch.delenv("CLICKHOUSE_PORT")
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="TIMEZONE.*IANA"):
        load_settings(_env_file=None)
    monkeypatch.delenv("TIMEZONE")
    monkeypatch.setenv("VALID_API_KEYS", "<STRONG_RANDOM_KEY_1>")
    with pytest.raises(SettingsError, match="placeholder") as info:
        load_settings(_env_file=None)
    assert "STRONG_RANDOM_KEY" not in str(info.value)  # secrets are not echoed


def test_cli_reports_bad_setting_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "LOUD"}
    result = subprocess.run([*CLI, "schema", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "LOG_LEVEL" in result.stderr and "Traceback" not in result.stderr


def test_sightings_schema_is_the_design_contract() -> None:
    from santiway_anomaly.sightings import INPUT_FIELDS

    assert set(INPUT_FIELDS) == {"ts", "device_id", "sensor_id", "folder", "network_type", "rssi", "lat", "lon",
                                 "vendor", "seq", "ies", "ssid"}
