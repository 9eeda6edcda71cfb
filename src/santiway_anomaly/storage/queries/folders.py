"""Per folder per hour device counts: raw distinct MACs and the randomization-robust count."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.store import Store

_FOLDER_HOURS = """
SELECT h.folder AS folder, h.hour AS hour,
       -- stable and randomized MACs are disjoint sets: their sum is every distinct device
       h.n_stable + h.n_randomized AS unique_devices,
       h.n_stable AS stable_devices, h.n_randomized AS randomized_macs,
       coalesce(r.peak, 0) AS randomized_peak, h.lat AS lat, h.lon AS lon
FROM
(
    SELECT toString(folder) AS folder, hour,
           uniqExactMerge(stable_devices) AS n_stable,
           uniqExactMerge(randomized_devices) AS n_randomized,
           sum(lat_sum) / sum(sightings) AS lat, sum(lon_sum) / sum(sightings) AS lon
    FROM anomaly_ml.folder_hourly
    WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')} {folder_filter}
    GROUP BY folder, hour
) AS h
LEFT JOIN
(
    SELECT folder, toStartOfHour(slot) AS hour, max(n) AS peak
    FROM
    (
        SELECT toString(folder) AS folder, slot, uniqExactMerge(randomized_devices) AS n
        FROM anomaly_ml.folder_5min
        WHERE slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')} {folder_filter}
        GROUP BY folder, slot
    )
    GROUP BY folder, hour
) AS r ON h.folder = r.folder AND h.hour = r.hour
"""


COLUMNS = ["folder", "hour", "unique_devices", "stable_devices", "randomized_macs", "randomized_peak", "lat", "lon",
           "robust_devices"]


def folder_hours(store: Store, start: datetime, end: datetime, folders: list[str] | None = None) -> pd.DataFrame:
    """Per folder per UTC hour in [start, end) with sightings (optionally only `folders`): raw distinct
    MACs, stable MACs, randomized MACs, the 5-minute peak of randomized MACs and the robust count
    (stable + that peak: a randomized phone shows one MAC at a time, so rotation does not inflate it)."""
    sql = _FOLDER_HOURS.replace(
        "{folder_filter}", "AND folder IN {folders:Array(String)}" if folders is not None else "")
    df = store.query_df(sql, {"start": start, "end": end, "folders": folders or []})
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    df["robust_devices"] = df["stable_devices"].astype(float) + df["randomized_peak"].astype(float)
    return df


_RSSI_PROFILE = """
SELECT folder, hour, r AS rssi_max, count() AS devices
FROM
(
    -- one row per device-hour (parts not yet merged hold partial rows): its strongest reading
    SELECT device_id, hour, max(rssi_max) AS r, groupUniqArrayArray(folders) AS fs
    FROM anomaly_ml.hourly_features
    WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
    GROUP BY device_id, hour
    HAVING hasAny(fs, {folders:Array(String)})
)
ARRAY JOIN fs AS folder
WHERE folder IN {folders:Array(String)}
GROUP BY folder, hour, rssi_max
"""


def rssi_profile(store: Store, folders: list[str], start: datetime, end: datetime) -> pd.DataFrame:
    """Per folder, UTC hour and strongest RSSI (dBm): how many devices heard there in that hour had
    that strongest reading. Enough to count the devices above any cut in any hour."""
    if not folders:
        return pd.DataFrame(columns=["folder", "hour", "rssi_max", "devices"])
    df = store.query_df(_RSSI_PROFILE, {"start": start, "end": end, "folders": folders})
    if df.empty:
        return pd.DataFrame(columns=["folder", "hour", "rssi_max", "devices"])
    df["hour"] = pd.to_datetime(df["hour"], utc=True)
    return df
