"""SQL of the personal ML detector: one row per device per local day, aggregated in ClickHouse.

The daily vector is what "unlike itself" is judged on (detectors/ml_behavior.py, ml/personal.py).
The hourly aggregate is read once, for every device at once: no id arrays, no chunks, no folder
view join (issue 12: 500-device chunks that each re-merged the folder view took 529 s at 100k).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.store import Store

# Inner query: merge the AggregatingMergeTree parts of each (device, hour) once; outer query: the
# local day. `lh` is the local hour of day, so "first/last/mid hour" read as a wall clock.
_DAILY_SQL = """
SELECT
    device_id,
    day,
    toFloat64(sum(n)) AS sightings,
    toFloat64(count()) AS active_hours,
    toFloat64(sum(minutes)) AS active_minutes,
    sum(s_rssi) / sum(n) AS rssi_mean,
    toFloat64(min(lh)) AS first_hour,
    toFloat64(max(lh)) AS last_hour,
    sum(n * lh) / sum(n) AS mid_hour,
    toUInt32(groupBitOr(bitShiftLeft(toUInt32(1), lh))) AS hours_mask,
    toFloat64(length(groupUniqArrayArray(fl))) AS folders,
    toFloat64(length(groupUniqArrayArray(sn))) AS sensors,
    argMax(main_folder, n) AS folder,
    any(vendor) AS vendor,
    any(network_type) AS network_type,
    sum(s_lat) / sum(n) AS lat,
    sum(s_lon) / sum(n) AS lon,
    max(rnd) AS is_randomized
FROM
(
    SELECT
        device_id,
        toDate(hour, {tz:String}) AS day,
        toHour(hour, {tz:String}) AS lh,
        sum(event_count) AS n,
        sum(rssi_sum) AS s_rssi,
        sum(lat_sum) AS s_lat,
        sum(lon_sum) AS s_lon,
        bitCount(groupBitOr(minute_mask)) AS minutes,
        groupUniqArrayArray(folders) AS fl,
        groupUniqArrayArray(sensor_list) AS sn,
        arraySort(groupUniqArrayArray(folders))[1] AS main_folder,
        any(vendor) AS vendor,
        any(network_type) AS network_type,
        max(is_randomized) AS rnd
    FROM anomaly_ml.hourly_features
    WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
      AND (is_randomized = 0 OR {randomized:UInt8} = 1)
    GROUP BY device_id, hour
)
GROUP BY device_id, day
ORDER BY device_id, day
"""

DAILY_COLUMNS = ("sightings", "active_hours", "active_minutes", "rssi_mean", "first_hour", "last_hour",
                 "mid_hour", "folders", "sensors")


def device_days(store: Store, start: datetime, end: datetime, timezone: str,
                include_randomized: bool = False) -> pd.DataFrame:
    """One row per (device, local day) with sightings in [start, end): the DAILY_COLUMNS plus
    `hours_mask` (bit h set = active in local hour h), the day's main folder, vendor, network type,
    mean position and the randomized flag."""
    df = store.query_df(_DAILY_SQL, {"start": start, "end": end, "tz": timezone,
                                     "randomized": int(include_randomized)})
    if df.empty:
        cols = ["device_id", "day", *DAILY_COLUMNS, "hours_mask", "folder", "vendor", "network_type", "lat", "lon",
                "is_randomized"]
        return pd.DataFrame(columns=cols)
    return df
