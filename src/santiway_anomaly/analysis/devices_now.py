"""Devices heard in the last minutes, per folder, each labelled the way an operator sorts them:
`known` (on the operators' list), `fixture` (always there, learned), `new` (never seen on an earlier
day), or `seen before`; MAC `stable` or `randomized` (locally administered)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.queries.devices_now import devices_heard
from santiway_anomaly.storage.queries.known import learn_fixtures, load_allowlist
from santiway_anomaly.storage.store import Store


def devices_now(store: Store, settings: Settings, minutes: float, folder: str | None = None,
                limit: int = 2000, until: datetime | None = None) -> dict[str, Any]:
    end = until or datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    rows = devices_heard(store, start, end, folder, limit + 1)
    truncated = len(rows) > limit
    rows = rows[:limit]
    allow = load_allowlist(store)
    fixtures = learn_fixtures(store, settings, end, sorted({str(r["device_id"]) for r in rows}))
    today = end.date()
    data = []
    for row in rows:
        device = str(row["device_id"])
        first_day = row.get("first_day")
        if device in allow:
            status = "known"
        elif device in fixtures:
            status = "fixture"
        elif first_day is None or first_day >= today:
            status = "new"
        else:
            status = "seen before"
        data.append({
            "folder": str(row["folder"]), "device_id": device, "vendor": str(row["vendor"]),
            "network_type": str(row["network_type"]), "status": status,
            "mac": "randomized" if int(row["randomized"]) else "stable",
            "first_seen_here": row["first_here"], "last_seen": row["last_seen"],
            "first_day_ever": first_day, "sightings": int(row["sightings"]), "sensors": int(row["sensors"]),
            "rssi_avg": float(row["rssi_avg"]), "rssi_max": int(row["rssi_max"]),
        })
    return {"since": start, "until": end, "minutes": minutes, "count": len(data), "truncated": truncated,
            "data": data}
