"""The one id-set form (storage/idsets.py): exact at any size, NOT IN too, names checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from santiway_anomaly.storage import Store
from santiway_anomaly.storage.idsets import in_ids
from tests.clickhouse_http.test_server_store import sightings

MANY = 60_000  # past the size where the literal `IN {ids:Array(String)}` falls off its cliff


def test_a_large_id_set_selects_exactly_its_devices(empty_store: Store) -> None:
    empty_store.insert_arrow("santi.way_data", sightings(70, datetime(2026, 3, 2, 9, tzinfo=UTC)))
    stored = [f"00:11:22:33:44:{i:02X}" for i in range(7)]  # 10 sightings each
    ids = [f"02:00:00:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}" for i in range(MANY)] + stored[:3]
    sql = "SELECT count(), uniqExact(device_id) FROM santi.way_data WHERE {where}"
    assert empty_store.query_rows(sql.format(where=in_ids("device_id", "ids")), {"ids": ids}) == [(30, 3)]
    assert empty_store.query_rows(sql.format(where=in_ids("device_id", "ids", negate=True)), {"ids": ids}) == [
        (40, 4)]
    assert empty_store.query_rows(sql.format(where=in_ids("device_id", "ids")), {"ids": []}) == [(0, 0)]


def test_names_are_checked() -> None:
    assert in_ids("h.device_id", "ids") == "h.device_id IN (SELECT arrayJoin({ids:Array(String)}))"
    assert in_ids("seq", "s", type_="UInt64") == "seq IN (SELECT arrayJoin({s:Array(UInt64)}))"
    for bad in ({"column": "x) OR (1"}, {"param": "a:String}"}, {"type_": "String)) --"}):
        with pytest.raises(ValueError):
            in_ids(**{"column": "device_id", "param": "ids", **bad})  # type: ignore[arg-type]
