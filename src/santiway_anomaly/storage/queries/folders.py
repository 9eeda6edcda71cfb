"""Per folder per hour device counts: raw distinct MACs and the randomization-robust count."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

_FOLDER_HOURS = """
SELECT h.folder AS folder, h.hour AS hour,
       -- stable and randomized MACs are disjoint sets: their sum is every distinct device
       h.n_stable + h.n_randomized AS unique_devices,
       h.n_stable AS stable_devices, h.n_randomized AS randomized_macs,
       coalesce(r.peak, 0) AS randomized_peak, coalesce(r.fp_peak, 0) AS fingerprint_peak,
       h.lat AS lat, h.lon AS lon
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
    SELECT folder, toStartOfHour(slot) AS hour, max(n) AS peak, max(n_fp) AS fp_peak
    FROM
    (
        SELECT toString(folder) AS folder, slot, uniqExactMerge(randomized_devices) AS n,
               uniqExactMerge(randomized_fingerprints) AS n_fp
        FROM anomaly_ml.folder_5min
        WHERE slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')} {folder_filter}
        GROUP BY folder, slot
    )
    GROUP BY folder, hour
) AS r ON h.folder = r.folder AND h.hour = r.hour
"""


# The same robust count for the baseline's history: only its two terms. The raw and randomized MAC counts,
# the randomized-MAC peak and the position are shown for the judged hours only, and merging their exact
# distinct-MAC states over the whole history cost a quarter of the query.
_FOLDER_HOUR_COUNTS = """
SELECT h.folder AS folder, h.hour AS hour, h.n_stable AS stable_devices, coalesce(r.fp_peak, 0) AS fingerprint_peak
FROM
(
    SELECT toString(folder) AS folder, hour, uniqExactMerge(stable_devices) AS n_stable
    FROM anomaly_ml.folder_hourly
    WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')} {folder_filter}
    GROUP BY folder, hour
) AS h
LEFT JOIN
(
    SELECT folder, toStartOfHour(slot) AS hour, max(n_fp) AS fp_peak
    FROM
    (
        SELECT toString(folder) AS folder, slot, uniqExactMerge(randomized_fingerprints) AS n_fp
        FROM anomaly_ml.folder_5min
        WHERE slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')} {folder_filter}
        GROUP BY folder, slot
    )
    GROUP BY folder, hour
) AS r ON h.folder = r.folder AND h.hour = r.hour
"""


COLUMNS = ["folder", "hour", "unique_devices", "stable_devices", "randomized_macs", "randomized_peak",
           "fingerprint_peak", "lat", "lon", "robust_devices"]


def folder_hours(store: Store, start: datetime, end: datetime, folders: list[str] | None = None) -> pd.DataFrame:
    """Per folder per UTC hour in [start, end) with sightings (optionally only `folders`): raw distinct
    MACs, stable MACs, randomized MACs, the 5-minute peaks of randomized MACs and of their fingerprints
    (migration 120: ies|ssid, else the MAC) and the robust count, stable + the fingerprint peak: a
    randomized phone shows one MAC at a time, so rotation does not inflate it, and a MAC flood shows
    few probe fingerprints. Without probe fields the fingerprint peak is the randomized-MAC peak."""
    sql = _FOLDER_HOURS.replace(
        "{folder_filter}", "AND " + in_ids("folder", "folders") if folders is not None else "")
    df = store.query_df(sql, {"start": start, "end": end, "folders": folders or []})
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    df["robust_devices"] = df["stable_devices"].astype(float) + df["fingerprint_peak"].astype(float)
    return df


COUNT_COLUMNS = ["folder", "hour", "stable_devices", "fingerprint_peak", "robust_devices"]


def folder_hour_counts(store: Store, start: datetime, end: datetime,
                       folders: list[str] | None = None) -> pd.DataFrame:
    """`folder_hours` reduced to its robust count (COUNT_COLUMNS: the same `robust_devices`, stable MACs plus
    the 5-minute peak of randomized fingerprints, for the same folder-hours): what a baseline over many
    days of history needs."""
    sql = _FOLDER_HOUR_COUNTS.replace(
        "{folder_filter}", "AND " + in_ids("folder", "folders") if folders is not None else "")
    df = store.query_df(sql, {"start": start, "end": end, "folders": folders or []})
    if df.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    df["robust_devices"] = df["stable_devices"].astype(float) + df["fingerprint_peak"].astype(float)
    return df
