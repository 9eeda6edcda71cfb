"""Anomaly counts over a window: by type, severity, folder and hour; top devices and folders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.anomalies import anomaly_breakdown
from santiway_anomaly.storage.store import Store


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def anomaly_stats(store: Store, since: datetime, until: datetime, top: int) -> dict[str, Any]:
    rows = anomaly_breakdown(store, since, until)
    # grouping(): one bit per argument (anomaly_type = 16 ... hour = 1), set when the column is
    # aggregated away (SQL standard), so the set (anomaly_type) reads 0b01111 = 15.
    by: dict[str, list[tuple[Any, int, float]]] = {
        k: [] for k in ("type", "severity", "folder", "device", "hour", "all")
    }
    names = {15: "type", 23: "severity", 27: "folder", 29: "device", 30: "hour", 31: "all"}
    for g, atype, sev, folder, device, hour, n, s in rows:
        kind = names[int(g)]
        key = {"type": atype, "severity": sev, "folder": folder, "device": device, "hour": hour, "all": None}[kind]
        by[kind].append((key, int(n), float(s)))
    total = by["all"][0][1] if by["all"] else 0

    def counts(kind: str) -> list[dict[str, Any]]:
        items = sorted(by[kind], key=lambda t: (-t[1], str(t[0])))
        return [{"key": str(k), "count": n} for k, n, _ in items]

    def tops(kind: str) -> list[dict[str, Any]]:
        items = sorted((t for t in by[kind] if t[0]), key=lambda t: (-t[1], -t[2], str(t[0])))[:top]
        return [{"key": str(k), "count": n, "max_score": s} for k, n, s in items]

    return {
        "since": since,
        "until": until,
        "hours": (until - since).total_seconds() / 3600,
        "total": total,
        "by_type": counts("type"),
        "by_severity": counts("severity"),
        "by_folder": counts("folder"),
        "by_hour": [{"hour": _aware(k), "count": n} for k, n, _ in sorted(by["hour"], key=lambda t: t[0])],
        "top_devices": tops("device"),
        "top_folders": tops("folder"),
    }


def folder_occupancy(store: Store, settings: Settings, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per folder over [since, until): the busiest hour by raw MACs and by estimated people (occupancy.py)."""
    from santiway_anomaly.occupancy import occupancy_hours

    df = occupancy_hours(store, settings, since, until)
    out = []
    for folder, part in df.groupby("folder", sort=True):
        peak = part.iloc[int(part["people"].to_numpy().argmax())]
        out.append({"folder": str(folder), "hours": len(part), "unique_devices_peak": int(part["unique_devices"].max()),
                    "people_peak": float(peak["people"]), "people_peak_low": float(peak["people_low"]),
                    "people_peak_high": float(peak["people_high"]),
                    "people_mean": round(float(part["people"].mean()), 1)})
    return out
