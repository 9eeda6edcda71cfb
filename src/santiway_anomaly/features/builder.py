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
from santiway_anomaly.storage.queries import features as queries
from santiway_anomaly.storage.store import Store

# Devices per query and per feature computation: bounds memory at roughly 1 GB for 37 days.
CHUNK_DEVICES = 500

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
    return queries.active_devices(store, start, end, min_events, include_randomized)


def latest_hour(store: Store) -> datetime | None:
    """The last hour that holds data (the natural "now" for a historical data set)."""
    return _hour_value(queries.hour_range(store)[1])


def first_hour(store: Store) -> datetime | None:
    """The first hour that holds data."""
    return _hour_value(queries.hour_range(store)[0])


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
    vendor_hours = queries.vendor_hours(store, load_start, end)
    vendor_totals = queries.vendor_totals(store, load_start, end)
    local_hour = all_hours.tz_convert(settings.timezone).hour.to_numpy()
    parts: list[np.ndarray] = []
    for i in range(0, len(devices), CHUNK_DEVICES):
        chunk = devices[i : i + CHUNK_DEVICES]
        rows = queries.device_hours(store, load_start, end, chunk)
        hourly = _densify(rows, chunk, all_hours, vendor_hours, vendor_totals, local_hour, hist)
        parts.append(compute_features(hourly)[:, hist:, :])
    info = queries.device_info(store, start, end, devices)
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
