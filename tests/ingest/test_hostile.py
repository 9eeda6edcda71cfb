"""Issue 13: no input shape crashes ingest, exactly the good rows are stored, re-ingest stores once."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.pipeline import ingest_file, ingest_table
from santiway_anomaly.ingest.readers import ReadError
from santiway_anomaly.storage import Store
from tests.ingest.helpers import HEADER

GOOD = {"ts": "2026-11-20T10:00:00Z", "device_id": "3C:22:FB:01:02:03", "sensor_id": "s1", "folder": "office",
        "network_type": "wifi", "rssi": -60, "lat": 55.75, "lon": 37.61}


def good(i: int) -> dict[str, object]:
    return {**GOOD, "ts": f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z"}


def csv_row(i: int, vendor: str = "") -> str:
    row = good(i)
    return f"{row['ts']},3C:22:FB:01:02:03,s1,office,wifi,-60,55.75,37.61,{vendor}\n"


def count(store: Store) -> int:
    return int(store.scalar("SELECT count() FROM santi.way_data"))


def test_csv_long_field_and_separators_inside_fields(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    odd = "\u2028\u2029\u0085\f\v\x1c\x1d\x1e"
    text = (HEADER + csv_row(0) + csv_row(1, "x" * 200_000) + csv_row(2, f'"Acme{odd}Corp"')
            + csv_row(3, '"multi\nline"') + csv_row(4))
    path = tmp_path / "odd.csv"
    path.write_text(text, encoding="utf-8")
    report = ingest_file(empty_store, path, settings)
    by_line = {r.line: r.reason for r in report.rejects}
    # line 3 is the 200k-character vendor; lines 4, 5(+6 for the quoted line break) and 7 are good
    assert set(by_line) == {3}, by_line
    assert "limit" in by_line[3]
    assert report.accepted == 4
    vendors = {str(v) for (v,) in empty_store.query_rows("SELECT vendor FROM santi.way_data")}
    assert f"Acme{odd}Corp" in vendors


def test_csv_unbalanced_quote_keeps_the_lines_after(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    text = HEADER + csv_row(0) + csv_row(1, '"broken') + "".join(csv_row(i) for i in range(2, 6))
    path = tmp_path / "quote.csv"
    path.write_text(text, encoding="utf-8")
    report = ingest_file(empty_store, path, settings)
    assert [r.line for r in report.rejects] == [3]
    assert report.accepted == 5


def test_ndjson_bom_crlf_and_unicode_separators(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    rows = [json.dumps({**good(i), "vendor": f"v\u2028{i}\u0085"}, ensure_ascii=False) for i in range(40)]
    path = tmp_path / "bom.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8") + b"\r\n")
    report = ingest_file(empty_store, path, settings)
    assert report.rejected == 0, report.rejects
    assert report.accepted == 40 == count(empty_store)


BAD_NDJSON = [
    ('{"ts": "now"}', "ts"),
    ('{"ts": "today"}', "ts"),
    ('{"device_id": 112233445566}', "device_id"),
    ('{"folder": {"a": 1}}', "folder"),
    ('{"sensor_id": ["s"]}', "sensor_id"),
    ('{"vendor": "\\ud800"}', "vendor"),
    ('{"rssi": true}', "rssi"),
    ('{"vendor": "' + "v" * 300 + '"}', "vendor"),
    ('{"ts": 1e300}', "ts"),
    ('{"lat": 1e400}', "lat"),
]


@pytest.mark.parametrize(("patch", "field"), BAD_NDJSON)
def test_ndjson_bad_values_rejected_with_reason(empty_store: Store, settings: Settings, tmp_path: Path,
                                                patch: str, field: str) -> None:
    bad = {**good(1)}
    bad.update(json.loads(patch))
    lines = [json.dumps(good(0)), json.dumps(bad) if "ud800" not in patch else json.dumps(good(1))[:-1]
             + ', "vendor": "\\ud800"}', json.dumps(good(2))]
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_file(empty_store, path, settings)
    assert report.accepted == 2
    assert [r.line for r in report.rejects] == [2]
    assert field in report.rejects[0].field and report.rejects[0].reason


def test_deep_json_is_one_reject_not_a_crash(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "deep.ndjson"
    path.write_text(json.dumps(good(0)) + "\n" + "[" * 5000 + "]" * 5000 + "\n" + json.dumps(good(1)) + "\n")
    report = ingest_file(empty_store, path, settings)
    assert report.accepted == 2 and [r.line for r in report.rejects] == [2]
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ReadError, match="nested"):
        ingest_file(empty_store, deep, settings)


def test_more_than_a_hundred_days_in_one_batch(empty_store: Store, settings: Settings) -> None:
    rows = [{**GOOD, "ts": 1_700_000_000 + day * 86_400} for day in range(150)]
    table = pa.table({k: pa.array([str(r[k]) for r in rows]) for k in GOOD})
    report = ingest_table(empty_store, table, "test", settings)
    assert report.accepted == 150 == count(empty_store)


def test_parquet_shapes(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    n = 4
    base = {k: pa.array([str(v)] * n) for k, v in GOOD.items() if k not in ("ts", "rssi")}
    base["ts"] = pa.array([1_763_633_000 + i for i in range(n)], type=pa.int64())
    base["rssi"] = pa.array([-60] * n, type=pa.int64())
    shapes = {
        "binary": {**base, "vendor": pa.array([b"ok", b"\xff\xfe", None, b"x"], type=pa.binary())},
        "list": {**base, "folder": pa.array([["a"], None, ["b"], None], type=pa.list_(pa.string()))},
        "struct": {**base, "sensor_id": pa.array([{"a": 1}, None, None, None])},
        "uint64": {**base, "rssi": pa.array([2**64 - 1, 2**63, 0, 5], type=pa.uint64())},
    }
    for name, cols in shapes.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table(cols), path)
        report = ingest_file(empty_store, path, settings)
        assert report.accepted + report.rejected + report.duplicates == n, (name, report.to_dict())
        assert all(r.reason for r in report.rejects)
    dup = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([base["ts"], base["ts"]], names=["ts", "ts"]), dup)
    with pytest.raises(ReadError, match="more than once"):
        ingest_file(empty_store, dup, settings)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")
    with pytest.raises(ReadError):
        ingest_file(empty_store, garbage, settings)


def test_corrected_copy_and_exact_duplicates_store_each_sighting_once(empty_store: Store, settings: Settings,
                                                                      tmp_path: Path) -> None:
    first = tmp_path / "day.csv"
    first.write_text(HEADER + csv_row(0) + csv_row(0) + csv_row(1) + "garbage\n" + csv_row(2))
    report = ingest_file(empty_store, first, settings)
    assert (report.accepted, report.duplicates, report.rejected) == (3, 1, 1)
    fixed = tmp_path / "day-fixed.csv"
    fixed.write_text(HEADER + csv_row(0) + csv_row(1) + csv_row(3) + csv_row(2))
    report = ingest_file(empty_store, fixed, settings)
    assert (report.accepted, report.duplicates) == (1, 3)
    assert count(empty_store) == 4
