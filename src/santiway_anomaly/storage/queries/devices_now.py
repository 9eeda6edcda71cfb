"""Devices heard in a recent window, per folder: the "who is here now" list (Kismet's and Bluehood's first view)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.storage.store import Store

# One row per (folder, device) heard in [since, until]; `first_day` is the first UTC day the device was ever
# seen anywhere (device_days, ~1 row per device per day), which tells a new device from a returning one.
DEVICES_NOW_SQL = """
SELECT h.folder AS folder, h.device_id AS device_id, h.vendor AS vendor, h.network_type AS network_type,
       h.randomized AS randomized, h.first_here AS first_here, h.last_seen AS last_seen,
       h.sightings AS sightings, h.rssi_avg AS rssi_avg, h.rssi_max AS rssi_max, h.sensors AS sensors,
       d.first_day AS first_day
FROM
(
    SELECT folder, device_id, any(vendor) AS vendor, any(network_type) AS network_type,
           max(is_randomized) AS randomized, min(ts) AS first_here, max(ts) AS last_seen, count() AS sightings,
           round(avg(rssi), 1) AS rssi_avg, max(rssi) AS rssi_max, uniqExact(sensor_id) AS sensors
    FROM santi.way_data
    WHERE ts >= {since:DateTime64(3, 'UTC')} AND ts <= {until:DateTime64(3, 'UTC')} {folder_filter}
    GROUP BY folder, device_id
    ORDER BY last_seen DESC
    LIMIT {limit:UInt32}
) AS h
LEFT JOIN
(
    SELECT device_id, min(day) AS first_day
    FROM anomaly_ml.device_days
    WHERE device_id IN (
        SELECT device_id FROM santi.way_data
        WHERE ts >= {since:DateTime64(3, 'UTC')} AND ts <= {until:DateTime64(3, 'UTC')}
    )
    GROUP BY device_id
) AS d ON h.device_id = d.device_id
ORDER BY h.folder, h.last_seen DESC
SETTINGS join_use_nulls = 1
"""


def devices_heard(store: Store, since: datetime, until: datetime, folder: str | None,
                  limit: int) -> list[dict[str, Any]]:
    sql = DEVICES_NOW_SQL.replace("{folder_filter}", "AND folder = {folder:String}" if folder else "")
    params: dict[str, Any] = {"since": since, "until": until, "limit": limit}
    if folder:
        params["folder"] = folder
    rows = store.query_dicts(sql, params)
    for row in rows:
        for key in ("first_here", "last_seen"):
            value = row[key]
            if isinstance(value, datetime) and value.tzinfo is None:
                row[key] = value.replace(tzinfo=UTC)
    return rows
