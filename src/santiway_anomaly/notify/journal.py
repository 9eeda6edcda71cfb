"""The notification log (`anomaly_ml.notifications`): what was sent, in order, kept in the store.

Synchronous functions over the store (its SQL: storage/queries/notifications.py); the service calls them
in its worker pool.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.notify.message import Notification
from santiway_anomaly.storage.queries import notifications
from santiway_anomaly.storage.store import Store


class SeqClock:
    """Notification ids: strictly increasing, and above every id already in the log.

    Microseconds of wall time, so ids stay increasing across restarts without a counter table, bumped
    by one whenever two come in the same microsecond (or the clock steps back).
    """

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def next(self) -> int:
        self.last = max(self.last + 1, time.time_ns() // 1000)
        return self.last


def last_seq(store: Store) -> int:
    return notifications.last_seq(store)


def notified_ids(store: Store, anomaly_ids: Sequence[str]) -> set[str]:
    """Those of `anomaly_ids` already notified (by any earlier run or process)."""
    return notifications.notified_ids(store, anomaly_ids)


def append(store: Store, notes: Sequence[Notification]) -> None:
    notifications.append_log(store, [[n.seq, n.anomaly_id, n.created_at, n.subject, n.anomaly_type, n.severity,
                                      n.folder, n.text] for n in notes])


@dataclass(frozen=True)
class Since:
    """Where a reconnecting client left off: a notification id, or a time (UTC)."""

    seq: int | None = None
    time: datetime | None = None

    @classmethod
    def parse(cls, raw: str) -> Since:
        """An integer is a notification id; anything else must be an ISO 8601 time."""
        raw = raw.strip()
        if raw.isdigit():
            return cls(seq=int(raw))
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"since must be a notification id or an ISO 8601 time, got {raw[:40]!r}") from None
        return cls(time=value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC))


def replay(store: Store, since: Since, limit: int) -> list[Notification]:
    """Notifications after `since`, oldest first, at most the newest `limit` of them."""
    return [_note(row) for row in notifications.log_after(store, seq=since.seq, time=since.time, limit=limit)]


def recent(store: Store, after: datetime) -> list[Notification]:
    """Notifications sent after `after`, with their anomalies' windows where the store has the anomaly
    (the service rebuilds its cooldown from them at start)."""
    rows = notifications.log_with_windows(store, after)
    return [replace(_note(row[:-2]), window_start=_aware(row[-2]), window_end=_aware(row[-1])) for row in rows]


def recent_ids(store: Store, after: datetime, limit: int) -> list[str]:
    """Anomaly ids notified after `after`, oldest first, at most the newest `limit`."""
    return notifications.recent_ids(store, after, limit)


def _note(row: Sequence[Any]) -> Notification:
    seq, anomaly_id, created_at, subject, anomaly_type, severity, folder, payload = row
    return Notification(int(seq), str(anomaly_id), _aware(created_at), str(subject), str(anomaly_type),
                        str(severity), str(folder), str(payload))


def _aware(value: Any) -> Any:
    """DateTime64(…, 'UTC') comes back naive: mark it UTC (None and other values pass through)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
