"""The materialized views agree with the same aggregates computed independently in pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.pipeline import ingest_file
from santiway_anomaly.storage import Store
from tests.ingest.helpers import random_sightings


def test_hourly_views_match_pandas(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    df = random_sightings(20_000, devices=120, days=2, seed=3)
    path = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    # Small batches: the views must merge partial aggregates across insert blocks correctly.
    small = settings.model_copy(update={"ingest_batch_rows": 3000})
    report = ingest_file(empty_store, path, small)
    assert report.accepted == len(df) == empty_store.scalar("SELECT count() FROM santi.way_data")

    df["hour"] = pd.to_datetime(df["ts"]).dt.floor("h")
    df["randomized"] = df["device_id"].str[1].isin(list("26AE"))
    expected = df.groupby(["device_id", "hour"]).agg(
        event_count=("rssi", "size"), rssi_mean=("rssi", "mean"), rssi_min=("rssi", "min"),
        rssi_max=("rssi", "max"), lat_mean=("lat", "mean"), lon_std=("lon", lambda s: s.std(ddof=0)),
        sensor_count=("sensor_id", "nunique"), folder_count=("folder", "nunique"),
        minutes=("ts", lambda s: pd.to_datetime(s).dt.floor("min").nunique()),
    ).reset_index()
    got = empty_store.query_df(
        "SELECT device_id, hour, event_count, rssi_mean, rssi_min, rssi_max, lat_mean, lon_std, sensor_count, "
        "length(folders) AS folder_count, active_minutes AS minutes FROM anomaly_ml.hourly_features_v")
    merged = expected.merge(got, on=["device_id", "hour"], suffixes=("", "_ch"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    for col in ("event_count", "rssi_min", "rssi_max", "sensor_count", "folder_count", "minutes"):
        assert (merged[col] == merged[f"{col}_ch"]).all(), col
    for col in ("rssi_mean", "lat_mean"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_ch"], rtol=1e-9)
    # The spread comes from sums of squares (mergeable across blocks); at lon ~37.6 that costs ~1e-7 degrees
    # (about 1 cm) of precision, far below GPS noise.
    np.testing.assert_allclose(merged["lon_std"], merged["lon_std_ch"], atol=1e-6)

    check_folder_and_day_views(empty_store, df)


def check_folder_and_day_views(store: Store, df: pd.DataFrame) -> None:
    """folder_5min (from sightings), folder_hourly and device_days (chained views) against pandas."""
    df = df.assign(ts=pd.to_datetime(df["ts"], utc=True))
    df["hour"] = df["ts"].dt.floor("h")
    df["slot"] = df["ts"].dt.floor("5min")
    df["day"] = df["ts"].dt.date
    df["randomized"] = df["device_id"].str[1].isin(list("26AE"))

    def per_place(key: str) -> pd.DataFrame:
        return df.groupby(["folder", key]).agg(
            unique_devices=("device_id", "nunique"),
            stable_devices=("device_id", lambda s: s[~df.loc[s.index, "randomized"]].nunique()),
            sightings=("device_id", "size"), sensor_count=("sensor_id", "nunique"),
        ).reset_index()

    got_hour = store.query_df(
        "SELECT folder, hour, unique_devices, stable_devices, sightings, sensor_count FROM anomaly_ml.folder_hourly_v")
    # Aliases other than the column names: ClickHouse resolves an alias before a column of the same name.
    got_slot = store.query_df(
        "SELECT folder, slot, n_stable + n_random AS unique_devices, n_stable AS stable_devices, "
        "n AS sightings, length(sensor_set) AS sensor_count FROM ("
        "  SELECT toString(folder) AS folder, slot, uniqExactMerge(stable_devices) AS n_stable, "
        "  uniqExactMerge(randomized_devices) AS n_random, sum(sightings) AS n, "
        "  groupUniqArrayArray(sensors) AS sensor_set FROM anomaly_ml.folder_5min GROUP BY folder, slot)")
    for key, got in (("hour", got_hour), ("slot", got_slot)):
        merged = per_place(key).merge(got, on=["folder", key], suffixes=("", "_ch"), how="outer", indicator=True)
        assert (merged["_merge"] == "both").all(), key
        for col in ("unique_devices", "stable_devices", "sightings", "sensor_count"):
            assert (merged[col] == merged[f"{col}_ch"]).all(), (key, col)

    days = df.groupby(["day", "device_id"]).size().rename("sightings").reset_index()
    got_days = store.query_df(
        "SELECT day, device_id, sum(sightings) AS n FROM anomaly_ml.device_days GROUP BY day, device_id")
    got_days = got_days.rename(columns={"n": "sightings"})
    got_days["day"] = pd.to_datetime(got_days["day"]).dt.date
    md = days.merge(got_days, on=["day", "device_id"], suffixes=("", "_ch"), how="outer", indicator=True)
    assert (md["_merge"] == "both").all()
    assert (md["sightings"] == md["sightings_ch"]).all()
