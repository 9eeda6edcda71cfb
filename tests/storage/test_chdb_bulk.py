"""The embedded store's in-process Arrow insert path: names and setting values are checked first."""

from __future__ import annotations

import pyarrow as pa
import pytest

from santiway_anomaly.ingest.validate import LINE, validate
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.chdb_bulk import _setting_literal
from tests.ingest.helpers import random_sightings

# chDB's in-process insert path exists only for the embedded store.
pytestmark = pytest.mark.embedded_only


def test_embedded_store_inserts_arrow_in_process(empty_store: Store) -> None:
    assert empty_store._bulk is not None  # the embedded store takes the in-process path
    raw = pa.Table.from_pandas(random_sightings(700).astype({"ts": str}), preserve_index=False)
    stored, rejects = validate(raw.append_column(LINE, pa.array(range(1, 701), pa.int64())))
    assert not rejects
    empty_store.insert_arrow("santi.way_data", stored, dedup_token="t:1")
    empty_store.insert_arrow("santi.way_data", stored, dedup_token="t:1")  # a re-sent batch
    assert empty_store.scalar("SELECT count() FROM santi.way_data") == 700
    assert empty_store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features_v") == 700
    back = empty_store.query_arrow("SELECT device_id, ts, rssi FROM santi.way_data ORDER BY device_id, ts")
    expected = stored.select(["device_id", "ts", "rssi"]).sort_by([("device_id", "ascending"), ("ts", "ascending")])
    assert back.column("device_id").to_pylist() == expected.column("device_id").to_pylist()
    assert back.column("rssi").to_pylist() == expected.column("rssi").to_pylist()
    assert [t.replace(tzinfo=None) for t in back.column("ts").to_pylist()] == \
        [t.replace(tzinfo=None) for t in expected.column("ts").to_pylist()]


@pytest.mark.parametrize("value", ["x'; DROP TABLE santi.way_data;--", "a b", "", "é"])
def test_setting_values_outside_the_safe_alphabet_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="setting value"):
        _setting_literal(value)


def test_injection_in_a_dedup_token_stores_nothing_and_drops_nothing(empty_store: Store) -> None:
    rows = pa.table({"source_hash": ["h"], "batch_no": pa.array([0], pa.uint32()), "source": ["f"],
                     "rows": pa.array([1], pa.uint64())})
    with pytest.raises(ValueError):
        empty_store.insert_arrow("anomaly_ml.ingest_batches", rows, dedup_token="x'; DROP TABLE santi.way_data;--")
    with pytest.raises(ValueError, match="not a valid table"):
        empty_store.insert_arrow("santi.way_data; DROP TABLE x", rows)
    assert empty_store.scalar("SELECT count() FROM anomaly_ml.ingest_batches") == 0
    assert empty_store.scalar("EXISTS TABLE santi.way_data") == 1


def test_setting_literals() -> None:
    assert _setting_literal(1) == "1"
    assert _setting_literal("abc:12") == "'abc:12'"
    with pytest.raises(ValueError):
        _setting_literal(True)
