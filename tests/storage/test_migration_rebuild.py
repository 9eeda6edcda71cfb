"""Migration 100 rebuilds the aggregate tables of a store that already holds sightings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from santiway_anomaly.config import Settings, load_settings
from santiway_anomaly.ingest.pipeline import ingest_table
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.migrations import SQL_DIR, apply_migrations, current_version
from tests.ingest.helpers import random_sightings
from tests.ingest.test_views import check_folder_and_day_views


# Builds an old-schema embedded directory of its own.
@pytest.mark.embedded_only
def test_lean_aggregates_are_rebuilt_from_stored_sightings(store_closed: Settings, tmp_path: Path) -> None:
    before = tmp_path / "sql_before_100"
    shutil.copytree(SQL_DIR, before)
    for later in (before / "migrations").glob("*.sql"):
        if int(later.name[:3]) >= 100:  # a store from before migration 100 has none of the later ones either
            later.unlink()
    df = random_sightings(5000, devices=80, days=2, seed=11)
    settings = load_settings(data_dir=tmp_path / "data", _env_file=None)
    with Store.open(settings, apply_schema=False) as store:
        apply_migrations(store, before)
        assert current_version(store) == 90
        ingest_table(store, pa.Table.from_pandas(df.astype({"ts": str}), preserve_index=False), "old")
        assert store.scalar("SELECT uniqExactMerge(devices) FROM anomaly_ml.folder_hourly") > 0

        assert [m.version for m in apply_migrations(store)][0] == 100
        assert store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") == len(df)
        minutes = store.scalar("SELECT sum(active_minutes) FROM anomaly_ml.hourly_features_v")
        ts = df["ts"].map(lambda t: t.replace(second=0, microsecond=0))
        assert minutes == df.assign(minute=ts).groupby("device_id")["minute"].nunique().sum()
        check_folder_and_day_views(store, df)
        # migration 120 backfilled the fingerprints: without probe fields, one per randomized MAC
        assert store.scalar("SELECT uniqExactMerge(randomized_fingerprints) FROM anomaly_ml.folder_5min") == \
            store.scalar("SELECT uniqExactMerge(randomized_devices) FROM anomaly_ml.folder_5min") > 0
