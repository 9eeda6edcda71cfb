"""Per folder per 5-minute slot: the two counts the occupancy estimate rests on (issue 16), from santi.way_data.

A *fingerprint* is what stays the same when a phone changes its randomized MAC: the probe's
information-element set and directed SSID (`ies|ssid`); a stable MAC, or a randomized one without
probe fields, is its own fingerprint. Per slot, a device's reading is its strongest one there.
  near   fingerprints at the near cut, each weighted by how long it stayed in the hour (below):
         merged, and only close ones (undercounts: two phones of one model and OS share a fingerprint);
  mid    distinct MACs at the mid cut: unmerged, and farther out (overcounts: every rotation of a
         MAC and the people next door).
A fingerprint's *stay* in an hour is the time from its first to its last sighting at the mid cut
in that hour; its weight is stay / dwell, at most 1. Someone sitting in the room is heard again and
again and weighs 1; a passer-by in the corridor sends one probe burst (a few milliseconds) and
weighs nearly nothing. A randomized MAC without probe fields cannot be followed past its next
rotation, so its stay is unknown: it weighs 1, as every near fingerprint did before.
A near fingerprint is *in the room* when the slot's hour holds a reading at the room cut (`hour_top`,
the strongest reading of the hour: someone came within the room), or when it was near in a slot of
such an hour that started at most `carry` seconds earlier (a person still inside after a session; the
scan starts `carry` seconds early so that this also holds at the range's start). `near_room` counts
those. Each count is also taken with all cuts moved by the margin (`_strict`: closer, `_loose`:
farther), for the interval. Every slot in which the folder heard anything has a row: it was listening
then. Two queries: the fingerprints' windows (stay, hour, carry) and the distinct MACs per slot; the
MAC states kept out of the windows make the pair faster than one query carrying them. With `hours`
(folder and UTC hour start pairs) both read only those folder-hours (and, for the carry, the hours
just before them): the density detector asks for the few hours that would alarm, not for the day.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

# A probe fingerprint: a randomized MAC that reports its information elements is known by them (and its
# directed SSIDs), so the MACs one phone rotates through count once; any other device by its MAC.
_FINGERPRINT = "if(is_randomized = 1 AND ies != '', concat(ies, '|', ssid), device_id)"

_NEAR = """
SELECT folder, slot,
       sumIf(weight, rssi_fp >= {near:Int16}) AS near,
       sumIf(weight, rssi_fp >= {near:Int16} AND (hour_max >= {room:Int16} OR carried = 1)) AS near_room,
       sumIf(weight, rssi_fp >= {near:Int16} + {margin:Int16}
                     AND (hour_max >= {room:Int16} + {margin:Int16} OR carried_strict = 1)) AS near_room_strict,
       sumIf(weight, rssi_fp >= {near:Int16} - {margin:Int16}
                     AND (hour_max >= {room:Int16} - {margin:Int16} OR carried_loose = 1)) AS near_room_loose,
       any(hour_max) AS hour_top
FROM
(
    SELECT folder, slot, rssi_fp, weight, hour_max,
           max(rssi_fp >= {near:Int16} AND hour_max >= {room:Int16}) OVER carry AS carried,
           max(rssi_fp >= {near:Int16} + {margin:Int16} AND hour_max >= {room:Int16} + {margin:Int16})
               OVER carry AS carried_strict,
           max(rssi_fp >= {near:Int16} - {margin:Int16} AND hour_max >= {room:Int16} - {margin:Int16})
               OVER carry AS carried_loose
    FROM
    (
        SELECT folder, slot, fp, rssi_fp,
               max(rssi_fp) OVER (PARTITION BY folder, toStartOfHour(slot)) AS hour_max,
               -- a fingerprint never heard at the mid cut in the hour has no stay: weight 0
               if(untracked = 1, 1.0,
                  ifNull(least(1.0, dateDiff('millisecond',
                                             min(first_mid) OVER (PARTITION BY folder, toStartOfHour(slot), fp),
                                             max(last_mid) OVER (PARTITION BY folder, toStartOfHour(slot), fp))
                                    / (1000.0 * {dwell:Float64})), 0.0)) AS weight
        FROM
        (
            SELECT toString(folder) AS folder, toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
                   """ + _FINGERPRINT + """ AS fp,
                   max(rssi) AS rssi_fp, max(is_randomized = 1 AND ies = '') AS untracked,
                   minIfOrNull(ts, rssi >= {mid:Int16}) AS first_mid, maxIfOrNull(ts, rssi >= {mid:Int16}) AS last_mid
            FROM santi.way_data
            WHERE ts >= {scan_start:DateTime('UTC')} AND ts < {end:DateTime('UTC')} {folder_filter} {hour_filter}
            GROUP BY folder, slot, fp
        )
    )
    -- a fingerprint near in a room hour is carried over the slots that start within `carry` seconds after
    WINDOW carry AS (PARTITION BY folder, fp ORDER BY toUInt32(slot)
                     RANGE BETWEEN {carry:UInt32} PRECEDING AND CURRENT ROW)
)
WHERE slot >= {start:DateTime('UTC')}
GROUP BY folder, slot
"""

# A device counts once per slot at a cut if any of its readings there reaches it (its strongest does).
_MID = """
SELECT toString(folder) AS folder, toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
       uniqExactIf(device_id, rssi >= {mid:Int16}) AS mid,
       uniqExactIf(device_id, rssi >= {mid:Int16} + {margin:Int16}) AS mid_strict,
       uniqExactIf(device_id, rssi >= {mid:Int16} - {margin:Int16}) AS mid_loose
FROM santi.way_data
WHERE ts >= {start:DateTime('UTC')} AND ts < {end:DateTime('UTC')} {folder_filter} {hour_filter}
GROUP BY folder, slot
"""

# A folder-hour as (folder, epoch seconds of the UTC hour start), matched against the asked pairs as a
# tuple set (no per-row string building: the filter runs over every sighting of the time range).
_HOUR_PAIR = "(folder, toUInt32(toStartOfHour(toDateTime(ts, 'UTC'))))"
_PAIRS = ("(SELECT tupleElement(p, 1), tupleElement(p, 2) FROM "
          "(SELECT arrayJoin(arrayZip({hour_folders:Array(String)}, {hour_starts:Array(UInt32)})) AS p))")

# Per folder and hour, the fingerprint with the strongest reading (ties: the longer stay): how close the
# nearest phone came and how long it stayed, over all its readings in the hour. What tells a brief visit
# to the room from the corridor, if anything does (benchmarks/occupancy.py, docs/occupancy.md).
_NEAREST = """
SELECT folder, hour, max(rssi_fp) AS top_rssi,
       argMax(stay_s, (rssi_fp, stay_s)) AS top_stay_seconds,
       argMax(slots, (rssi_fp, stay_s)) AS top_slots,
       argMax(macs, (rssi_fp, stay_s)) AS top_macs,
       countIf(rssi_fp >= {near:Int16}) AS near_fingerprints,
       countIf(rssi_fp >= {near:Int16} AND stay_s >= {dwell:Float64}) AS near_dwelling
FROM
(
    SELECT toString(folder) AS folder, toStartOfHour(toDateTime(ts, 'UTC')) AS hour,
           """ + _FINGERPRINT + """ AS fp,
           max(rssi) AS rssi_fp, dateDiff('millisecond', min(ts), max(ts)) / 1000.0 AS stay_s,
           uniqExact(toStartOfFiveMinutes(toDateTime(ts, 'UTC'))) AS slots, uniqExact(device_id) AS macs
    FROM santi.way_data
    WHERE ts >= {start:DateTime('UTC')} AND ts < {end:DateTime('UTC')} {folder_filter}
    GROUP BY folder, hour, fp
)
GROUP BY folder, hour
"""

# Per stable (not randomized) MAC: its median reading and the days it was heard. A fixture heard in two
# periods at different levels says the sniffer (or the room around it) reads differently between them.
_STABLE_LEVELS = """
SELECT device_id, quantileExact(0.5)(rssi) AS median_rssi, uniqExact(toDate(ts)) AS days, count() AS sightings
FROM santi.way_data
WHERE ts >= {start:DateTime('UTC')} AND ts < {end:DateTime('UTC')} AND is_randomized = 0 {folder_filter}
GROUP BY device_id
HAVING days >= {min_days:UInt32}
"""

STABLE_LEVEL_COLUMNS = ["device_id", "median_rssi", "days", "sightings"]

NEAREST_COLUMNS = ["folder", "hour", "top_rssi", "top_stay_seconds", "top_slots", "top_macs", "near_fingerprints",
                   "near_dwelling"]

SLOT_COLUMNS = ["folder", "slot", "near", "near_room", "mid", "near_room_strict", "mid_strict", "near_room_loose",
                "mid_loose", "hour_top"]


def near_mid_slots(store: Store, start: datetime, end: datetime, near_rssi: int, mid_rssi: int, room_rssi: int,
                   margin: int, dwell_seconds: float, carry_seconds: float,
                   folders: list[str] | None = None,
                   hours: list[tuple[str, datetime]] | None = None) -> pd.DataFrame:
    """One row per folder and 5-minute slot in [start, end) with sightings: SLOT_COLUMNS. `near` counts the
    near fingerprints (dwell-weighted, a float) wherever they were; `near_room*` only those in the room
    (the hour reached the room cut, or the fingerprint is carried over from a room hour); `mid*` are MAC
    counts; `hour_top` is the strongest reading the folder heard in the slot's hour, dBm. The scan starts
    `carry_seconds` before `start`, so that a carry over the range's start is seen. With `hours`, only
    those (folder, UTC hour start) pairs are read, with the hours before each that the carry reaches; rows
    of those earlier hours may come back too."""
    params = {"start": start, "scan_start": start - timedelta(seconds=carry_seconds), "end": end, "near": near_rssi,
              "mid": mid_rssi, "room": room_rssi, "margin": margin, "dwell": float(dwell_seconds),
              "carry": int(carry_seconds), "folders": folders or []}
    folder_filter = "AND " + in_ids("folder", "folders") if folders is not None else ""
    hour_filter = ""
    if hours is not None:
        back = [timedelta(hours=k) for k in range(math.ceil(carry_seconds / 3600) + 1)]
        pairs = sorted({(f, int((h - b).replace(tzinfo=h.tzinfo or UTC).timestamp())) for f, h in hours for b in back})
        params["hour_folders"] = [f for f, _ in pairs]
        params["hour_starts"] = [t for _, t in pairs]
        hour_filter = f"AND {_HOUR_PAIR} IN {_PAIRS}"

    def sql(text: str) -> str:
        return text.replace("{folder_filter}", folder_filter).replace("{hour_filter}", hour_filter)

    near = store.query_df(sql(_NEAR), params)
    mid = store.query_df(sql(_MID), params)
    if near.empty or mid.empty:
        return pd.DataFrame(columns=SLOT_COLUMNS)
    df = near.merge(mid, on=["folder", "slot"], how="inner")
    return df[SLOT_COLUMNS].sort_values(["folder", "slot"], kind="stable").reset_index(drop=True)


def nearest_fingerprints(store: Store, start: datetime, end: datetime, near_rssi: int, dwell_seconds: float,
                         folders: list[str] | None = None) -> pd.DataFrame:
    """One row per folder and UTC hour in [start, end) with sightings: NEAREST_COLUMNS. `top_*` describe the
    fingerprint with the hour's strongest reading (dBm; its stay from first to last reading, seconds; its
    5-minute slots; its MACs); `near_fingerprints` counts the fingerprints reaching `near_rssi`, and
    `near_dwelling` those of them that stayed at least `dwell_seconds`. A diagnosis of the estimate: it
    does not feed it."""
    params = {"start": start, "end": end, "near": near_rssi, "dwell": float(dwell_seconds), "folders": folders or []}
    folder_filter = "AND " + in_ids("folder", "folders") if folders is not None else ""
    df = store.query_df(_NEAREST.replace("{folder_filter}", folder_filter), params)
    if df.empty:
        return pd.DataFrame(columns=NEAREST_COLUMNS)
    return df[NEAREST_COLUMNS].sort_values(["folder", "hour"], kind="stable").reset_index(drop=True)


def stable_device_levels(store: Store, start: datetime, end: datetime, min_days: int,
                         folders: list[str] | None = None) -> pd.DataFrame:
    """One row per stable MAC heard on at least `min_days` days in [start, end): STABLE_LEVEL_COLUMNS (its
    median reading, dBm). Compared between periods, the same fixtures show whether the sniffer reads
    differently (benchmarks/occupancy.py). A diagnosis: it does not feed the estimate."""
    params = {"start": start, "end": end, "min_days": min_days, "folders": folders or []}
    folder_filter = "AND " + in_ids("folder", "folders") if folders is not None else ""
    df = store.query_df(_STABLE_LEVELS.replace("{folder_filter}", folder_filter), params)
    if df.empty:
        return pd.DataFrame(columns=STABLE_LEVEL_COLUMNS)
    return df[STABLE_LEVEL_COLUMNS].sort_values("device_id", kind="stable").reset_index(drop=True)
