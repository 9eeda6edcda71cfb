"""Raw sightings and their aggregates stay in agreement when an insert fails half way, for real: a
materialized view that throws on one row makes ClickHouse store the raw rows of the block and abort
before the aggregates get them (what a full disk or a killed process does between two views)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.agreement import pending_days
from santiway_anomaly.ingest.pipeline import ingest_table
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.aggregates import check_agreement, rebuild_days, repair_disagreeing
from tests.ingest.helpers import random_sightings
from tests.ingest.test_views import check_folder_and_day_views


def _table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df.astype({"ts": str}).astype(str), preserve_index=False)


@pytest.fixture
def throwing_view(empty_store: Store) -> Iterator[Store]:
    """A view on santi.way_data that fails the insert of any block holding a sighting in folder "boom"."""
    empty_store.command("CREATE TABLE IF NOT EXISTS anomaly_ml.test_boom (x UInt8) ENGINE = Memory")
    empty_store.command(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS anomaly_ml.test_boom_mv TO anomaly_ml.test_boom AS "
        "SELECT throwIf(toString(folder) = 'boom', 'planted failure') AS x FROM santi.way_data")
    try:
        yield empty_store
    finally:
        empty_store.command("DROP VIEW IF EXISTS anomaly_ml.test_boom_mv")
        empty_store.command("DROP TABLE IF EXISTS anomaly_ml.test_boom")


def test_failed_insert_leaves_raw_and_aggregates_in_agreement(throwing_view: Store, settings: Settings) -> None:
    store = throwing_view
    first = random_sightings(3000, seed=11, days=3)
    assert ingest_table(store, _table(first), "first", settings).accepted == len(first)

    second = random_sightings(3000, seed=12, days=3)
    second.loc[2000, "folder"] = "boom"
    with pytest.raises(Exception, match="planted failure"):
        ingest_table(store, _table(second), "second", settings)

    raw = store.query_df("SELECT ts, device_id, sensor_id, folder, rssi, lat, lon FROM santi.way_data")
    # The failure came after ClickHouse had stored some daily parts of the raw block: the state to repair.
    assert len(raw) > len(first)
    report = check_agreement(store)
    assert report.agree, [report.describe(d) for d in report.disagreeing]
    check_folder_and_day_views(store, raw.astype({"device_id": str, "sensor_id": str, "folder": str}))

    # The fault is gone and the client, answered with an error, sends the same body again: what the
    # failed insert stored is not stored twice, what it lost is stored now.
    store.command("DROP VIEW anomaly_ml.test_boom_mv")
    again = ingest_table(store, _table(second), "second-retry", settings)
    total = int(store.scalar("SELECT count() FROM santi.way_data"))
    assert total == len(pd.concat([first, second]).drop_duplicates())
    assert again.accepted == total - len(raw) and again.duplicates == len(raw) - len(first)
    assert total == int(store.scalar(
        "SELECT count() FROM (SELECT DISTINCT ts, device_id, sensor_id, folder, rssi, lat, lon FROM santi.way_data)"))
    assert check_agreement(store).agree


def _aggregates(store: Store) -> dict[str, pd.DataFrame]:
    """Every aggregate table, finalised and sorted, to compare two states of a store."""
    queries = {
        # Not network_type and vendor: they are any() of the hour's rows, whichever ClickHouse reads first.
        "hourly": "SELECT * EXCEPT (network_type, vendor) FROM anomaly_ml.hourly_features_v",
        "folder_hourly": "SELECT * FROM anomaly_ml.folder_hourly_v",
        "device_days": "SELECT day, device_id, sum(sightings) AS n FROM anomaly_ml.device_days GROUP BY day, device_id",
        "folder_5min": (
            "SELECT toString(folder) AS f, slot, sum(sightings) AS n, uniqExactMerge(stable_devices) AS st, "
            "uniqExactMerge(randomized_devices) AS rnd, arraySort(groupUniqArrayArray(sensors)) AS sens, "
            "sum(lat_sum) AS la, sum(lon_sum) AS lo, uniqExactMerge(randomized_fingerprints) AS fp "
            "FROM anomaly_ml.folder_5min GROUP BY f, slot"),
    }
    out = {}
    for name, sql in queries.items():
        df = store.query_df(sql)
        for col in df.columns:
            if df[col].map(lambda v: isinstance(v, list)).any():
                df[col] = df[col].map(lambda v: tuple(sorted(v)))
        out[name] = df.sort_values(list(df.columns[:2])).reset_index(drop=True)
    return out


def test_rebuild_gives_what_the_views_wrote(empty_store: Store, settings: Settings) -> None:
    """The repair's SELECTs are the views' SELECTs: a migration that changes one and not the other fails here."""
    df = random_sightings(4000, seed=13, days=2, devices=80)
    df["ies"] = ["0,1,50" if i % 3 else "" for i in range(len(df))]
    df["ssid"] = ["home" if i % 5 else "" for i in range(len(df))]
    ingest_table(empty_store, _table(df), "views", settings)
    written = _aggregates(empty_store)
    days = sorted(check_agreement(empty_store).raw)
    assert rebuild_days(empty_store, days) == len(days) == 2
    rebuilt = _aggregates(empty_store)
    for name, frame in written.items():
        pd.testing.assert_frame_equal(frame, rebuilt[name], check_exact=False, rtol=1e-9, obj=name)


def test_check_finds_a_day_missing_from_an_aggregate_and_repair_restores_it(empty_store: Store,
                                                                            settings: Settings) -> None:
    ingest_table(empty_store, _table(random_sightings(2000, seed=14, days=3)), "lost", settings)
    day = sorted(check_agreement(empty_store).raw)[1]
    empty_store.command("ALTER TABLE anomaly_ml.folder_5min DELETE WHERE toDate(slot) = {d:Date} "
                        "SETTINGS mutations_sync = 2", {"d": day})
    report = check_agreement(empty_store)
    assert report.disagreeing == [day]
    assert "folder_5min 0" in report.describe(day)
    after, rebuilt = repair_disagreeing(empty_store)
    assert rebuilt == [day] and after.agree
    # A second repair finds nothing to do.
    assert repair_disagreeing(empty_store)[1] == []


def test_a_repair_that_fails_too_is_done_after_the_next_insert(throwing_view: Store, settings: Settings) -> None:
    """The repair after a failed insert fails as well (the fault persists): the days are remembered and
    rebuilt after this process's next insert that succeeds, once the fault is gone."""
    store = throwing_view
    ingest_table(store, _table(random_sightings(2000, seed=15, days=2)), "before", settings)
    # A second planted fault on the aggregate itself: the repair's own insert into it fails too.
    store.command(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS anomaly_ml.test_boom2_mv TO anomaly_ml.test_boom AS "
        "SELECT throwIf(event_count > 0, 'planted repair failure') AS x FROM anomaly_ml.hourly_features")
    try:
        failing = random_sightings(2000, seed=16, days=2)
        failing.loc[100, "folder"] = "boom"
        with pytest.raises(Exception, match="planted"):
            ingest_table(store, _table(failing), "failing", settings)
        assert pending_days(store), "the failed repair left no days to repair"
        assert not check_agreement(store).agree
    finally:
        store.command("DROP VIEW IF EXISTS anomaly_ml.test_boom2_mv")
        store.command("DROP VIEW IF EXISTS anomaly_ml.test_boom_mv")
    later = random_sightings(500, seed=17, days=1)
    ingest_table(store, _table(later), "later", settings)
    assert pending_days(store) == []
    report = check_agreement(store)
    assert report.agree, [report.describe(d) for d in report.disagreeing]
