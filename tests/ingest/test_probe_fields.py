"""Optional probe fields (issue 16): seq, ies, ssid through every ingest path, validated, stored."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from santiway_anomaly.api.routes.ingest import parse_batch_table
from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.pipeline import ingest_file, ingest_table
from santiway_anomaly.ingest.records import Limits
from santiway_anomaly.storage import Store
from tests.ingest.helpers import HEADER

PROBE_CSV = (
    "ts,device_id,sensor_id,folder,network_type,rssi,lat,lon,vendor,seq,ies,ssid\n"
    "2026-11-20T10:00:00Z,da:a1:19:00:00:01,s1,lab,wifi,-60,55.75,37.61,,17,\"0,1,50,221\",SSID_1\n"  # 2 ok
    "2026-11-20T10:00:01Z,da:a1:19:00:00:02,s1,lab,wifi,-60,55.75,37.61,,,,\n"                      # 3 ok, none
    "2026-11-20T10:00:02Z,da:a1:19:00:00:03,s1,lab,wifi,-60,55.75,37.61,,5000,,\n"                  # 4 seq > 4095
    "2026-11-20T10:00:03Z,da:a1:19:00:00:04,s1,lab,wifi,-60,55.75,37.61,,1.5,,\n"                   # 5 seq not whole
    "2026-11-20T10:00:04Z,da:a1:19:00:00:05,s1,lab,wifi,-60,55.75,37.61,,3,\"0;1\",\n"               # 6 bad ies
    f"2026-11-20T10:00:05Z,da:a1:19:00:00:06,s1,lab,wifi,-60,55.75,37.61,,3,,{'x' * 65}\n"          # 7 long ssid
)


def _stored(store: Store) -> list[tuple[object, ...]]:
    return [tuple(r) for r in store.query_rows("SELECT device_id, seq, ies, ssid FROM santi.way_data ORDER BY ts")]


def test_csv_probe_fields_are_validated_and_stored(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "probes.csv"
    path.write_text(PROBE_CSV)
    report = ingest_file(empty_store, path, settings)
    assert report.accepted == 2
    by_line = {r.line: r for r in report.rejects}
    assert sorted(by_line) == [4, 5, 6, 7]
    assert by_line[4].field == "seq" and "0..4095" in by_line[4].reason
    assert by_line[5].field == "seq"
    assert by_line[6].field == "ies"
    assert by_line[7].field == "ssid" and "64" in by_line[7].reason
    assert _stored(empty_store) == [("DA:A1:19:00:00:01", 17, "0,1,50,221", "SSID_1"),
                                    ("DA:A1:19:00:00:02", -1, "", "")]


def test_files_without_probe_fields_read_the_defaults(empty_store: Store, settings: Settings,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text(HEADER + "2026-11-20T10:00:00Z,3c:22:fb:01:02:03,s1,lab,wifi,-60,55.75,37.61,\n")
    assert ingest_file(empty_store, path, settings).accepted == 1
    assert _stored(empty_store) == [("3C:22:FB:01:02:03", -1, "", "")]


def test_parquet_and_post_bodies_carry_probe_fields(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "probes.parquet"
    pq.write_table(pa.table({
        "ts": ["2026-11-20T10:00:00Z"], "device_id": ["da:a1:19:00:00:01"], "sensor_id": ["s1"], "folder": ["lab"],
        "network_type": ["wifi"], "rssi": [-60], "lat": [55.75], "lon": [37.61], "vendor": [""],
        "seq": pa.array([4095], type=pa.int64()), "ies": ["0,1"], "ssid": [""],
    }), path)
    assert ingest_file(empty_store, path, settings).accepted == 1
    body = "\n".join(json.dumps(r) for r in [
        {"ts": "2026-11-20T10:00:01Z", "device_id": "da:a1:19:00:00:02", "sensor_id": "s1", "folder": "lab",
         "rssi": -61, "lat": 55.75, "lon": 37.61, "seq": 12, "ies": "0,1,50", "ssid": "home"},
        {"ts": "2026-11-20T10:00:02Z", "device_id": "da:a1:19:00:00:03", "sensor_id": "s1", "folder": "lab",
         "rssi": -61, "lat": 55.75, "lon": 37.61, "ies": 7},  # a number where text belongs
    ]).encode()
    table, rejects = parse_batch_table(body, "application/x-ndjson", Limits())
    assert table is not None and [r.line for r in rejects] == [2]
    assert ingest_table(empty_store, table, "api").accepted == 1
    assert _stored(empty_store) == [("DA:A1:19:00:00:01", 4095, "0,1", ""),
                                    ("DA:A1:19:00:00:02", 12, "0,1,50", "home")]


def test_sql_inserts_name_the_probe_columns_or_not(empty_store: Store) -> None:
    empty_store.command(
        "INSERT INTO santi.way_data (ts, device_id, sensor_id, folder, network_type, rssi, lat, lon, vendor, "
        "is_randomized, seq, ies, ssid) VALUES ('2026-11-20 10:00:00', 'DA:A1:19:00:00:01', 's1', 'lab', 'wifi', "
        "-60, 55.75, 37.61, '', 1, 9, '0,1', 'x')")
    empty_store.command(
        "INSERT INTO santi.way_data (ts, device_id, sensor_id, folder, network_type, rssi, lat, lon, vendor, "
        "is_randomized) VALUES ('2026-11-20 10:00:01', 'DA:A1:19:00:00:02', 's1', 'lab', 'wifi', -60, 55.75, "
        "37.61, '', 1)")
    assert _stored(empty_store) == [("DA:A1:19:00:00:01", 9, "0,1", "x"), ("DA:A1:19:00:00:02", -1, "", "")]
