"""Ingest end to end on the real embedded store: good rows stored, every bad row reported."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.pipeline import ColumnMapping, MappingError, ingest_file, ingest_table
from santiway_anomaly.storage import Store
from tests.ingest.helpers import HEADER, random_sightings

BROKEN_CSV = (
    HEADER.encode()
    + b"2026-11-20T10:00:00Z,3c:22:fb:01:02:03,s1,office,wifi,-60,55.75,37.61,\n"          # 2 ok
    + b"2026-11-20T10:01:00Z,zz:zz:zz,s1,office,wifi,-60,55.75,37.61,\n"                   # 3 bad MAC
    + b"2026-11-20T10:02:00Z,3c:22:fb:01:02:04,s1,office,wifi,50,55.75,37.61,\n"           # 4 RSSI 50
    + b"2026-11-20T10:03:00Z,3c:22:fb:01:02:05,s1,office,wifi,-60,200,37.61,\n"            # 5 lat 200
    + b",3c:22:fb:01:02:06,s1,office,wifi,-60,55.75,37.61,\n"                              # 6 missing ts
    + b"2026-11-20T10:05:00Z,3c:22:fb:01:02:07,s1,office,wifi,strong,55.75,37.61,\n"       # 7 wrong type
    + b"2026-11-20T10:06:00Z,3c:22:fb:01:02:08,s1,off\n"                                   # 8 truncated
    + b"2026-11-20T10:07:00Z,3c:22:fb:01:02:09,s1,off\xff\xfece,wifi,-60,55.75,37.61,\n"   # 9 non-UTF-8
    + b"1763633280,3c:22:fb:01:02:0a,s2,office,ble,-70,55.75,37.61,Acme\n"                 # 10 ok (Unix s)
)


def test_broken_rows_are_reported_and_good_rows_stored(empty_store: Store, settings: Settings,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(BROKEN_CSV)
    report = ingest_file(empty_store, path, settings)
    assert report.accepted == 2
    assert report.rejected == 7
    by_line = {r.line: r for r in report.rejects}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9]
    assert by_line[3].field == "device_id" and "MAC" in by_line[3].reason
    assert by_line[4].field == "rssi" and "-120..0" in by_line[4].reason
    assert by_line[5].field == "lat" and "-90..90" in by_line[5].reason
    assert by_line[6].field == "ts" and "missing" in by_line[6].reason
    assert by_line[7].field == "rssi" and "not a number" in by_line[7].reason
    assert "truncated" in by_line[8].reason
    assert "UTF-8" in by_line[9].reason
    assert empty_store.scalar("SELECT count() FROM santi.way_data") == 2
    kept = empty_store.query_rows("SELECT line, field FROM anomaly_ml.ingest_rejects ORDER BY line")
    assert [r[0] for r in kept] == [3, 4, 5, 6, 7, 8, 9]
    stored = empty_store.query_dicts("SELECT device_id, vendor, is_randomized FROM santi.way_data ORDER BY ts")
    assert stored[0]["device_id"] == "3C:22:FB:01:02:0A" or stored[1]["device_id"] == "3C:22:FB:01:02:0A"
    assert {r["vendor"] for r in stored} >= {"Acme"}


def test_reingesting_the_same_file_does_not_double(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pandas(random_sightings(3000), preserve_index=False), path)
    first = ingest_file(empty_store, path, settings)
    second = ingest_file(empty_store, path, settings)
    assert first.accepted == 3000 and second.accepted == 0 and second.already_stored == 3000
    assert empty_store.scalar("SELECT count() FROM santi.way_data") == 3000
    assert empty_store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") == 3000


def test_same_api_batch_twice_is_stored_once_views_included(empty_store: Store) -> None:
    table = pa.Table.from_pandas(random_sightings(500).astype({"ts": str}), preserve_index=False)
    assert ingest_table(empty_store, table, "api").accepted == 500
    again = ingest_table(empty_store, table, "api")
    assert (again.accepted, again.duplicates) == (0, 500)  # every sighting is stored already
    assert empty_store.scalar("SELECT count() FROM santi.way_data") == 500
    assert empty_store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") == 500
    assert empty_store.scalar("SELECT sum(sightings) FROM anomaly_ml.folder_hourly_v") == 500
    # The chained views (device_days from hourly_features, folder_hourly from folder_5min) drop it too.
    assert empty_store.scalar("SELECT sum(sightings) FROM anomaly_ml.folder_5min") == 500
    assert empty_store.scalar("SELECT sum(sightings) FROM anomaly_ml.device_days") == 500


def test_ndjson_and_json_with_bad_lines(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    good = {"ts": "2026-11-20T10:00:00+03:00", "device_id": "3c-22-fb-01-02-03", "sensor_id": "s1",
            "folder": "office", "rssi": -55, "lat": 55.7, "lon": 37.6}
    lines = [json.dumps(good), "{not json", json.dumps([1, 2]), json.dumps({**good, "lon": 500}), ""]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_file(empty_store, path, settings)
    assert (report.accepted, report.rejected) == (1, 3)
    assert [r.line for r in report.rejects] == [2, 3, 4]
    ts = empty_store.query_df("SELECT ts FROM santi.way_data")["ts"].iloc[0]
    assert ts == pd.Timestamp("2026-11-20T07:00:00Z")  # offset honoured, stored as UTC


def test_map_and_set_load_a_vendor_export_unchanged(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text("time,mac,signal,latitude,longitude\n"
                    "2026-11-20 10:00:00,3C:22:FB:01:02:03,-50,55.1,37.1\n", encoding="utf-8")
    mapping = ColumnMapping.parse(["ts=time,device_id=mac", "rssi=signal", "lat=latitude,lon=longitude"],
                                  ["folder=lab", "sensor_id=s1"])
    report = ingest_file(empty_store, path, settings, mapping=mapping)
    assert report.accepted == 1
    row = empty_store.query_dicts("SELECT folder, sensor_id, rssi FROM santi.way_data")[0]
    assert row == {"folder": "lab", "sensor_id": "s1", "rssi": -50}


def test_missing_required_column_refused_before_storing(empty_store: Store, settings: Settings,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("ts,device_id\n2026-11-20T10:00:00Z,3C:22:FB:01:02:03\n", encoding="utf-8")
    with pytest.raises(MappingError, match="sensor_id"):
        ingest_file(empty_store, path, settings)
    assert empty_store.scalar("SELECT count() FROM santi.way_data") == 0
    with pytest.raises(MappingError, match="not a sighting field"):
        ColumnMapping.parse(["colour=x"], [])


def test_every_view_target_deduplicates_resent_blocks(store: Store) -> None:
    # A re-sent ingest batch is dropped by santi.way_data; a view target without a deduplication window
    # would add it a second time. Every view fed from way_data that keeps additive aggregates (sums, counts)
    # must write to such a table; set-union states (uniqExact, groupUniqArray) absorb repeats anyway.
    targets = {}
    for _name, ddl in store.query_rows(
            "SELECT name, create_table_query FROM system.tables WHERE engine = 'MaterializedView'"):
        if "santi.way_data" in ddl:
            target = ddl.split(" TO ", 1)[1].split()[0]
            targets[target] = store.scalar(
                "SELECT create_table_query FROM system.tables WHERE database || '.' || name = {t:String}",
                {"t": target})
    assert len(targets) >= 2
    additive = {t: ddl for t, ddl in targets.items() if "sum" in ddl.lower() or "count" in ddl.lower()}
    assert additive
    for target, ddl in additive.items():
        assert "non_replicated_deduplication_window" in ddl, f"{target} does not deduplicate re-sent blocks"
