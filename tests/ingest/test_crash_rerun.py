"""A crash followed by a corrected re-run: `kill -9` in the middle of a CLI ingest, `schema repair`, then the
corrected copy of the file ingested; every good sighting is stored exactly once and the aggregates agree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from santiway_anomaly.config import Settings
from tests.ingest.helpers import random_sightings

pytestmark = [pytest.mark.slow, pytest.mark.embedded_only]  # kill -9 of the process that owns the store

ROWS = 200_000
BATCH_ROWS = 5_000


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "DATA_DIR": str(data_dir), "INGEST_BATCH_ROWS": str(BATCH_ROWS), "LOG_LEVEL": "DEBUG"}


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "santiway_anomaly", *args], env=_env(data_dir),
                          capture_output=True, text=True, timeout=600)


_COUNTS = """
import sys
from santiway_anomaly.config import load_settings
from santiway_anomaly.storage.store import Store
with Store.open(load_settings(data_dir=sys.argv[1], _env_file=None)) as store:
    total = store.scalar("SELECT count() FROM santi.way_data")
    distinct = store.scalar("SELECT count() FROM (SELECT DISTINCT ts, device_id, sensor_id, folder, network_type, "
                            "rssi, lat, lon, vendor FROM santi.way_data)")
print(total, distinct)
"""


def _counts(data_dir: Path) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", _COUNTS, str(data_dir)], capture_output=True, text=True,
                          timeout=300, check=True)
    total, distinct = done.stdout.split()[-2:]
    return int(total), int(distinct)


def test_kill_9_mid_ingest_then_corrected_rerun_stores_each_sighting_once(store_closed: Settings,
                                                                           tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = random_sightings(ROWS, seed=21, devices=3000, days=4)
    good["ts"] = pd.to_datetime(good["ts"]).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    damaged = good.astype({"rssi": str}).copy()
    bad_rows = damaged.index[::97]
    damaged.loc[bad_rows, "rssi"] = "loud"  # the mistake the corrected copy fixes
    first, corrected = tmp_path / "feed.csv", tmp_path / "feed-corrected.csv"
    damaged.to_csv(first, index=False)
    good.to_csv(corrected, index=False)

    proc = subprocess.Popen([sys.executable, "-m", "santiway_anomaly", "ingest", "--no-progress", str(first)],
                            env=_env(data), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    killed = False
    for line in proc.stderr:  # killed once a few batches are stored, while more are on their way
        if "Stored batch 3 of" in line:
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
    proc.wait(timeout=300)
    assert killed and proc.returncode == -signal.SIGKILL
    stored_before, _ = _counts(data)
    assert 0 < stored_before < ROWS

    repaired = _cli(data, "schema", "repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr

    rerun = _cli(data, "ingest", "--no-progress", "--json", str(corrected))
    assert rerun.returncode == 0, rerun.stderr
    total, distinct = _counts(data)
    assert total == distinct == len(good.drop_duplicates())
    checked = _cli(data, "schema", "check")
    assert checked.returncode == 0 and "0 disagree" in checked.stdout, checked.stdout
