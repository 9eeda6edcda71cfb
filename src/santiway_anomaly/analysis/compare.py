"""Devices side by side: feature profiles, time and place overlap, similarity.

Co-location (same sensor, same minute) is the evidence that confirms or refutes a "following"
(stationary_surveillance) anomaly; activity similarity alone does not (office colleagues share
hours, not necessarily places).
"""

from __future__ import annotations

import math
from datetime import datetime
from itertools import combinations
from typing import Any

from santiway_anomaly.analysis.device import UnknownDeviceError, device_known
from santiway_anomaly.storage.queries import devices as queries
from santiway_anomaly.storage.store import Store

# Night for night_share: 00:00-06:00 local time (the specification's time detector).
NIGHT_END_HOUR = 6


def _cosine(a: list[int], b: list[int]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def compare_devices(store: Store, device_ids: list[str], since: datetime, until: datetime, tz: str) -> dict[str, Any]:
    for device in device_ids:
        if not device_known(store, device):
            raise UnknownDeviceError(device)
    feats = {r["device_id"]: r for r in queries.summaries(store, device_ids, since, until, tz, NIGHT_END_HOUR)}
    profile: dict[str, list[int]] = {d: [0] * 24 for d in device_ids}
    for device, hour, n in queries.hour_counts(store, device_ids, since, until, tz):
        profile[device][hour] = n
    overlap = {(r["a"], r["b"]): r for r in queries.pair_overlaps(store, device_ids, since, until)}
    devices: list[dict[str, Any]] = []
    for d in device_ids:
        f = feats.get(d)
        devices.append(
            {
                "device_id": d,
                "vendor": str(f["vendor"]) if f else "",
                "network_type": str(f["net"]) if f else "",
                "is_randomized": bool(f["rnd"]) if f else False,
                "sightings": int(f["n"]) if f else 0,
                "active_hours": int(f["hours"]) if f else 0,
                "active_minutes": int(f["minutes"]) if f else 0,
                "rssi_mean": float(f["rssi"]) if f else None,
                "lat_mean": float(f["lat"]) if f else None,
                "lon_mean": float(f["lon"]) if f else None,
                "night_share": float(f["night"]) if f else 0.0,
                "folders": list(f["folders"]) if f else [],
                "sensors": list(f["sensors"]) if f else [],
                "hourly_profile": profile[d],
            }
        )
    by_id = {d["device_id"]: d for d in devices}
    pairs = []
    for a, b in combinations(sorted(set(device_ids)), 2):
        o = overlap.get((a, b))
        da, db = by_id[a], by_id[b]
        co_minutes = int(o["co_minutes"]) if o else 0
        smaller = min(da["active_minutes"], db["active_minutes"])
        co_ratio = co_minutes / smaller if smaller else 0.0
        activity = _cosine(da["hourly_profile"], db["hourly_profile"])
        place = _jaccard(set(da["sensors"]), set(db["sensors"]))
        pairs.append(
            {
                "device_a": a,
                "device_b": b,
                "shared_hours": int(o["hours"]) if o else 0,
                "shared_minutes": int(o["minutes"]) if o else 0,
                "co_located_minutes": co_minutes,
                "co_location_ratio": co_ratio,
                "co_located_folders": list(o["co_folders"]) if o else [],
                "shared_folders": sorted(set(da["folders"]) & set(db["folders"])),
                "shared_sensors": sorted(set(da["sensors"]) & set(db["sensors"])),
                "activity_similarity": activity,
                "place_similarity": place,
                "similarity": (activity + place + co_ratio) / 3,
            }
        )
    return {"since": since, "until": until, "devices": devices, "pairs": pairs}
