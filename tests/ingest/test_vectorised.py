"""The per-distinct-value validation (issue 17) against the reference validation it replaced
(`reference_validate.py`), row for row: the same rejects (line, fields, reason, raw row) and the same
stored rows and values, on the damaged corpus, on Hypothesis-generated batches and Parquet shapes, and
on a Parquet file read the fast way (text as dictionaries) against the same file read as plain text."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from santiway_anomaly.api.routes.ingest import parse_batch
from santiway_anomaly.ingest.readers import _csv, _ndjson, _plain_columns, read_batches
from santiway_anomaly.ingest.records import Limits, records_table
from santiway_anomaly.ingest.validate import LINE, validate, validate_encoded
from tests.ingest import reference_validate
from tests.ingest.corpus import FIELDS, build
from tests.ingest.test_fuzz import ARROW_COLUMNS, RECORDS

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same_as_reference(table: pa.Table) -> int:
    """Both validations agree on `table`; returns how many rows were stored."""
    stored, rejects = validate_encoded(table, now=NOW)
    ref_stored, ref_rejects = reference_validate.validate(table, now=NOW)
    assert [r.to_dict() for r in rejects] == [r.to_dict() for r in ref_rejects]
    assert stored.num_rows == ref_stored.num_rows
    if stored.num_rows:
        assert stored.column_names == ref_stored.column_names
        for name in ref_stored.column_names:
            # The ingest stores text as dictionary arrays: compare values, not encodings.
            assert stored.column(name).to_pylist() == ref_stored.column(name).to_pylist(), name
        plain, _ = validate(table, now=NOW)
        assert plain.equals(ref_stored)  # the public form: the same schema and values
    return int(stored.num_rows)


@pytest.fixture(scope="module")
def corpus() -> object:
    return build(4000, seed=3)


def test_the_damaged_corpus_as_ndjson(corpus: object) -> None:
    stored = 0
    for batch in _ndjson(io.BytesIO(corpus.ndjson), 700, Limits()):  # type: ignore[attr-defined]
        stored += assert_same_as_reference(batch.table)
    assert stored > 1000


def test_the_damaged_corpus_as_csv(corpus: object) -> None:
    stored = 0
    for batch in _csv(io.BytesIO(corpus.csv), 700, Limits()):  # type: ignore[attr-defined]
        stored += assert_same_as_reference(batch.table)
    assert stored > 1000


@FAST
@given(RECORDS)
def test_generated_records(items: list[dict[str, object]]) -> None:
    body = "\n".join(json.dumps(i) for i in items).encode()
    if not body.strip():
        return
    records, lines, _ = parse_batch(body, "application/x-ndjson")
    if records:
        assert_same_as_reference(records_table(records, lines))


@FAST
@given(st.dictionaries(st.sampled_from(FIELDS), ARROW_COLUMNS, min_size=1))
def test_generated_parquet_shapes(columns: dict[str, pa.Array]) -> None:
    table = pa.table({**columns, LINE: pa.array([1, 2, 3], type=pa.int64())})
    plain, _ = _plain_columns(table)
    assert_same_as_reference(plain)


PROBES = {
    "seq": ["12", "-1", "4096", "x", None, "7.5", "4095", "0"],
    "ies": ["0,1,50", "1,,2", " 221 ", None, "a", "", "3" * 2000, "0"],
    "ssid": ["home", " cafe ", None, "", "s" * 65, "net", "x", "y"],
}


def test_probe_fields() -> None:
    n = len(PROBES["seq"])
    table = pa.table({"ts": ["2026-10-01T00:00:00Z"] * n, "device_id": ["3c-22-fb-00-00-01"] * n,
                      "sensor_id": ["s"] * n, "folder": ["f"] * n, "rssi": ["-60"] * n, "lat": ["1"] * n,
                      "lon": ["2"] * n, **PROBES, LINE: list(range(1, n + 1))})
    assert 0 < assert_same_as_reference(table) < n


def _damaged_parquet(path: Path) -> None:
    """Typed columns as the simulator writes them, with text damaged in the ways feeds damage it."""
    macs = ["3C:22:FB:00:00:01", " 3c-22-fb-00-00-02 ", "3c22.fb00.0003", "DA:A1:19:00:00:04", "zz:zz", "",
            "3C22FB000005", "3C:22:FB:00:00:01 "]
    vendors = ["", "Acme", " Acme ", "", "v" * 200, "", "", "Other"]
    folders = ["office", " office", "", "o" * 129, "warehouse", "office", "lab", "lab"]
    networks = ["wifi", "BLE", "", "wi fi!", "ble", "x" * 17, "wifi", "Wifi"]
    n = 4000
    pick = [i * 7919 % 8 for i in range(n)]
    pq.write_table(pa.table({
        "ts": pa.array([1_790_000_000_000 + i * 1000 for i in range(n)], pa.timestamp("ms", tz="UTC")),
        "device_id": [macs[k] for k in pick],
        "sensor_id": [f"s{i % 5}" if i % 11 else "" for i in range(n)],
        "folder": [folders[(k + i) % 8] for i, k in enumerate(pick)],
        "network_type": [networks[(k * 3 + i) % 8] for i, k in enumerate(pick)],
        "rssi": pa.array([-60 - i % 70 for i in range(n)], pa.int16()),
        "lat": [55.75] * n,
        "lon": [37.61 if i % 13 else 200.0 for i in range(n)],
        "vendor": [vendors[(k + i // 3) % 8] for i, k in enumerate(pick)],
    }), path, row_group_size=1500)


def test_parquet_read_as_dictionaries_matches_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "damaged.parquet"
    _damaged_parquet(path)
    plain = pq.read_table(path)  # what the reader gave before: every text decoded
    start, stored, rejected = 0, 0, 0
    for batch in read_batches(path, "parquet", 1000):
        assert pa.types.is_dictionary(batch.table.column("device_id").type)
        n = batch.table.num_rows
        reference = plain.slice(start, n).append_column(LINE, batch.table.column(LINE))
        new_stored, new_rejects = validate_encoded(batch.table, now=NOW)
        ref_stored, ref_rejects = reference_validate.validate(reference, now=NOW)
        assert [r.to_dict() for r in new_rejects] == [r.to_dict() for r in ref_rejects]
        for name in ref_stored.column_names:
            assert new_stored.column(name).to_pylist() == ref_stored.column(name).to_pylist(), name
        start += n
        stored += new_stored.num_rows
        rejected += len(new_rejects)
    assert start == plain.num_rows and stored > 1000 and rejected > 1000
