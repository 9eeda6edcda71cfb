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
    empty = pd.DataFrame({"device_id": pd.Series(dtype="object"), "hour": pd.Series(dtype="datetime64[ns, UTC]"),
                          "folder": pd.Series(dtype="object")})
    if ids is not None:
        # The asked devices' hours in one pass, the ones heard in too few hours dropped here: a second pass
        # over the same devices' rows to count their hours first cost as much again (the detectors ask
        # about a few hundred suspects, whose rows are read in full anyway).
        df = store.query_df(
            f"""
            SELECT device_id, hour, folders[1] AS folder
            FROM anomaly_ml.hourly_features
            WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} AND {in_ids("device_id", "ids")}
            """, {"start": start, "end": end, "ids": list(ids)})
        if df.empty:
            return empty
        df = df[(df.groupby("device_id")["hour"].transform("nunique") >= min_hours).to_numpy()].reset_index(drop=True)
        return df if not df.empty else empty
    df = store.query_df(
        """
        SELECT device_id, hour, folders[1] AS folder
        FROM anomaly_ml.hourly_features
        WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
          AND device_id IN (
              SELECT device_id FROM anomaly_ml.hourly_features
              WHERE hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')}
              GROUP BY device_id HAVING uniqExact(hour) >= {min_hours:UInt32})
        """, {"start": start, "end": end, "min_hours": min_hours})
    return df if not df.empty else empty


def heartbeat_folders(store: Store, ranges: Sequence[tuple[datetime, datetime]], share: float, min_hours: int,
                      hours_of_day: int) -> list[set[str]]:
    """For each [start, end) of `ranges`, the folders with a *heartbeat* in it: a stable device heard in at
    least `share` of the hours in which anything was heard in the folder (at least `min_hours` of them), at
    `hours_of_day` or more distinct hours of the day. A sensor that hears such a device whenever it is on,
    day and night, is off whenever it is silent. (The hours of day keep out a day shift: in a folder heard
    only while its staff is there, the staff is heard in every heard hour, but never at night.)

    A heartbeat is heard whenever the sensor is on, so also in the folder's last heard hour: only the
    devices heard in one of the range's folders at one of its folders' last heard hours are candidates.

    Every range in one pass over the hourly aggregates (coverage.py asks for the ranges of a whole detection
    run at once): rows are read once for the union of the ranges, each counted in every range it lies in.
    Only devices heard at `hours_of_day` distinct hours of the day over the union are read in full (a
    heartbeat of any range is one: fewer hours in a range or one folder cannot add hours of the day)."""
    if not ranges:
        return []
    rows = store.query_rows(_HEARTBEATS, {
        "starts": [a for a, _ in ranges], "ends": [b for _, b in ranges], "start": min(a for a, _ in ranges),
        "end": max(b for _, b in ranges), "share": share, "min_hours": min_hours, "hours_of_day": hours_of_day})
    out: list[set[str]] = [set() for _ in ranges]
    for r, folder in rows:
        out[int(r) - 1].add(str(folder))
    return out


# The ranges of `heartbeat_folders` number 1..n (`r`); a row of the aggregates goes to every range it lies in.
_IN_RANGES = """arrayFilter(i -> hour >= {starts:Array(DateTime('UTC'))}[i] AND hour < {ends:Array(DateTime('UTC'))}[i],
                       arrayEnumerate({starts:Array(DateTime('UTC'))}))"""

# Per range: each folder's last heard hour and its heard hours (`last`). Per range, folder and device: its
# heard hours and hours of day there, and whether it is a candidate of the range (heard, in any folder of the
# range, at a last hour of one of the range's folders: `candidate`, per folder row, then over the device's
# rows by the window). A folder has a heartbeat where a candidate was heard in `share` of its heard hours.
# Distinct hours of the day are counted as the set bits of a 24-bit mask (the same number as
# uniqExact(toHour(hour)), without a hash set per device).
_HEARTBEATS = f"""
WITH last AS (
    SELECT r, toString(folder) AS folder, max(hour) AS last_hour, uniqExact(hour) AS reported
    FROM anomaly_ml.folder_hourly
    ARRAY JOIN {_IN_RANGES} AS r
    WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
    GROUP BY r, folder)
SELECT DISTINCT r, folder FROM (
    SELECT r, folder, heard, hours_of_day, max(candidate) OVER (PARTITION BY r, device_id) AS is_candidate
    FROM (
        SELECT r, folder, device_id, uniqExact(hour) AS heard,
               bitCount(groupBitOr(bitShiftLeft(toUInt32(1), toHour(hour)))) AS hours_of_day,
               max((r, hour) IN (SELECT r, last_hour FROM last) AND (r, folder) IN (SELECT r, folder FROM last))
                   AS candidate
        FROM (
            SELECT device_id, hour, arrayJoin(folders) AS folder
            FROM anomaly_ml.hourly_features
            WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} AND is_randomized = 0
              AND device_id IN (
                  SELECT device_id FROM anomaly_ml.hourly_features
                  WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} AND is_randomized = 0
                  GROUP BY device_id
                  HAVING bitCount(groupBitOr(bitShiftLeft(toUInt32(1), toHour(hour)))) >= {{hours_of_day:UInt8}}))
        ARRAY JOIN {_IN_RANGES} AS r
        GROUP BY r, folder, device_id)) AS d
INNER JOIN last AS f USING (r, folder)
WHERE d.is_candidate AND f.reported >= {{min_hours:UInt32}} AND d.heard >= {{share:Float64}} * f.reported
  AND d.hours_of_day >= {{hours_of_day:UInt8}}
"""
