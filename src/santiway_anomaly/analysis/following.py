"""What an operator needs to judge a "following" anomaly: the moving sensor's path over the episode and,
in order, the stops where the sensor heard the device. A follower's stops lie along the path, one after
another; a device heard at one stop only, or off the path, is no follower.

The episode (sensor, start, end) is the one the stationary detector recorded in the anomaly's details;
stops are made the detector's way: consecutive SLOT_MINUTES buckets at one place, a place being within
half FOLLOW_DISTANCE_M of where the stop began.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.util import haversine_m
from santiway_anomaly.storage.anomalies import get_anomaly
from santiway_anomaly.storage.queries.following import device_with_sensor, sensor_path
from santiway_anomaly.storage.store import Store


class NotFollowingError(LookupError):
    """The anomaly does not exist, or is not a following anomaly with a recorded episode."""


def _time(value: Any) -> datetime:
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def stops(points: list[dict[str, Any]], radius_m: float) -> list[dict[str, Any]]:
    """`points`: buckets with plat, plon, folder, sightings, first, last, rssi_mean (storage/queries/following).
    Consecutive buckets (time order) within `radius_m` of a stop's first position make one stop."""
    out: list[dict[str, Any]] = []
    for p in points:
        last = out[-1] if out else None
        if last is not None and float(haversine_m(last["_lat0"], last["_lon0"], p["plat"], p["plon"])) <= radius_m:
            n = last["_buckets"]
            last["lat"] = (last["lat"] * n + float(p["plat"])) / (n + 1)
            last["lon"] = (last["lon"] * n + float(p["plon"])) / (n + 1)
            last["_buckets"] = n + 1
            last["last_seen"] = p["last"]
            total = last["sightings"] + int(p["sightings"])
            last["rssi_mean"] = (last["rssi_mean"] * last["sightings"] + float(p["rssi_mean"]) * int(p["sightings"])
                                 ) / total
            last["sightings"] = total
            continue
        out.append({"folder": str(p["folder"]), "lat": float(p["plat"]), "lon": float(p["plon"]),
                    "first_seen": p["first"], "last_seen": p["last"], "sightings": int(p["sightings"]),
                    "rssi_mean": float(p["rssi_mean"]), "_lat0": float(p["plat"]), "_lon0": float(p["plon"]),
                    "_buckets": 1})
    for i, s in enumerate(out, start=1):
        s["order"] = i
        s["rssi_mean"] = round(s["rssi_mean"], 1)
        for key in ("_lat0", "_lon0", "_buckets"):
            s.pop(key)
    return out


def following_evidence(store: Store, settings: Settings, anomaly_id: str) -> dict[str, Any]:
    """The sensor's path and the device's stops with it (see `FollowingEvidencePublic`)."""
    anomaly = get_anomaly(store, anomaly_id)
    if anomaly is None:
        raise NotFollowingError(f"no anomaly with id {anomaly_id}")
    details = anomaly.get("details") or {}
    sensor = str(details.get("sensor_id") or "")
    if details.get("pattern") != "following" or not sensor or not details.get("start") or not details.get("end"):
        raise NotFollowingError(f"anomaly {anomaly_id} is not a following anomaly (no moving sensor recorded)")
    start, end = _time(details["start"]), _time(details["end"])
    bucket = settings.slot_minutes * 60
    path = sensor_path(store, sensor, start, end, bucket)
    heard = device_with_sensor(store, anomaly["device_id"], sensor, start, end, bucket)
    return {
        "anomaly_id": anomaly_id,
        "device_id": anomaly["device_id"],
        "sensor_id": sensor,
        "start": start,
        "end": end,
        "sensor_path": [{"time": p["t"], "lat": float(p["plat"]), "lon": float(p["plon"]), "folder": str(p["folder"]),
                         "sightings": int(p["sightings"])} for p in path],
        "device_stops": stops(heard, settings.follow_distance_m / 2),
    }
