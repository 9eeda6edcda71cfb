"""Per-sensor signal levels (calibration.py): the readings of the devices that dwell at each sensor, week by week.

One pass over the raw sightings of the calibration history (CALIB_HISTORY_DAYS), cut into weeks counted back
from its end (week 0 ends at `end`): per (week, sensor, device) the mean reading and the distinct hours heard;
a device dwells at a sensor in a week when it was heard there in >= `min_hours` hours of that week, and it
counts only at the sensor hearing it best that week (its highest mean), so that a room's occupant heard
faintly through the wall by the next room's sensor does not make that sensor look weak. Per (sensor, week):
the number of such dwellers, the `quantile` of their mean readings (the level) and the 1 - `quantile` of them
(the low tail: how far below the level its farthest regular dwellers read).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.store import Store

SENSOR_WEEKS = """
SELECT sensor, week, count() AS dwellers, quantileExact({quantile:Float64})(m) AS level,
       quantileExact(1 - {quantile:Float64})(m) AS low
FROM
(
    SELECT week, device_id, argMax(sensor, m_s) AS sensor, max(m_s) AS m
    FROM
    (
        SELECT intDiv(dateDiff('second', ts, {end:DateTime64(3, 'UTC')}) - 1, 604800) AS week,
               device_id, toString(sensor_id) AS sensor, avg(rssi) AS m_s
        FROM santi.way_data
        WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
        GROUP BY week, device_id, sensor_id
        HAVING uniqExact(toStartOfHour(ts)) >= {min_hours:UInt32}
    )
    GROUP BY week, device_id
)
GROUP BY sensor, week
ORDER BY sensor, week
"""


def sensor_weeks(store: Store, start: datetime, end: datetime, quantile: float, min_hours: int) -> pd.DataFrame:
    """One row per (sensor, week) with a dweller in [start, end): `week` (0 = the week ending at `end`),
    `dwellers`, `level` and `low` (dBm)."""
    df = store.query_df(SENSOR_WEEKS, {"start": start, "end": end, "quantile": quantile, "min_hours": min_hours})
    if df.empty:
        return pd.DataFrame({"sensor": pd.Series(dtype=str), "week": pd.Series(dtype="int64"),
                             "dwellers": pd.Series(dtype="int64"), "level": pd.Series(dtype=float),
                             "low": pd.Series(dtype=float)})
    return df
