"""Per folder per 5-minute slot: how many people are near a sensor (issue 16), from santi.way_data.

A *fingerprint* is what stays the same when a phone changes its randomized MAC: the probe's
information-element set and directed SSID (`ies|ssid`); a stable MAC, or a randomized one without
probe fields, is its own fingerprint. In each slot a fingerprint is *near* when its strongest reading
reaches the near cut. Three counts per slot bracket the number of people:
  near_low   fingerprints at the cut + margin (strict: merged, and only clearly near),
  near       fingerprints at the cut,
  near_high  distinct MACs at the cut - margin (loose: unmerged, and farther out).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

_SLOTS = """
SELECT folder, slot,
       uniqExactIf(fp, rssi_max >= {near:Int16} + {margin:Int16}) AS near_low,
       uniqExactIf(fp, rssi_max >= {near:Int16}) AS near,
       uniqExactIf(device_id, rssi_max >= {near:Int16} - {margin:Int16}) AS near_high
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

SLOT_COLUMNS = ["folder", "slot", "near_low", "near", "near_high"]


def near_slots(store: Store, start: datetime, end: datetime, near_rssi: int, margin: int,
               folders: list[str] | None = None) -> pd.DataFrame:
    """One row per folder and 5-minute slot in [start, end) with sightings: SLOT_COLUMNS."""
    sql = _SLOTS.replace("{folder_filter}", "AND " + in_ids("folder", "folders") if folders is not None else "")
    df = store.query_df(sql, {"start": start, "end": end, "near": near_rssi, "margin": margin,
                              "folders": folders or []})
    if df.empty:
        return pd.DataFrame(columns=SLOT_COLUMNS)
    return df
