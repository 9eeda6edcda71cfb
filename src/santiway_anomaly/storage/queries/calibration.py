"""Per-sensor signal levels (calibration.py): the readings of the devices that dwell at each sensor.

One pass over the raw sightings of the history: per (sensor, device) the mean reading and the distinct
hours heard; a device dwells at a sensor when it was heard there in >= `min_hours` hours, and it counts
only at the sensor hearing it best (its highest mean), so that a room's occupant heard faintly through
the wall by the next room's sensor does not make that sensor look weak. Per sensor: the number of such
dwellers and the `quantile` of their mean readings.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.store import Store

SENSOR_LEVELS = """
SELECT sensor, count() AS dwellers, quantileExact({quantile:Float64})(m) AS level
FROM
(
    SELECT device_id, argMax(sensor, m_s) AS sensor, max(m_s) AS m
    FROM
    (
        SELECT device_id, toString(sensor_id) AS sensor, avg(rssi) AS m_s
        FROM santi.way_data
        WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
        GROUP BY device_id, sensor_id
        HAVING uniqExact(toStartOfHour(ts)) >= {min_hours:UInt32}
    )
    GROUP BY device_id
)
GROUP BY sensor
"""


def sensor_levels(store: Store, start: datetime, end: datetime, quantile: float, min_hours: int) -> pd.DataFrame:
    """One row per sensor with a dweller in [start, end): `dwellers` and `level` (dBm)."""
    df = store.query_df(SENSOR_LEVELS, {"start": start, "end": end, "quantile": quantile, "min_hours": min_hours})
    if df.empty:
        return pd.DataFrame({"sensor": pd.Series(dtype=str), "dwellers": pd.Series(dtype="int64"),
                             "level": pd.Series(dtype=float)})
    return df
