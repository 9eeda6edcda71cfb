"""Fixture learning's SQL: the hours in which each candidate device was heard (storage/queries/known.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store


def fixture_candidate_hours(store: Store, start: datetime, end: datetime, ids: Sequence[str] | None,
                            min_hours: int) -> pd.DataFrame:
    """(device_id, hour, folder) for devices heard in at least `min_hours` distinct hours of
    [start, end) (only `ids` when given): the raw material of fixture learning. `folder` is the
    device's first folder of that hour (a fixture sits in one place)."""
    where_ids = "AND " + in_ids("device_id", "ids") if ids is not None else ""
    df = store.query_df(
        f"""
        SELECT device_id, hour, folders[1] AS folder
        FROM anomaly_ml.hourly_features
        WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} {where_ids}
          AND device_id IN (
              SELECT device_id FROM anomaly_ml.hourly_features
              WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} {where_ids}
              GROUP BY device_id HAVING uniqExact(hour) >= {{min_hours:UInt32}})
        """, {"start": start, "end": end, "ids": list(ids or []), "min_hours": min_hours})
    if df.empty:
        return pd.DataFrame({"device_id": pd.Series(dtype="object"), "hour": pd.Series(dtype="datetime64[ns, UTC]"),
                             "folder": pd.Series(dtype="object")})
    return df


def heartbeat_folders(store: Store, start: datetime, end: datetime, share: float, min_hours: int,
                      hours_of_day: int, folders: Sequence[str] | None = None) -> set[str]:
    """Folders (of `folders`, default all) with a *heartbeat* in [start, end): a stable device heard in at
    least `share` of the hours in which anything was heard in the folder (at least `min_hours` of them),
    at `hours_of_day` or more distinct hours of the day. A sensor that hears such a device whenever it is
    on, day and night, is off whenever it is silent. (The hours of day keep out a day shift: in a folder
    heard only while its staff is there, the staff is heard in every heard hour, but never at night.)

    A heartbeat is heard whenever the sensor is on, so also in the folder's last heard hour: only the
    devices heard then are candidates, and they are read by the sorting key (no scan of every device)."""
    where_folders = "AND " + in_ids("folder", "folders") if folders is not None else ""
    rows = store.query_rows(
        f"""
        WITH last AS (
            SELECT toString(folder) AS folder, max(hour) AS last_hour, uniqExact(hour) AS reported
            FROM anomaly_ml.folder_hourly
            WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} {where_folders}
            GROUP BY folder)
        SELECT folder FROM (
            SELECT folder, device_id, uniqExact(hour) AS heard, uniqExact(toHour(hour)) AS hours_of_day FROM (
                SELECT device_id, hour, arrayJoin(folders) AS folder
                FROM anomaly_ml.hourly_features
                WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} AND is_randomized = 0
                  AND device_id IN (
                      SELECT device_id FROM anomaly_ml.hourly_features
                      WHERE hour IN (SELECT last_hour FROM last) AND is_randomized = 0
                        AND hasAny(folders, (SELECT groupArray(folder) FROM last))))
            GROUP BY folder, device_id) AS d
        INNER JOIN last AS f USING (folder)
        WHERE f.reported >= {{min_hours:UInt32}} AND d.heard >= {{share:Float64}} * f.reported
          AND d.hours_of_day >= {{hours_of_day:UInt8}}
        GROUP BY folder
        """, {"start": start, "end": end, "share": share, "min_hours": min_hours,
              "hours_of_day": hours_of_day, "folders": list(folders or [])})
    return {str(r[0]) for r in rows}
