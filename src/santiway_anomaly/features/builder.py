"""Build the 98 features per device per hour from the store's hourly views.

ClickHouse does the heavy aggregation (sightings -> device-hours via the materialized view,
folder-hours, vendor-hours); Python receives one row per device-hour that had sightings,
scatters the rows into dense (devices, hours) arrays with zeros for silent hours, and computes
every feature as whole-array operations (`compute.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from loguru import logger

from santiway_anomaly.config import Settings
from santiway_anomaly.features.catalog import FEATURE_NAMES
from santiway_anomaly.features.compute import HourlyInput, compute_features
from santiway_anomaly.storage.store import Store

# Devices per query and per feature computation: bounds memory at roughly 1 GB for 37 days.
CHUNK_DEVICES = 500

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
      AND device_id IN {devices:Array(String)}
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
  AND device_id IN {devices:Array(String)}
GROUP BY device_id
"""

_UNKNOWN_VENDORS = {"", "unknown", "Unknown", "randomized", "Randomized"}


@dataclass
class FeatureFrame:
    """Features of `device_ids` over `hours` (UTC hour starts): values (devices, hours, features)."""

    device_ids: np.ndarray
    hours: pd.DatetimeIndex
    values: np.ndarray
    names: tuple[str, ...]
    info: pd.DataFrame  # per device: vendor, network_type, folder, lat, lon, is_randomized (last seen)

    def select(self, names: Sequence[str]) -> np.ndarray:
        """The values restricted to `names`, in that order."""
        index = [self.names.index(n) for n in names]
        return self.values[:, :, index]


def hour_floor(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def active_devices(store: Store, start: datetime, end: datetime, min_events: int = 1,
                   include_randomized: bool = False) -> list[str]:
    """Devices with at least `min_events` sightings in [start, end); randomized MACs only if asked."""
    rows = store.query_rows(_ACTIVE_SQL, {"start": start, "end": end, "min_events": min_events,
                                          "randomized": int(include_randomized)})
    return [r[0] for r in rows]


def latest_hour(store: Store) -> datetime | None:
    """The last hour that holds data (the natural "now" for a historical data set)."""
    return _hour_value(store.scalar("SELECT max(hour) FROM anomaly_ml.hourly_features"))


def first_hour(store: Store) -> datetime | None:
    """The first hour that holds data."""
    return _hour_value(store.scalar("SELECT min(hour) FROM anomaly_ml.hourly_features"))


def _hour_value(value: object) -> datetime | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    if ts.year < 1980:  # min()/max() of an empty table is the epoch
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    out: datetime = ts.to_pydatetime()
    return out


def build_features(
    store: Store,
    settings: Settings,
    start: datetime,
    end: datetime,
    device_ids: Sequence[str] | None = None,
    min_events: int = 1,
) -> FeatureFrame:
    """Features for every hour in [start, end) of the given devices (default: devices active in it,
    without randomized MACs unless ML_INCLUDE_RANDOMIZED).

    History before `start` (FEATURE_HISTORY_HOURS) is read so rolling and profile features of the
    first hours are as complete as the store allows; it is not part of the result.
    """
    start, end = hour_floor(start), hour_floor(end)
    if end <= start:
        raise ValueError(f"empty feature range {start} .. {end}")
    hist = settings.feature_history_hours
    load_start = start - timedelta(hours=hist)
    devices = (list(device_ids) if device_ids is not None
               else active_devices(store, start, end, min_events, settings.ml_include_randomized))
    all_hours = pd.date_range(load_start, end, freq="h", inclusive="left", tz="UTC")
    out_hours = all_hours[hist:]
    names = FEATURE_NAMES
    if not devices:
        return FeatureFrame(np.array([], dtype=object), out_hours,
                            np.zeros((0, len(out_hours), len(names)), np.float32), names, _empty_info())
    params = {"start": load_start, "end": end}
    vendor_hours = store.query_df(_VENDOR_HOURS_SQL, params)
    vendor_totals = store.query_df(_VENDOR_TOTALS_SQL, params)
    local_hour = all_hours.tz_convert(settings.timezone).hour.to_numpy()
    parts: list[np.ndarray] = []
    for i in range(0, len(devices), CHUNK_DEVICES):
        chunk = devices[i : i + CHUNK_DEVICES]
        rows = store.query_df(_HOURS_SQL, {**params, "devices": chunk})
        hourly = _densify(rows, chunk, all_hours, vendor_hours, vendor_totals, local_hour, hist)
        parts.append(compute_features(hourly)[:, hist:, :])
    info = store.query_df(_DEVICE_INFO_SQL, {"start": start, "end": end, "devices": devices})
    if "device_id" not in info:  # no rows come back without columns
        info = _empty_info().assign(device_id=[])
    info = info.set_index("device_id").reindex(devices)
    logger.debug("features: {} devices x {} hours from {}", len(devices), len(out_hours), start)
    return FeatureFrame(np.array(devices, dtype=object), out_hours, np.concatenate(parts, axis=0), names, info)


def _empty_info() -> pd.DataFrame:
    return pd.DataFrame(columns=["vendor", "network_type", "folder", "lat", "lon", "is_randomized"])


def _densify(
    rows: pd.DataFrame,
    devices: Sequence[str],
    hours: pd.DatetimeIndex,
    vendor_hours: pd.DataFrame,
    vendor_totals: pd.DataFrame,
    local_hour: np.ndarray,
    history_hours: int,
) -> HourlyInput:
    n_dev, n_hours = len(devices), len(hours)
    dev_index = pd.Index(devices)
    di = dev_index.get_indexer(pd.Index(rows["device_id"])) if len(rows) else np.array([], dtype=np.int64)
    hour_ns = pd.DatetimeIndex(rows["hour"]).as_unit("ns").asi8 if len(rows) else np.array([], np.int64)
    hi = (hour_ns - hours[0].value) // 3_600_000_000_000 if len(rows) else hour_ns

    def dense(column: str | np.ndarray) -> np.ndarray:
        out = np.zeros((n_dev, n_hours), dtype=np.float64)
        if len(rows):
            values = rows[column].to_numpy(dtype=np.float64) if isinstance(column, str) else column
            out[di, hi] = np.nan_to_num(values, nan=0.0)
        return out

    # Vendor statistics per (vendor, hour), looked up for each device-hour row.
    total_by_vendor = (dict(zip(vendor_totals["vendor"], vendor_totals["devices"], strict=True))
                       if len(vendor_totals) else {})
    all_devices = max(sum(total_by_vendor.values()), 1)
    vh = vendor_hours.set_index(["vendor", "hour"]) if len(vendor_hours) else None
    if len(rows) and vh is not None:
        key = pd.MultiIndex.from_arrays([rows["vendor"], rows["hour"]])
        looked = vh.reindex(key)
        totals = rows["vendor"].map(total_by_vendor).fillna(1).to_numpy(dtype=np.float64)
        present_share = looked["present"].to_numpy(dtype=np.float64) / np.maximum(totals, 1)
        mean_count = looked["mean_count"].to_numpy(dtype=np.float64)
        mean_signal = looked["mean_signal"].to_numpy(dtype=np.float64)
    else:
        present_share = mean_count = mean_signal = np.zeros(len(rows))
    # Per device: the vendor it was seen with most recently in the loaded range.
    last_vendor = (rows.sort_values("hour").groupby("device_id")["vendor"].last()
                   if len(rows) else pd.Series(dtype=object))
    vendor_of = last_vendor.reindex(dev_index).fillna("")
    known = (~vendor_of.isin(list(_UNKNOWN_VENDORS))).to_numpy(dtype=np.float64)
    share = vendor_of.map(total_by_vendor).fillna(0).to_numpy(dtype=np.float64) / all_devices
    rarity = np.where(share > 0, -np.log(np.where(share > 0, share, 1.0)), 0.0)

    return HourlyInput(
        count=dense("count"), minutes=dense("minutes"), rssi_mean=dense("rssi_mean"),
        rssi_std=dense("rssi_std"), rssi_min=dense("rssi_min"), rssi_max=dense("rssi_max"),
        lat=dense("lat"), lon=dense("lon"), lat_std=dense("lat_std"), lon_std=dense("lon_std"),
        lat_min=dense("lat_min"), lat_max=dense("lat_max"), lon_min=dense("lon_min"), lon_max=dense("lon_max"),
        sensors=dense("sensors"), folders=dense("folders"), folder_hash=dense("folder_hash"),
        sensor_hash=dense("sensor_hash"), is_wifi=dense("is_wifi"), is_ble=dense("is_ble"),
        randomized=dense("randomized"), folder_devices=dense("folder_devices"),
        folder_sightings=dense("folder_sightings"), folder_randomized=dense("folder_randomized"),
        vendor_present_share=dense(present_share), vendor_mean_count=dense(mean_count),
        vendor_mean_signal=dense(mean_signal), vendor_known=known, vendor_rarity=rarity,
        local_hour=local_hour, history_hours=history_hours,
    )
