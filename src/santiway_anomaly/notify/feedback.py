"""Operator feedback on anomalies (`anomaly_ml.anomaly_feedback`): false alarm or confirmed.

A false alarm about a device can also put the device on the known list for that anomaly type
(`anomaly_ml.known_devices`, read by the detectors and by the notification service), so the same
device is not alerted on again for that reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from santiway_anomaly.storage.queries import feedback as queries
from santiway_anomaly.storage.queries.feedback import COLUMNS
from santiway_anomaly.storage.store import Store

Verdict = Literal["false_alarm", "confirmed"]
VERDICTS: tuple[str, ...] = ("false_alarm", "confirmed")


class UnknownAnomalyError(LookupError):
    pass


@dataclass(frozen=True)
class Feedback:
    anomaly_id: str
    verdict: str
    note: str
    added_by: str
    added_at: datetime
    device_id: str
    anomaly_type: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def give_feedback(store: Store, anomaly_id: str, verdict: str, note: str, added_by: str,
                  mark_known: bool = False) -> tuple[Feedback, bool]:
    """Record a verdict on a stored anomaly; returns it and whether its device was marked known."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    subject = queries.anomaly_subject(store, anomaly_id)
    if subject is None:
        raise UnknownAnomalyError(anomaly_id)
    device_id, anomaly_type = subject
    feedback = Feedback(anomaly_id, verdict, note, added_by, datetime.now(UTC), device_id, anomaly_type)
    queries.insert_feedback(store, [getattr(feedback, c) for c in COLUMNS])
    known = mark_known and verdict == "false_alarm" and bool(device_id)
    if known:
        from santiway_anomaly.storage.queries.known import add_known  # pandas: only when a verdict needs it

        add_known(store, [device_id], reason=anomaly_type, note=note or f"false alarm on {anomaly_id}",
                  added_by=added_by)
    return feedback, known


def get_feedback(store: Store, anomaly_id: str) -> Feedback | None:
    found = list_feedback(store, anomaly_id=anomaly_id, limit=1)
    return found[0] if found else None


def list_feedback(store: Store, *, anomaly_id: str | None = None, verdict: str | None = None,
                  limit: int = 100) -> list[Feedback]:
    rows = queries.feedback_rows(store, anomaly_id=anomaly_id, verdict=verdict, limit=limit)
    return [Feedback(a, v, n, b, _utc(t), d, k) for a, v, n, b, t, d, k in rows]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
