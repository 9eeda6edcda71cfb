"""The notification log (`anomaly_ml.notifications`): what was sent, in order, kept in the store.

Synchronous functions over the store; the service calls them in its worker pool.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.notify.message import Notification
from santiway_anomaly.storage.store import Store

COLUMNS = ["seq", "anomaly_id", "created_at", "subject", "anomaly_type", "severity", "folder", "payload"]


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
    return int(store.scalar("SELECT max(seq) FROM anomaly_ml.notifications") or 0)


def notified_ids(store: Store, anomaly_ids: Sequence[str]) -> set[str]:
    """Those of `anomaly_ids` already notified (by any earlier run or process)."""
    if not anomaly_ids:
        return set()
    rows = store.query_rows(
        "SELECT DISTINCT anomaly_id FROM anomaly_ml.notifications WHERE anomaly_id IN {ids:Array(String)}",
        {"ids": list(anomaly_ids)},
    )
    return {str(r[0]) for r in rows}


def append(store: Store, notes: Sequence[Notification]) -> None:
    if notes:
        store.insert_rows(
            "anomaly_ml.notifications",
            [[n.seq, n.anomaly_id, n.created_at, n.subject, n.anomaly_type, n.severity, n.folder, n.text]
             for n in notes],
            COLUMNS,
        )


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
    params: dict[str, Any] = {"limit": limit}
    if since.seq is not None:
        where = "seq > {seq:UInt64}"
        params["seq"] = since.seq
    else:
        where = "created_at > {t:DateTime64(3, 'UTC')}"
        params["t"] = since.time
    rows = store.query_rows(
        f"SELECT {', '.join(COLUMNS)} FROM (SELECT * FROM anomaly_ml.notifications WHERE {where} "
        "ORDER BY seq DESC LIMIT {limit:UInt32}) ORDER BY seq",
        params,
    )
    return [_note(row) for row in rows]


def recent(store: Store, after: datetime) -> list[Notification]:
    """Notifications sent after `after`, with their anomalies' windows where the store has the anomaly
    (the service rebuilds its cooldown from them at start)."""
    rows = store.query_rows(
        f"SELECT {', '.join('n.' + c for c in COLUMNS)}, a.window_start, a.window_end "
        "FROM anomaly_ml.notifications AS n LEFT JOIN "
        "(SELECT anomaly_id, min(window_start) AS window_start, max(window_end) AS window_end "
        " FROM anomaly_ml.anomalies WHERE anomaly_id IN (SELECT anomaly_id FROM anomaly_ml.notifications "
        " WHERE created_at > {t:DateTime64(3, 'UTC')}) GROUP BY anomaly_id) AS a ON n.anomaly_id = a.anomaly_id "
        "WHERE n.created_at > {t:DateTime64(3, 'UTC')} ORDER BY n.seq SETTINGS join_use_nulls = 1",
        {"t": after},
    )
    return [replace(_note(row[:-2]), window_start=_aware(row[-2]), window_end=_aware(row[-1])) for row in rows]


def recent_ids(store: Store, after: datetime, limit: int) -> list[str]:
    """Anomaly ids notified after `after`, oldest first, at most the newest `limit`."""
    rows = store.query_rows(
        "SELECT anomaly_id FROM (SELECT anomaly_id, seq FROM anomaly_ml.notifications "
        "WHERE created_at > {t:DateTime64(3, 'UTC')} ORDER BY seq DESC LIMIT {limit:UInt32}) ORDER BY seq",
        {"t": after, "limit": limit},
    )
    return [str(r[0]) for r in rows]


def _note(row: Sequence[Any]) -> Notification:
    seq, anomaly_id, created_at, subject, anomaly_type, severity, folder, payload = row
    return Notification(int(seq), str(anomaly_id), _aware(created_at), str(subject), str(anomaly_type),
                        str(severity), str(folder), str(payload))


def _aware(value: Any) -> Any:
    """DateTime64(…, 'UTC') comes back naive: mark it UTC (None and other values pass through)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
