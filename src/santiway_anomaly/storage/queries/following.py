"""The evidence behind a "following" anomaly, read back from the sightings: where the moving sensor went
(its own position, which every sighting it made carries) and where it heard the device."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.storage.store import Store

# One row per time bucket (aliases differ from the columns: ClickHouse would read `lat` in WHERE as the
# aggregate): the sensor's median position (robust to one bad GPS fix) and the folder it
# reported most. Sightings without a position (0, 0) say nothing about where the sensor was.
SENSOR_PATH_SQL = """
SELECT toStartOfInterval(ts, toIntervalSecond({bucket:UInt32})) AS t,
       median(lat) AS plat, median(lon) AS plon, topK(1)(folder)[1] AS folder, count() AS sightings
FROM santi.way_data
WHERE sensor_id = {sensor:String}
  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
  AND NOT (lat = 0 AND lon = 0)
GROUP BY t
ORDER BY t
"""

# The same buckets for the device's sightings by that sensor only (device_id leads the sort key).
DEVICE_WITH_SENSOR_SQL = """
SELECT toStartOfInterval(ts, toIntervalSecond({bucket:UInt32})) AS t,
       median(lat) AS plat, median(lon) AS plon, topK(1)(folder)[1] AS folder, count() AS sightings,
       min(ts) AS first, max(ts) AS last, avg(rssi) AS rssi_mean
FROM santi.way_data
WHERE device_id = {device:String} AND sensor_id = {sensor:String}
  AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
  AND NOT (lat = 0 AND lon = 0)
GROUP BY t
ORDER BY t
"""


def _aware(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    for row in rows:
        for key in keys:
            value = row[key]
            if isinstance(value, datetime) and value.tzinfo is None:
                row[key] = value.replace(tzinfo=UTC)  # DateTime64(…, 'UTC') comes back naive
    return rows


def sensor_path(store: Store, sensor: str, start: datetime, end: datetime, bucket_s: int) -> list[dict[str, Any]]:
    rows = store.query_dicts(SENSOR_PATH_SQL, {"sensor": sensor, "start": start, "end": end, "bucket": bucket_s})
    return _aware(rows, "t")


def device_with_sensor(store: Store, device: str, sensor: str, start: datetime, end: datetime,
                       bucket_s: int) -> list[dict[str, Any]]:
    params = {"device": device, "sensor": sensor, "start": start, "end": end, "bucket": bucket_s}
    return _aware(store.query_dicts(DEVICE_WITH_SENSOR_SQL, params), "t", "first", "last")
