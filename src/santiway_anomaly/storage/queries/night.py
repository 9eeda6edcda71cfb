"""The night detector's SQL (DESIGN.md "Storage owns the SQL"). Every query takes the night
parameters of one time zone (`night_params`) and a folder clause (`folder_clause`).

The night label of a timestamp is the local date on which its night ends; it stays the same from the
hour before the night to the hour after it, so an early arrival and a late leave share their night's label.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from santiway_anomaly.storage.store import Store

# `t` is a UTC DateTime expression.
_LOCAL = "toTimeZone({t}, {{tz:String}})"
_HOUR = "toHour(" + _LOCAL + ")"
_IS_NIGHT = "((" + _HOUR + " + 24 - {{ns:UInt8}}) % 24) < {{dur:UInt8}}"
_IS_MORNING = "((" + _HOUR + " + 24 - {{ne:UInt8}}) % 24) = 0"
_IS_EVENING = "((" + _HOUR + " + 24 - {{ns:UInt8}}) % 24) = 23"
_LABEL = "toDate(" + _LOCAL + " + INTERVAL {{shift:UInt8}} HOUR, {{tz:String}})"


def _f(template: str, t: str) -> str:
    return template.format(t=t)


def night_params(tz: str, start_hour: int, end_hour: int) -> dict[str, Any]:
    dur = (end_hour - start_hour) % 24
    if dur == 0:
        raise ValueError("NIGHT_START_HOUR and NIGHT_END_HOUR must differ")
    return {"tz": tz, "ns": start_hour, "ne": end_hour, "dur": dur, "shift": (24 - start_hour + 1) % 24}


def folder_clause(folders: Sequence[str] | None, exclude: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """`folders` given: only those; else every folder but `exclude` (the other time zones')."""
    if folders is not None:
        return "folder IN (SELECT arrayJoin({folders:Array(String)}))", {"folders": list(folders)}
    if exclude:
        return "folder NOT IN (SELECT arrayJoin({folders:Array(String)}))", {"folders": list(exclude)}
    return "1", {"folders": []}


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


def night_sessions(store: Store, params: dict[str, Any], where: str, start: datetime,
                   end: datetime) -> pd.DataFrame:
    """One row per stable (non-randomized) device and night with sightings at night in [start, end):
    its night sightings, distinct night minutes, first/last night sighting, mean and strongest night
    RSSI, and whether it was also heard in the hour after the night (`morning`) or before it (`evening`)."""
    is_night = _f(_IS_NIGHT, "ts")
    df = store.query_df(
        f"""
        SELECT device_id, {_f(_LABEL, 'ts')} AS night,
               countIf(nf) AS n_night, uniqExactIf(toStartOfMinute(ts), nf) AS night_minutes,
               minIf(ts, nf) AS first_ts, maxIf(ts, nf) AS last_ts,
               countIf({_f(_IS_MORNING, 'ts')}) AS morning, countIf({_f(_IS_EVENING, 'ts')}) AS evening,
               toString(anyIf(folder, nf)) AS folder, toString(any(vendor)) AS vendor,
               toString(any(network_type)) AS network_type, max(is_randomized) AS is_randomized,
               avgIf(lat, nf) AS lat, avgIf(lon, nf) AS lon, avgIf(rssi, nf) AS rssi_mean,
               maxIf(rssi, nf) AS rssi_max
        FROM
        (
            SELECT *, ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}
                      AND {is_night} AS nf
            FROM santi.way_data
            WHERE ts >= {{start:DateTime64(3, 'UTC')}} - INTERVAL 1 HOUR
              AND ts < {{end:DateTime64(3, 'UTC')}} + INTERVAL 1 HOUR
              AND {where}
              AND ({is_night} OR {_f(_IS_MORNING, 'ts')} OR {_f(_IS_EVENING, 'ts')})
        )
        GROUP BY device_id, night
        HAVING n_night > 0 AND is_randomized = 0
        """, {**params, "start": start, "end": end})
    return df


def night_sensor_maxima(store: Store, params: dict[str, Any], ids: Sequence[str], start: datetime,
                        end: datetime) -> pd.DataFrame:
    """Per device of `ids`, night and sensor: the strongest night reading in [start, end) (the far veto
    compares it, corrected by the sensor's offset, with NIGHT_FAR_RSSI_DBM; calibration.py)."""
    if not ids:
        return _empty({"device_id": "object", "night": "object", "sensor": "object", "rssi_max": "int64"})
    df = store.query_df(
        f"""
        SELECT device_id, {_f(_LABEL, 'ts')} AS night, toString(sensor_id) AS sensor, max(rssi) AS rssi_max
        FROM santi.way_data
        WHERE device_id IN (SELECT arrayJoin({{ids:Array(String)}}))
          AND ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}} AND {_f(_IS_NIGHT, 'ts')}
        GROUP BY device_id, night, sensor_id
        """, {**params, "ids": list(ids), "start": start, "end": end})
    return df if not df.empty else night_sensor_maxima(store, params, [], start, end)


def device_history(store: Store, params: dict[str, Any], ids: Sequence[str], start: datetime,
                   end: datetime) -> pd.DataFrame:
    """Per device of `ids`, its hours in [start, end): first hour heard, distinct local days, night and
    day hours heard, and the nights (labels) it was heard at night. (Not its folders: nothing judges by
    them, and their arrays were the costliest column to read and merge.)"""
    if not ids:
        return _empty({"device_id": "object", "first_hour": "datetime64[ns, UTC]", "active_days": "int64",
                       "night_hours": "int64", "day_hours": "int64", "nights": "object"})
    is_night = _f(_IS_NIGHT, "hour")
    df = store.query_df(
        f"""
        SELECT device_id, min(hour) AS first_hour,
               uniqExact(toDate(toTimeZone(hour, {{tz:String}}))) AS active_days,
               uniqExactIf(hour, {is_night}) AS night_hours, uniqExactIf(hour, NOT ({is_night})) AS day_hours,
               groupUniqArrayIf({_f(_LABEL, 'hour')}, {is_night}) AS nights
        FROM anomaly_ml.hourly_features
        WHERE device_id IN (SELECT arrayJoin({{ids:Array(String)}}))
          AND hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
        GROUP BY device_id
        """, {**params, "ids": list(ids), "start": start, "end": end})
    return df if not df.empty else device_history(store, params, [], start, end)


def folder_night_devices(store: Store, params: dict[str, Any], folders: Sequence[str], start: datetime,
                         end: datetime) -> pd.DataFrame:
    """(folder, night, device_id) for every stable device heard at night in one of `folders` in
    [start, end): the folders' night population, night by night."""
    if not folders:
        return _empty({"folder": "object", "night": "object", "device_id": "object"})
    is_night = _f(_IS_NIGHT, "hour")
    df = store.query_df(
        f"""
        SELECT DISTINCT folder, night, device_id FROM (
            SELECT device_id, {_f(_LABEL, 'hour')} AS night, arrayJoin(folders) AS folder
            FROM anomaly_ml.hourly_features
            WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}}
              AND {is_night} AND is_randomized = 0 AND hasAny(folders, {{need:Array(String)}}))
        WHERE folder IN (SELECT arrayJoin({{need:Array(String)}}))
        """, {**params, "need": list(folders), "start": start, "end": end})
    return df if not df.empty else folder_night_devices(store, params, [], start, end)


def randomized_night_peaks(store: Store, params: dict[str, Any], where: str, start: datetime,
                           end: datetime) -> pd.DataFrame:
    """Per folder and night in [start, end): the peak of distinct randomized MACs in one 5-minute slot
    at night, and the slot of that peak."""
    df = store.query_df(
        f"""
        SELECT folder, night, max(n) AS peak, argMax(slot, n) AS peak_slot FROM (
            SELECT toString(folder) AS folder, slot, {_f(_LABEL, 'slot')} AS night,
                   uniqExactMerge(randomized_devices) AS n
            FROM anomaly_ml.folder_5min
            WHERE slot >= {{start:DateTime('UTC')}} AND slot < {{end:DateTime('UTC')}} AND {where}
              AND {_f(_IS_NIGHT, 'slot')}
            GROUP BY folder, slot)
        GROUP BY folder, night
        """, {**params, "start": start, "end": end})
    if df.empty:
        return _empty({"folder": "object", "night": "object", "peak": "int64",
                       "peak_slot": "datetime64[ns, UTC]"})
    return df


def confirmed_devices(store: Store, anomaly_type: str, start: datetime, end: datetime) -> set[str]:
    """Devices whose anomaly of `anomaly_type` with a window in [start, end) an operator confirmed
    (the newest verdict per anomaly wins): the only alarms a baseline leaves out."""
    rows = store.query_rows(
        """
        SELECT DISTINCT device_id FROM anomaly_ml.anomaly_feedback FINAL
        WHERE verdict = 'confirmed' AND anomaly_type = {t:String} AND device_id != ''
          AND anomaly_id IN (
              SELECT anomaly_id FROM anomaly_ml.anomalies FINAL
              WHERE anomaly_type = {t:String} AND window_end > {start:DateTime64(3, 'UTC')}
                AND window_start < {end:DateTime64(3, 'UTC')})
        """, {"t": anomaly_type, "start": start, "end": end})
    return {str(r[0]) for r in rows}
