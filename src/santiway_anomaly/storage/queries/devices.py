"""One device's sightings over a window (analysis/device.py) and devices side by side (analysis/compare.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

_ONE_IN_WINDOW = (
    "device_id = {device:String} AND ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')}"
)
_SOME_IN_WINDOW = (
    in_ids("device_id", "devices") + " AND ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')}"
)


def _window(device_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    return {"device": device_id, "since": since, "until": until}


# ---- one device ----------------------------------------------------------------------------------


def device_seen(store: Store, device_id: str) -> bool:
    """Has the device ever been seen? device_id leads the sort key: this reads one granule at most."""
    return bool(store.query_rows(
        "SELECT 1 FROM santi.way_data WHERE device_id = {device:String} LIMIT 1", {"device": device_id}))


def signal_summary(store: Store, device_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    """n, first, last, vendor, net, rnd, rssi_mean/std/min/max and q (p10, p50, p90) over the window."""
    return store.query_dicts(
        "SELECT count() AS n, min(ts) AS first, max(ts) AS last, anyLast(vendor) AS vendor, "
        "anyLast(network_type) AS net, max(is_randomized) AS rnd, avg(rssi) AS rssi_mean, "
        "stddevPop(rssi) AS rssi_std, min(rssi) AS rssi_min, max(rssi) AS rssi_max, "
        "quantiles(0.1, 0.5, 0.9)(rssi) AS q "
        f"FROM santi.way_data WHERE {_ONE_IN_WINDOW}",
        _window(device_id, since, until),
    )[0]


def identity(store: Store, device_id: str) -> dict[str, Any]:
    """vendor, net, rnd from all the device's sightings."""
    return store.query_dicts(
        "SELECT anyLast(vendor) AS vendor, anyLast(network_type) AS net, max(is_randomized) AS rnd "
        "FROM santi.way_data WHERE device_id = {device:String}",
        {"device": device_id},
    )[0]


def hours(store: Store, device_id: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The device's hourly aggregate rows overlapping the window, oldest first."""
    return store.query_dicts(
        "SELECT hour, event_count, active_minutes, sensor_count, rssi_mean, folders "
        "FROM anomaly_ml.hourly_features_v WHERE device_id = {device:String} "
        "AND hour >= toStartOfHour(toDateTime({since:DateTime64(3, 'UTC')}, 'UTC')) "
        "AND hour < {until:DateTime64(3, 'UTC')} ORDER BY hour",
        _window(device_id, since, until),
    )


def folders(store: Store, device_id: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per folder: sightings, dwell (distinct minutes), first, last; longest dwell first."""
    return store.query_dicts(
        "SELECT folder, count() AS sightings, uniqExact(toStartOfMinute(ts)) AS dwell, min(ts) AS first, "
        f"max(ts) AS last FROM santi.way_data WHERE {_ONE_IN_WINDOW} GROUP BY folder ORDER BY dwell DESC, folder",
        _window(device_id, since, until),
    )


def places(store: Store, device_id: str, since: datetime, until: datetime, decimals: int,
           limit: int) -> list[dict[str, Any]]:
    """Per folder and position rounded to `decimals`: sightings, dwell, first, last, sensors."""
    return store.query_dicts(
        "SELECT folder, round(lat, {d:UInt8}) AS plat, round(lon, {d:UInt8}) AS plon, count() AS sightings, "
        "uniqExact(toStartOfMinute(ts)) AS dwell, min(ts) AS first, max(ts) AS last, "
        "arraySort(groupUniqArray(toString(sensor_id))) AS sensors "
        f"FROM santi.way_data WHERE {_ONE_IN_WINDOW} GROUP BY folder, plat, plon "
        "ORDER BY dwell DESC, sightings DESC LIMIT {k:UInt32}",
        {**_window(device_id, since, until), "d": decimals, "k": limit},
    )


def path_km(store: Store, device_id: str, since: datetime, until: datetime, bucket_s: int,
            jitter_m: float) -> float:
    """Distance between `bucket_s` median positions, counting only steps longer than `jitter_m`."""
    value = store.scalar(
        "SELECT sumIf(step, rn > 1 AND step > {jitter:Float64}) / 1000 FROM ("
        "  SELECT row_number() OVER w AS rn,"
        "         geoDistance(lon, lat, lagInFrame(lon) OVER w, lagInFrame(lat) OVER w) AS step"
        "  FROM (SELECT toStartOfInterval(ts, toIntervalSecond({bucket:UInt32})) AS b,"
        "               median(lat) AS lat, median(lon) AS lon"
        f"        FROM santi.way_data WHERE {_ONE_IN_WINDOW} GROUP BY b)"
        "  WINDOW w AS (ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))",
        {**_window(device_id, since, until), "bucket": bucket_s, "jitter": jitter_m},
    )
    return float(value or 0.0)


def movement(store: Store, device_id: str, since: datetime, until: datetime, min_dt_s: int) -> dict[str, Any]:
    """path_km, max_speed (over steps at least `min_dt_s` apart), changes, n_folders, n_sensors, rog."""
    return store.query_dicts(
        "SELECT sumIf(step, rn > 1) / 1000 AS path_km, "
        "maxIf(step / dt, rn > 1 AND dt >= {min_dt:UInt32}) AS max_speed, "
        "countIf(rn > 1 AND folder != prev_folder) AS changes, uniqExact(folder) AS n_folders, "
        "uniqExact(sensor_id) AS n_sensors, "
        "sqrt(avg(pow(geoDistance(lon, lat, lon_c, lat_c), 2))) AS rog "
        "FROM (SELECT lat, lon, folder, sensor_id, "
        "  row_number() OVER w AS rn, "
        "  geoDistance(lon, lat, lagInFrame(lon) OVER w, lagInFrame(lat) OVER w) AS step, "
        "  dateDiff('second', lagInFrame(ts) OVER w, ts) AS dt, "
        "  lagInFrame(toString(folder)) OVER w AS prev_folder, "
        "  avg(lat) OVER () AS lat_c, avg(lon) OVER () AS lon_c "
        f"  FROM santi.way_data WHERE {_ONE_IN_WINDOW} "
        "  WINDOW w AS (ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))",
        {**_window(device_id, since, until), "min_dt": min_dt_s},
    )[0]


# ---- devices side by side ------------------------------------------------------------------------


def _some(devices: Sequence[str], since: datetime, until: datetime) -> dict[str, Any]:
    return {"devices": list(devices), "since": since, "until": until}


def summaries(store: Store, devices: Sequence[str], since: datetime, until: datetime, tz: str,
              night_end_hour: int) -> list[dict[str, Any]]:
    """Per device: n, hours, minutes, rssi, lat, lon, night (share before `night_end_hour` local), folders,
    sensors, vendor, net, rnd."""
    return store.query_dicts(
        "SELECT device_id, count() AS n, uniqExact(toStartOfHour(ts)) AS hours, "
        "uniqExact(toStartOfMinute(ts)) AS minutes, avg(rssi) AS rssi, avg(lat) AS lat, avg(lon) AS lon, "
        "countIf(toHour(ts, {tz:String}) < {night:UInt8}) / count() AS night, "
        "arraySort(groupUniqArray(toString(folder))) AS folders, "
        "arraySort(groupUniqArray(toString(sensor_id))) AS sensors, "
        "anyLast(vendor) AS vendor, anyLast(network_type) AS net, max(is_randomized) AS rnd "
        f"FROM santi.way_data WHERE {_SOME_IN_WINDOW} GROUP BY device_id",
        {**_some(devices, since, until), "tz": tz, "night": night_end_hour},
    )


def hour_counts(store: Store, devices: Sequence[str], since: datetime, until: datetime,
                tz: str) -> list[tuple[str, int, int]]:
    """(device_id, local hour of day, sightings) of the window."""
    rows = store.query_rows(
        "SELECT device_id, toHour(ts, {tz:String}) AS h, count() FROM santi.way_data "
        f"WHERE {_SOME_IN_WINDOW} GROUP BY device_id, h",
        {**_some(devices, since, until), "tz": tz},
    )
    return [(str(d), int(h), int(n)) for d, h, n in rows]


def pair_overlaps(store: Store, devices: Sequence[str], since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per pair a < b seen in the same minute: hours, minutes, co_minutes (same sensor), co_folders.
    One self-join of the devices' (minute, sensor, folder) sets."""
    return store.query_dicts(
        "WITH s AS (SELECT DISTINCT device_id, toStartOfMinute(ts) AS m, toStartOfHour(ts) AS h, "
        "  toString(sensor_id) AS sensor, toString(folder) AS folder "
        f"  FROM santi.way_data WHERE {_SOME_IN_WINDOW}) "
        "SELECT x.device_id AS a, y.device_id AS b, uniqExact(x.h) AS hours, uniqExact(x.m) AS minutes, "
        "uniqExactIf(x.m, x.sensor = y.sensor) AS co_minutes, "
        "arraySort(groupUniqArrayIf(x.folder, x.sensor = y.sensor)) AS co_folders "
        "FROM s AS x INNER JOIN s AS y ON x.m = y.m WHERE x.device_id < y.device_id GROUP BY a, b",
        _some(devices, since, until),
    )
