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
`hour_top`, the strongest reading in the slot's hour, tells whether anyone came within the room at
all (occupancy.py). Each count is also taken with both cuts moved by the margin (`_strict`: closer,
`_loose`: farther), for the interval. Every slot in which the folder heard anything has a row: it
was listening then.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

_SLOTS = """
SELECT folder, slot,
       sumIf(weight, rssi_fp >= {near:Int16}) AS near,
       uniqExactMerge(mid_s) AS mid,
       sumIf(weight, rssi_fp >= {near:Int16} + {margin:Int16}) AS near_strict,
       uniqExactMerge(mid_strict_s) AS mid_strict,
       sumIf(weight, rssi_fp >= {near:Int16} - {margin:Int16}) AS near_loose,
       uniqExactMerge(mid_loose_s) AS mid_loose,
       any(hour_top) AS hour_top
FROM
(
    SELECT folder, slot, rssi_fp, mid_s, mid_strict_s, mid_loose_s,
           max(rssi_fp) OVER (PARTITION BY folder, toStartOfHour(slot)) AS hour_top,
           if(untracked = 1, 1.0,
              least(1.0, dateDiff('millisecond',
                                  min(first_mid) OVER (PARTITION BY folder, toStartOfHour(slot), fp),
                                  max(last_mid) OVER (PARTITION BY folder, toStartOfHour(slot), fp))
                         / (1000.0 * {dwell:Float64}))) AS weight
    FROM
    (
        SELECT folder, slot, fp, max(rssi_max) AS rssi_fp, max(untracked) AS untracked,
               minIfOrNull(first_ts, rssi_max >= {mid:Int16}) AS first_mid,
               maxIfOrNull(last_ts, rssi_max >= {mid:Int16}) AS last_mid,
               uniqExactStateIf(device_id, rssi_max >= {mid:Int16}) AS mid_s,
               uniqExactStateIf(device_id, rssi_max >= {mid:Int16} + {margin:Int16}) AS mid_strict_s,
               uniqExactStateIf(device_id, rssi_max >= {mid:Int16} - {margin:Int16}) AS mid_loose_s
        FROM
        (
            SELECT toString(folder) AS folder, toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot, device_id,
                   if(is_randomized = 1 AND ies != '', concat(ies, '|', ssid), device_id) AS fp,
                   is_randomized = 1 AND ies = '' AS untracked,
                   max(rssi) AS rssi_max, min(ts) AS first_ts, max(ts) AS last_ts
            FROM santi.way_data
            WHERE ts >= {start:DateTime('UTC')} AND ts < {end:DateTime('UTC')} {folder_filter}
            GROUP BY folder, slot, device_id, fp, untracked
        )
        GROUP BY folder, slot, fp
    )
)
GROUP BY folder, slot
ORDER BY folder, slot
"""

SLOT_COLUMNS = ["folder", "slot", "near", "mid", "near_strict", "mid_strict", "near_loose", "mid_loose", "hour_top"]


def near_mid_slots(store: Store, start: datetime, end: datetime, near_rssi: int, mid_rssi: int, margin: int,
                   dwell_seconds: float, folders: list[str] | None = None) -> pd.DataFrame:
    """One row per folder and 5-minute slot in [start, end) with sightings: SLOT_COLUMNS (near* are
    dwell-weighted fingerprint counts, floats; mid* are MAC counts; hour_top is the strongest reading
    the folder heard in the slot's hour, dBm)."""
    sql = _SLOTS.replace("{folder_filter}", "AND " + in_ids("folder", "folders") if folders is not None else "")
    df = store.query_df(sql, {"start": start, "end": end, "near": near_rssi, "mid": mid_rssi, "margin": margin,
                              "dwell": float(dwell_seconds), "folders": folders or []})
    if df.empty:
        return pd.DataFrame(columns=SLOT_COLUMNS)
    return df
