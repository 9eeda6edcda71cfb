"""Known devices: the operators' allowlist (`anomaly_ml.known_devices`) and learned fixtures.

A fixture (printer, access point, smart TV) is "always there, for days": it is learned from the
hourly aggregates, never hard-coded. Operators can also mark any device as known, for one anomaly
type or for `all`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.store import Store

ALL = "all"


@dataclass(frozen=True)
class KnownDevice:
    device_id: str
    reason: str
    note: str
    added_by: str
    added_at: datetime


def load_allowlist(store: Store) -> dict[str, set[str]]:
    """device_id -> the anomaly types (or `all`) it is exempt from; latest row per key wins."""
    rows = store.query_rows(
        "SELECT device_id, reason FROM anomaly_ml.known_devices FINAL WHERE active = 1"
    )
    allow: dict[str, set[str]] = {}
    for device_id, reason in rows:
        allow.setdefault(str(device_id), set()).add(str(reason))
    return allow


def is_exempt(allow: dict[str, set[str]], device_id: str, anomaly_type: str) -> bool:
    reasons = allow.get(device_id)
    return bool(reasons) and (ALL in reasons or anomaly_type in reasons)  # type: ignore[operator]


def list_known(store: Store) -> list[KnownDevice]:
    rows = store.query_rows(
        "SELECT device_id, reason, note, added_by, added_at FROM anomaly_ml.known_devices FINAL "
        "WHERE active = 1 ORDER BY device_id, reason"
    )
    return [KnownDevice(str(d), str(r), str(n), str(b), _utc(a)) for d, r, n, b, a in rows]


def add_known(store: Store, device_ids: Sequence[str], reason: str = ALL, note: str = "",
              added_by: str = "operator") -> None:
    now = datetime.now(UTC)
    store.insert_rows(
        "anomaly_ml.known_devices",
        [[d, reason, note, added_by, now, 1] for d in device_ids],
        ["device_id", "reason", "note", "added_by", "added_at", "active"],
    )


def remove_known(store: Store, device_ids: Sequence[str], reason: str = ALL) -> None:
    """Deactivate (a newer row with active = 0 replaces the old one in ReplacingMergeTree)."""
    now = datetime.now(UTC)
    store.insert_rows(
        "anomaly_ml.known_devices",
        [[d, reason, "", "operator", now, 0] for d in device_ids],
        ["device_id", "reason", "note", "added_by", "added_at", "active"],
    )


def learn_fixtures(store: Store, settings: Settings, before: datetime,
                   device_ids: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Devices present in at least `fixture_hour_coverage` of the hours of their presence span, over
    at least `fixture_min_days`, in the `detect_history_days` before `before`.

    Returns device_id -> evidence (hours seen, span in hours, coverage). With `device_ids`, only those
    devices are examined (the detectors ask about their suspects only, which keeps this cheap).
    """
    start = before - timedelta(days=settings.detect_history_days)
    where_ids = "AND device_id IN {ids:Array(String)}" if device_ids is not None else ""
    if device_ids is not None and not device_ids:
        return {}
    rows = store.query_rows(
        f"""
        SELECT device_id, uniqExact(hour) AS hours,
               dateDiff('hour', min(hour), max(hour)) + 1 AS span_hours
        FROM anomaly_ml.hourly_features
        WHERE hour >= {{start:DateTime('UTC')}} AND hour < {{end:DateTime('UTC')}} {where_ids}
        GROUP BY device_id
        HAVING span_hours >= {{min_span:Float64}} AND hours >= {{coverage:Float64}} * span_hours
        """,
        {"start": start, "end": before, "ids": list(device_ids or []),
         "min_span": settings.fixture_min_days * 24, "coverage": settings.fixture_hour_coverage},
    )
    return {str(d): {"hours_seen": int(h), "span_hours": int(s), "coverage": round(h / s, 3)}
            for d, h, s in rows}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
