"""Which sensor reported in which folder and hour: the raw material of coverage.

Read from the per-folder 5-minute aggregate (its `sensors` list), not from the raw sightings: a
few rows per folder and slot instead of every sighting.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from santiway_anomaly.storage.store import Store

_SENSOR_HOURS = """
SELECT sensor, folder, toStartOfHour(slot) AS hour, uniqExact(slot) AS slots
FROM
(
    SELECT toString(folder) AS folder, slot, arrayJoin(sensors) AS sensor
    FROM anomaly_ml.folder_5min
    WHERE slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')}
)
GROUP BY sensor, folder, hour
"""


def sensor_hours(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """One row per (sensor, folder, UTC hour) in [start, end) with at least one sighting: `slots` is
    the number of 5-minute slots of that hour in which the sensor reported in the folder."""
    df = store.query_df(_SENSOR_HOURS, {"start": start, "end": end})
    if df.empty:
        return pd.DataFrame({"sensor": pd.Series(dtype=str), "folder": pd.Series(dtype=str),
                             "hour": pd.Series(dtype="datetime64[ns, UTC]"), "slots": pd.Series(dtype=int)})
    return df
