"""Per-sensor signal levels (calibration.py): the readings of the devices that dwell at each sensor, block by block.

One pass over the raw sightings of the calibration history (CALIB_HISTORY_DAYS), cut into blocks of
`block_days` counted back from its end (block 0 ends at `end`): per (block, sensor, device) the mean reading
and the distinct hours heard; a device dwells at a sensor in a block when it was heard there in >=
`min_hours` hours of that block, and it counts only at the sensor hearing it best in that block (its highest
mean), so that a room's occupant heard faintly through the wall by the next room's sensor does not make that
sensor look weak. Per (sensor, block):
the number of such dwellers, the `quantile` of their mean readings (the level) and the 1 - `quantile` of them
(the low tail: how far below the level its farthest regular dwellers read).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.store import Store

SENSOR_BLOCKS = """
SELECT sensor, block, count() AS dwellers, quantileExact({quantile:Float64})(m) AS level,
       quantileExact(1 - {quantile:Float64})(m) AS low
FROM
(
    SELECT block, device_id, argMax(sensor, m_s) AS sensor, max(m_s) AS m
    FROM
    (
        SELECT intDiv(dateDiff('second', ts, {end:DateTime64(3, 'UTC')}) - 1, {block_s:UInt32}) AS block,
               device_id, toString(sensor_id) AS sensor, avg(rssi) AS m_s
        FROM santi.way_data
        WHERE ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
        GROUP BY block, device_id, sensor_id
        HAVING uniqExact(toStartOfHour(ts)) >= {min_hours:UInt32}
    )
    GROUP BY block, device_id
)
GROUP BY sensor, block
ORDER BY sensor, block
"""


def sensor_blocks(store: Store, start: datetime, end: datetime, block_days: int, quantile: float,
                  min_hours: int) -> pd.DataFrame:
    """One row per (sensor, block) with a dweller in [start, end): `block` (0 = the block ending at `end`),
    `dwellers`, `level` and `low` (dBm)."""
    df = store.query_df(SENSOR_BLOCKS, {"start": start, "end": end, "block_s": block_days * 86400,
                                        "quantile": quantile, "min_hours": min_hours})
    if df.empty:
        return pd.DataFrame({"sensor": pd.Series(dtype=str), "block": pd.Series(dtype="int64"),
                             "dwellers": pd.Series(dtype="int64"), "level": pd.Series(dtype=float),
                             "low": pd.Series(dtype=float)})
    return df
