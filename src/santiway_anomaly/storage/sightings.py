"""Raw sightings already stored: the keys the ingest compares new rows against (content dedup)."""

from __future__ import annotations

from datetime import UTC

import pyarrow as pa
import pyarrow.compute as pc

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

# Two rows are the same sighting when every field the feed gave is equal. Not a narrower key: a sensor
# may report one device twice in the same millisecond with two readings (the simulator does, 80 in 200k).
SIGHTING_KEY = ("ts", "device_id", "sensor_id", "folder", "network_type", "rssi", "lat", "lon", "vendor")
TEXT_FIELDS = ("device_id", "sensor_id", "folder", "network_type", "vendor")


# Up to this many distinct devices, the fetch names them: (device_id, ts) is the table's sort key,
# so it reads only those devices' ranges instead of every sighting in the time span.
MAX_DEVICES_NAMED = 20_000


def stored_keys_between(store: Store, lo_ms: int, hi_ms: int, before_ms: int | None = None,
                        devices: pa.Array | pa.ChunkedArray | None = None) -> pa.Table | None:
    """Keys (ts as epoch ms) of the sightings stored in [lo_ms, hi_ms] (and, with `before_ms`, ingested
    before that instant; with `devices`, of those devices only), or None when there are none.

    The count first: on new data (the usual case) it is answered from the daily partitions alone.
    """
    params: dict[str, object] = {"lo": lo_ms, "hi": hi_ms, "before": before_ms or 0}
    where = ("ts >= fromUnixTimestamp64Milli({lo:Int64}, 'UTC') "
             "AND ts <= fromUnixTimestamp64Milli({hi:Int64}, 'UTC')")
    if before_ms is not None:
        where += " AND ingested_at < fromUnixTimestamp64Milli({before:Int64}, 'UTC')"
    if not store.scalar(f"SELECT count() FROM santi.way_data WHERE {where}", params):
        return None
    distinct = pc.unique(devices) if devices is not None else None
    if distinct is not None and len(distinct) <= MAX_DEVICES_NAMED:
        where += " AND " + in_ids("device_id", "devices")
        params["devices"] = distinct.to_pylist()
    table = store.query_arrow(
        # Aliases differ from the column names: in ClickHouse an alias would replace `ts` in WHERE.
        "SELECT toUnixTimestamp64Milli(ts) AS k_ts, device_id AS k_device_id, toString(sensor_id) AS k_sensor_id, "
        "toString(folder) AS k_folder, toString(network_type) AS k_network_type, rssi, lat, lon, "
        f"toString(vendor) AS k_vendor FROM santi.way_data WHERE {where}", params)
    return pa.table({
        "ts": table.column("k_ts").cast(pa.int64()),
        **{name: table.column(f"k_{name}").cast(pa.string()) for name in TEXT_FIELDS},
        "rssi": table.column("rssi").cast(pa.int16()),
        "lat": table.column("lat").cast(pa.float64()),
        "lon": table.column("lon").cast(pa.float64()),
    }).select(list(SIGHTING_KEY))


def stored_span(store: Store) -> tuple[int, int] | None:
    """(first, last) sighting time stored, as epoch ms, or None when nothing is stored.

    ClickHouse answers min/max/count of the partition key's column from part metadata (no scan)."""
    row = store.query_rows("SELECT count(), min(ts), max(ts) FROM santi.way_data")[0]
    if not int(row[0]):
        return None
    lo, hi = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in row[1:])
    return int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)
