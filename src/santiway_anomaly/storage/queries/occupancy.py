"""Per folder per 5-minute slot: the two counts the occupancy estimate rests on (issue 16), from santi.way_data.

A *fingerprint* is what stays the same when a phone changes its randomized MAC: the probe's
information-element set and directed SSID (`ies|ssid`); a stable MAC, or a randomized one without
probe fields, is its own fingerprint. Per slot, a device's reading is its strongest one there.
  near   fingerprints at the near cut: merged, and only close ones (undercounts: two phones of one
         model and OS share a fingerprint);
  mid    distinct MACs at the mid cut: unmerged, and farther out (overcounts: every rotation of a
         MAC and the people next door).
Each is also counted with both cuts moved by the margin (`_strict`: closer, `_loose`: farther), for
the interval. Every slot in which the folder heard anything has a row: it was listening then.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

_SLOTS = """
SELECT folder, slot,
       uniqExactIf(fp, rssi_max >= {near:Int16}) AS near,
       uniqExactIf(device_id, rssi_max >= {mid:Int16}) AS mid,
       uniqExactIf(fp, rssi_max >= {near:Int16} + {margin:Int16}) AS near_strict,
       uniqExactIf(device_id, rssi_max >= {mid:Int16} + {margin:Int16}) AS mid_strict,
       uniqExactIf(fp, rssi_max >= {near:Int16} - {margin:Int16}) AS near_loose,
       uniqExactIf(device_id, rssi_max >= {mid:Int16} - {margin:Int16}) AS mid_loose
FROM
(
    SELECT toString(folder) AS folder, toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot, device_id,
           if(is_randomized = 1 AND ies != '', concat(ies, '|', ssid), device_id) AS fp, max(rssi) AS rssi_max
    FROM santi.way_data
    WHERE ts >= {start:DateTime('UTC')} AND ts < {end:DateTime('UTC')} {folder_filter}
    GROUP BY folder, slot, device_id, fp
)
GROUP BY folder, slot
ORDER BY folder, slot
"""

SLOT_COLUMNS = ["folder", "slot", "near", "mid", "near_strict", "mid_strict", "near_loose", "mid_loose"]


def near_mid_slots(store: Store, start: datetime, end: datetime, near_rssi: int, mid_rssi: int, margin: int,
                   folders: list[str] | None = None) -> pd.DataFrame:
    """One row per folder and 5-minute slot in [start, end) with sightings: SLOT_COLUMNS."""
    sql = _SLOTS.replace("{folder_filter}", "AND " + in_ids("folder", "folders") if folders is not None else "")
    df = store.query_df(sql, {"start": start, "end": end, "near": near_rssi, "mid": mid_rssi, "margin": margin,
                              "folders": folders or []})
    if df.empty:
        return pd.DataFrame(columns=SLOT_COLUMNS)
    return df
