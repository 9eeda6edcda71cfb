"""The features' SQL: device-hours, folder-hours and vendor-hours from the hourly views (features/builder.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

_HOURS_SQL = """
SELECT
    h.device_id AS device_id,
    h.hour AS hour,
    toFloat64(h.event_count) AS count,
    toFloat64(h.active_minutes) AS minutes,
    h.rssi_mean AS rssi_mean, h.rssi_std AS rssi_std,
    toFloat64(h.rssi_min) AS rssi_min, toFloat64(h.rssi_max) AS rssi_max,
    h.lat_mean AS lat, h.lon_mean AS lon, h.lat_std AS lat_std, h.lon_std AS lon_std,
    h.lat_min AS lat_min, h.lat_max AS lat_max, h.lon_min AS lon_min, h.lon_max AS lon_max,
    toFloat64(h.sensor_count) AS sensors,
    toFloat64(length(h.folders)) AS folders,
    toInt64(cityHash64(arraySort(h.folders)) % 1000000007) AS folder_hash,
    toInt64(cityHash64(arraySort(h.sensor_list)) % 1000000007) AS sensor_hash,
    toFloat64(h.network_type = 'wifi') AS is_wifi,
    toFloat64(h.network_type = 'ble') AS is_ble,
    toFloat64(h.is_randomized) AS randomized,
    h.vendor AS vendor,
    toFloat64(f.unique_devices) AS folder_devices,
    toFloat64(f.sightings) AS folder_sightings,
    toFloat64(f.randomized_devices) AS folder_randomized
FROM
(
    SELECT * FROM anomaly_ml.hourly_features_v
    WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
      AND """ + in_ids("device_id", "devices") + """
) AS h
LEFT JOIN
(
    SELECT folder, hour, unique_devices, sightings, randomized_devices FROM anomaly_ml.folder_hourly_v
    WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
) AS f ON f.folder = arraySort(h.folders)[1] AND f.hour = h.hour
"""

# Vendor behaviour is a population statistic: aggregate every device of the vendor, not only
# the devices being scored, so one device's features do not depend on who else is in the batch.
_VENDOR_HOURS_SQL = """
SELECT vendor, hour, count() AS present, avg(toFloat64(event_count)) AS mean_count,
       avg(rssi_mean + 120) AS mean_signal
FROM anomaly_ml.hourly_features_v
WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
GROUP BY vendor, hour
"""

_VENDOR_TOTALS_SQL = """
SELECT vendor, uniqExact(device_id) AS devices
FROM anomaly_ml.hourly_features_v
WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
GROUP BY vendor
"""

_ACTIVE_SQL = """
SELECT device_id FROM anomaly_ml.hourly_features_v
WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
GROUP BY device_id
HAVING sum(event_count) >= {min_events:UInt64} AND (max(is_randomized) = 0 OR {randomized:UInt8} = 1)
ORDER BY device_id
"""

_DEVICE_INFO_SQL = """
SELECT device_id, argMax(vendor, hour) AS vendor, argMax(network_type, hour) AS network_type,
       argMax(arraySort(folders)[1], hour) AS folder, argMax(lat_mean, hour) AS lat,
       argMax(lon_mean, hour) AS lon, max(is_randomized) AS is_randomized
FROM anomaly_ml.hourly_features_v
WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
  AND """ + in_ids("device_id", "devices") + """
GROUP BY device_id
"""



def device_hours(store: Store, start: datetime, end: datetime, devices: Sequence[str]) -> pd.DataFrame:
    """One row per device-hour with sightings in [start, end) of `devices`, with its folder's hour."""
    return store.query_df(_HOURS_SQL, {"start": start, "end": end, "devices": list(devices)})


def vendor_hours(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """Per vendor and hour: devices present, their mean sightings and mean signal."""
    return store.query_df(_VENDOR_HOURS_SQL, {"start": start, "end": end})


def vendor_totals(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """Per vendor: distinct devices in [start, end)."""
    return store.query_df(_VENDOR_TOTALS_SQL, {"start": start, "end": end})


def active_devices(store: Store, start: datetime, end: datetime, min_events: int,
                   include_randomized: bool) -> list[str]:
    """Devices with at least `min_events` sightings in [start, end), sorted; randomized MACs only if asked."""
    rows = store.query_rows(_ACTIVE_SQL, {"start": start, "end": end, "min_events": min_events,
                                          "randomized": int(include_randomized)})
    return [str(r[0]) for r in rows]


def device_info(store: Store, start: datetime, end: datetime, devices: Sequence[str]) -> pd.DataFrame:
    """Per device of `devices` seen in [start, end): vendor, network type, folder, lat, lon (last seen)."""
    return store.query_df(_DEVICE_INFO_SQL, {"start": start, "end": end, "devices": list(devices)})


def hour_range(store: Store) -> tuple[object, object]:
    """(first, last) hour of the device-hour aggregate, as the store returns them (epoch when empty)."""
    rows = store.query_rows("SELECT min(hour), max(hour) FROM anomaly_ml.hourly_features")
    return (rows[0][0], rows[0][1]) if rows else (None, None)


def device_last_hour(store: Store, device_id: str) -> datetime | None:
    """The last hour (UTC) with sightings of one device, None when it has none."""
    last = store.scalar("SELECT max(hour) FROM anomaly_ml.hourly_features WHERE device_id = {d:String}",
                        {"d": device_id})
    if last is None or pd.Timestamp(last).year < 1980:  # max() of nothing is the epoch
        return None
    ts = pd.Timestamp(last)
    out: datetime = (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()
    return out
