"""One device's profile over a window: when, where (and how long), how strong, how it moved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.storage.anomalies import AnomalyFilter, list_anomalies
from santiway_anomaly.storage.store import Store

_IN_WINDOW = "device_id = {device:String} AND ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')}"
# ~110 m cells: close enough to call it one place, coarse enough to absorb GPS jitter.
PLACE_DECIMALS = 3
MAX_PLACES = 50
# Speeds between sightings closer in time than this are dominated by position noise.
MIN_SPEED_INTERVAL_S = 30
# Path length is measured between 5-minute median positions, and a step shorter than the jitter radius is
# not movement: consumer GPS wanders 10-50 m around a device that stays put, and summing every wobble
# once made a "50 km path" of a day in one warehouse. A walk (~1.4 m/s) covers ~400 m in 5 minutes.
PATH_BUCKET_S = 300
PATH_JITTER_M = 100.0


class UnknownDeviceError(LookupError):
    """The device has never been seen."""


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def device_known(store: Store, device_id: str) -> bool:
    # device_id leads the sort key: this reads one granule at most.
    return bool(
        store.query_rows(
            "SELECT 1 FROM santi.way_data WHERE device_id = {device:String} LIMIT 1", {"device": device_id}
        )
    )


def device_profile(store: Store, device_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    """The profile (see `DeviceProfilePublic`), without the ML part; UnknownDeviceError if never seen."""
    if not device_known(store, device_id):
        raise UnknownDeviceError(device_id)
    p: dict[str, Any] = {"device": device_id, "since": since, "until": until}
    head = store.query_dicts(
        "SELECT count() AS n, min(ts) AS first, max(ts) AS last, anyLast(vendor) AS vendor, "
        "anyLast(network_type) AS net, max(is_randomized) AS rnd, avg(rssi) AS rssi_mean, "
        "stddevPop(rssi) AS rssi_std, min(rssi) AS rssi_min, max(rssi) AS rssi_max, "
        "quantiles(0.1, 0.5, 0.9)(rssi) AS q "
        f"FROM santi.way_data WHERE {_IN_WINDOW}",
        p,
    )[0]
    n = int(head["n"])
    if n == 0:  # seen before, but not in this window: identity from its latest sighting
        head.update(
            store.query_dicts(
                "SELECT anyLast(vendor) AS vendor, anyLast(network_type) AS net, max(is_randomized) AS rnd "
                "FROM santi.way_data WHERE device_id = {device:String}",
                p,
            )[0]
        )
    hours = store.query_dicts(
        "SELECT hour, event_count, active_minutes, sensor_count, rssi_mean, folders "
        "FROM anomaly_ml.hourly_features_v WHERE device_id = {device:String} "
        "AND hour >= toStartOfHour(toDateTime({since:DateTime64(3, 'UTC')}, 'UTC')) "
        "AND hour < {until:DateTime64(3, 'UTC')} ORDER BY hour",
        p,
    )
    folders = store.query_dicts(
        "SELECT folder, count() AS sightings, uniqExact(toStartOfMinute(ts)) AS dwell, min(ts) AS first, "
        f"max(ts) AS last FROM santi.way_data WHERE {_IN_WINDOW} GROUP BY folder ORDER BY dwell DESC, folder",
        p,
    )
    places = store.query_dicts(
        "SELECT folder, round(lat, {d:UInt8}) AS plat, round(lon, {d:UInt8}) AS plon, count() AS sightings, "
        "uniqExact(toStartOfMinute(ts)) AS dwell, min(ts) AS first, max(ts) AS last, "
        "arraySort(groupUniqArray(toString(sensor_id))) AS sensors "
        f"FROM santi.way_data WHERE {_IN_WINDOW} GROUP BY folder, plat, plon "
        "ORDER BY dwell DESC, sightings DESC LIMIT {k:UInt32}",
        {**p, "d": PLACE_DECIMALS, "k": MAX_PLACES},
    )
    return {
        "device_id": device_id,
        "since": since,
        "until": until,
        "vendor": str(head.get("vendor") or ""),
        "network_type": str(head.get("net") or ""),
        "is_randomized": bool(head.get("rnd") or 0),
        "first_seen": _utc(head["first"]) if n else None,
        "last_seen": _utc(head["last"]) if n else None,
        "activity_by_hour": [
            {
                "hour": _utc(h["hour"]),
                "events": int(h["event_count"]),
                "active_minutes": int(h["active_minutes"]),
                "sensors": int(h["sensor_count"]),
                "rssi_mean": float(h["rssi_mean"]),
                "folders": sorted(h["folders"]),
            }
            for h in hours
        ],
        "folders": [
            {
                "folder": f["folder"],
                "sightings": int(f["sightings"]),
                "dwell_minutes": int(f["dwell"]),
                "first_seen": _utc(f["first"]),
                "last_seen": _utc(f["last"]),
            }
            for f in folders
        ],
        "places": [
            {
                "folder": pl["folder"],
                "lat": float(pl["plat"]),
                "lon": float(pl["plon"]),
                "sightings": int(pl["sightings"]),
                "dwell_minutes": int(pl["dwell"]),
                "first_seen": _utc(pl["first"]),
                "last_seen": _utc(pl["last"]),
                "sensors": list(pl["sensors"]),
            }
            for pl in places
        ],
        "signal": None
        if n == 0
        else {
            "sightings": n,
            "rssi_mean": float(head["rssi_mean"]),
            "rssi_std": float(head["rssi_std"]),
            "rssi_min": int(head["rssi_min"]),
            "rssi_max": int(head["rssi_max"]),
            "rssi_p10": float(head["q"][0]),
            "rssi_p50": float(head["q"][1]),
            "rssi_p90": float(head["q"][2]),
        },
        "movement": None if n == 0 else movement(store, device_id, since, until),
        "anomalies": list_anomalies(store, AnomalyFilter(device_id=device_id, since=since, until=until, limit=100)),
    }


def path_km(store: Store, device_id: str, since: datetime, until: datetime) -> float:
    """Distance travelled, not fooled by GPS jitter: steps between PATH_BUCKET_S median positions, counting
    only those longer than PATH_JITTER_M (so a drift slower than PATH_JITTER_M per bucket is not counted)."""
    value = store.scalar(
        "SELECT sumIf(step, rn > 1 AND step > {jitter:Float64}) / 1000 FROM ("
        "  SELECT row_number() OVER w AS rn,"
        "         geoDistance(lon, lat, lagInFrame(lon) OVER w, lagInFrame(lat) OVER w) AS step"
        "  FROM (SELECT toStartOfInterval(ts, toIntervalSecond({bucket:UInt32})) AS b,"
        "               median(lat) AS lat, median(lon) AS lon"
        f"        FROM santi.way_data WHERE {_IN_WINDOW} GROUP BY b)"
        "  WINDOW w AS (ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))",
        {"device": device_id, "since": since, "until": until, "bucket": PATH_BUCKET_S, "jitter": PATH_JITTER_M},
    )
    return float(value or 0.0)


def movement(store: Store, device_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Path length, spread and speed from consecutive sightings (window functions at query time)."""
    row = store.query_dicts(
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
        f"  FROM santi.way_data WHERE {_IN_WINDOW} "
        "  WINDOW w AS (ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))",
        {"device": device_id, "since": since, "until": until, "min_dt": MIN_SPEED_INTERVAL_S},
    )[0]
    return {
        "path_km": path_km(store, device_id, since, until),
        "radius_of_gyration_m": float(row["rog"] or 0.0),
        "max_speed_mps": float(row["max_speed"] or 0.0),
        "folder_changes": int(row["changes"]),
        "distinct_folders": int(row["n_folders"]),
        "distinct_sensors": int(row["n_sensors"]),
    }
