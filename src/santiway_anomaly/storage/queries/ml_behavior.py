"""SQL of the personal ML detector: one row per device per local day, aggregated in ClickHouse.

The daily vector is what "unlike itself" is judged on (detectors/ml_behavior.py, ml/personal.py).
The hourly aggregate is read once, for every device at once: no id arrays, no chunks, no folder
view join (issue 12: 500-device chunks that each re-merged the folder view took 529 s at 100k).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.store import Store

# One GROUP BY over the hourly aggregate, straight to (device, local day): a nested per-hour merge
# first cost 3x as much at 5,000 devices. Rows of one (device, hour) still in separate parts (not yet
# merged in the background) are summed, which is exact for every column but `active_minutes` (it
# may count a minute twice until the parts merge; the caller caps it at 60 per active hour).
# `hours_mask` bit h = active in local hour h; the day's first, last and active hours come from it.
# Folders and sensors of the day are counted as set bits of a 64-bit hash mask (one UInt64 of state
# per device-day instead of two hash sets of strings: the query's memory at 100,000 devices fell
# from ~1.1 GB); two names share a bit with probability 1/64, so a count can be one low, rarely.
# `groupBitOrArray` ORs the array's bits straight into the state (an `arrayReduce` per row cost 2 s of 7 at
# 100,000 devices and 15 days). Not `optimize_aggregation_in_order`: it is faster still, but it changes the
# order of the rows, so the detector's calibration sample (every k-th device in order of appearance) and with
# it the alarm line would change.
_DAILY_SQL = """
SELECT
    device_id,
    toDate(hour, {tz:String}) AS day,
    toFloat64(sum(event_count)) AS sightings,
    toUInt32(groupBitOr(bitShiftLeft(toUInt32(1), toHour(hour, {tz:String})))) AS hours_mask,
    toFloat64(sum(bitCount(minute_mask))) AS active_minutes,
    sum(rssi_sum) / sum(event_count) AS rssi_mean,
    sum(event_count * toHour(hour, {tz:String})) / sum(event_count) AS mid_hour,
    groupBitOrArray(arrayMap(x -> bitShiftLeft(toUInt64(1), cityHash64(x) % 64), folders)) AS folder_mask,
    toFloat64(bitCount(folder_mask)) AS n_folders,
    toFloat64(bitCount(groupBitOrArray(arrayMap(x -> bitShiftLeft(toUInt64(1), cityHash64(x) % 64), sensor_list))))
        AS n_sensors,
    argMax(cityHash64(folders[1]), event_count) AS folder_hash
FROM anomaly_ml.hourly_features
WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
  AND (is_randomized = 0 OR {randomized:UInt8} = 1)
GROUP BY device_id, day
"""

# Folder names by the hash the daily query returns (a UInt64 per device-day instead of a string:
# its argMax state and the transfer cost less).
_FOLDERS_SQL = """
SELECT DISTINCT toString(folder) AS folder, cityHash64(toString(folder)) AS folder_hash
FROM anomaly_ml.folder_hourly
WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
"""

# What an alarm shows about a device (its last position, vendor, network type), for the few
# devices that alarm only.
_INFO_SQL = """
SELECT device_id, any(vendor) AS vendor, any(network_type) AS network_type,
       sum(lat_sum) / sum(event_count) AS lat, sum(lon_sum) / sum(event_count) AS lon
FROM anomaly_ml.hourly_features
WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
  AND device_id IN (SELECT arrayJoin({ids:Array(String)}))
GROUP BY device_id
"""

DAILY_COLUMNS = ("sightings", "hours_mask", "active_minutes", "rssi_mean", "mid_hour", "n_folders", "n_sensors")
# `folder_mask` (UInt64, the day's folders as hash bits) is read beside them: the folders a device
# has never been seen in are counted against its history (ml/personal.py `new_folders`).


def device_days(store: Store, start: datetime, end: datetime, timezone: str,
                include_randomized: bool = False) -> pd.DataFrame:
    """One row per (device, local day) with sightings in [start, end): DAILY_COLUMNS and `folder`
    (the day's main folder)."""
    table = store.query_arrow(_DAILY_SQL, {"start": start, "end": end, "tz": timezone,
                                           "randomized": int(include_randomized)})
    if table.num_rows == 0:
        return pd.DataFrame(columns=["device_id", "day", *DAILY_COLUMNS, "folder_mask", "folder"])
    df: pd.DataFrame = table.to_pandas()
    names = store.query_df(_FOLDERS_SQL, {"start": start, "end": end})
    lookup = dict(zip(names["folder_hash"], names["folder"], strict=True)) if len(names) else {}
    df["folder"] = df.pop("folder_hash").map(lookup).fillna("").astype(str)
    return df


def device_info(store: Store, device_ids: list[str], start: datetime, end: datetime) -> pd.DataFrame:
    """vendor, network_type, lat, lon of each device over [start, end), indexed by device_id."""
    cols = ["vendor", "network_type", "lat", "lon"]
    if not device_ids:
        return pd.DataFrame(columns=cols)
    df = store.query_df(_INFO_SQL, {"start": start, "end": end, "ids": device_ids})
    if df.empty:
        return pd.DataFrame(columns=cols)
    out: pd.DataFrame = df.set_index("device_id")
    return out
