"""One device's profile over a window: when, where (and how long), how strong, how it moved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.storage.anomalies import AnomalyFilter, list_anomalies
from santiway_anomaly.storage.queries import devices as queries
from santiway_anomaly.storage.store import Store

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
    return queries.device_seen(store, device_id)


def device_profile(store: Store, device_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    """The profile (see `DeviceProfilePublic`), without the ML part; UnknownDeviceError if never seen."""
    if not device_known(store, device_id):
        raise UnknownDeviceError(device_id)
    head = queries.signal_summary(store, device_id, since, until)
    n = int(head["n"])
    if n == 0:  # seen before, but not in this window: identity from its latest sighting
        head.update(queries.identity(store, device_id))
    hours = queries.hours(store, device_id, since, until)
    folders = queries.folders(store, device_id, since, until)
    places = queries.places(store, device_id, since, until, PLACE_DECIMALS, MAX_PLACES)
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
    return queries.path_km(store, device_id, since, until, PATH_BUCKET_S, PATH_JITTER_M)


def movement(store: Store, device_id: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Path length, spread and speed from consecutive sightings (window functions at query time)."""
    row = queries.movement(store, device_id, since, until, MIN_SPEED_INTERVAL_S)
    return {
        "path_km": path_km(store, device_id, since, until),
        "radius_of_gyration_m": float(row["rog"] or 0.0),
        "max_speed_mps": float(row["max_speed"] or 0.0),
        "folder_changes": int(row["changes"]),
        "distinct_folders": int(row["n_folders"]),
        "distinct_sensors": int(row["n_sensors"]),
    }
