"""The notification log (`anomaly_ml.notifications`) and the webhook outbox (`anomaly_ml.notify_outbox`).

Rows in, rows out: the notify package (notify/journal.py, notify/outbox.py) turns them into its types.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.names import identifier
from santiway_anomaly.storage.store import Store

LOG_COLUMNS = ["seq", "anomaly_id", "created_at", "subject", "anomaly_type", "severity", "folder", "payload"]
OUTBOX_COLUMNS = ["seq", "anomaly_id", "state", "attempts", "last_error", "created_at", "updated_at", "version",
                  "payload"]

# ---- the notification log ---------------------------------------------------------------------


def last_seq(store: Store) -> int:
    return int(store.scalar("SELECT max(seq) FROM anomaly_ml.notifications") or 0)


def notified_ids(store: Store, anomaly_ids: Sequence[str]) -> set[str]:
    """Those of `anomaly_ids` already in the log."""
    if not anomaly_ids:
        return set()
    rows = store.query_rows(
        f"SELECT DISTINCT anomaly_id FROM anomaly_ml.notifications WHERE {in_ids('anomaly_id', 'ids')}",
        {"ids": list(anomaly_ids)},
    )
    return {str(r[0]) for r in rows}


def append_log(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    """Rows in LOG_COLUMNS order."""
    if rows:
        store.insert_rows("anomaly_ml.notifications", rows, LOG_COLUMNS)


def log_after(store: Store, *, seq: int | None, time: datetime | None, limit: int) -> list[tuple[Any, ...]]:
    """Log rows (LOG_COLUMNS) after a notification id, else after a time; oldest first, the newest `limit`."""
    params: dict[str, Any] = {"limit": limit}
    if seq is not None:
        where = "seq > {seq:UInt64}"
        params["seq"] = seq
    else:
        where = "created_at > {t:DateTime64(3, 'UTC')}"
        params["t"] = time
    return store.query_rows(
        f"SELECT {', '.join(LOG_COLUMNS)} FROM (SELECT * FROM anomaly_ml.notifications WHERE {where} "
        "ORDER BY seq DESC LIMIT {limit:UInt32}) ORDER BY seq",
        params,
    )


def log_with_windows(store: Store, after: datetime) -> list[tuple[Any, ...]]:
    """Log rows (LOG_COLUMNS) sent after `after`, each followed by its anomaly's window_start and
    window_end (NULL where the store has not got the anomaly)."""
    return store.query_rows(
        f"SELECT {', '.join('n.' + c for c in LOG_COLUMNS)}, a.window_start, a.window_end "
        "FROM anomaly_ml.notifications AS n LEFT JOIN "
        "(SELECT anomaly_id, min(window_start) AS window_start, max(window_end) AS window_end "
        " FROM anomaly_ml.anomalies WHERE anomaly_id IN (SELECT anomaly_id FROM anomaly_ml.notifications "
        " WHERE created_at > {t:DateTime64(3, 'UTC')}) GROUP BY anomaly_id) AS a ON n.anomaly_id = a.anomaly_id "
        "WHERE n.created_at > {t:DateTime64(3, 'UTC')} ORDER BY n.seq SETTINGS join_use_nulls = 1",
        {"t": after},
    )


def recent_ids(store: Store, after: datetime, limit: int) -> list[str]:
    """Anomaly ids notified after `after`, oldest first, at most the newest `limit`."""
    rows = store.query_rows(
        "SELECT anomaly_id FROM (SELECT anomaly_id, seq FROM anomaly_ml.notifications "
        "WHERE created_at > {t:DateTime64(3, 'UTC')} ORDER BY seq DESC LIMIT {limit:UInt32}) ORDER BY seq",
        {"t": after, "limit": limit},
    )
    return [str(r[0]) for r in rows]


# ---- the webhook outbox -----------------------------------------------------------------------


def outbox_write(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    """New versions of outbox rows (OUTBOX_COLUMNS order); the highest `version` of a seq wins."""
    if rows:
        store.insert_rows("anomaly_ml.notify_outbox", rows, OUTBOX_COLUMNS)


def outbox_pending(store: Store, limit: int) -> list[tuple[int, str, int, datetime, str]]:
    """(seq, anomaly_id, attempts, created_at, payload) of the pending rows, oldest first."""
    rows = store.query_rows(
        "SELECT seq, anomaly_id, attempts, created_at, payload FROM anomaly_ml.notify_outbox FINAL "
        "WHERE state = 'pending' ORDER BY seq LIMIT {limit:UInt32}",
        {"limit": limit},
    )
    return [(int(s), str(a), int(n), c, str(p)) for s, a, n, c, p in rows]


def outbox_count_pending(store: Store) -> int:
    return int(store.scalar("SELECT count() FROM anomaly_ml.notify_outbox FINAL WHERE state = 'pending'") or 0)


def outbox_prune_finished(store: Store, older_than: datetime) -> int:
    """Delete every version of the rows delivered or rejected before `older_than`; returns how many
    notifications went. Pending rows are never touched, and a finished row goes with all its versions,
    so an older `pending` version of it can never become the newest again."""
    finished = ("SELECT seq FROM anomaly_ml.notify_outbox FINAL "
                "WHERE state != 'pending' AND updated_at < {t:DateTime64(3, 'UTC')}")
    count = int(store.scalar(f"SELECT count() FROM ({finished})", {"t": older_than}) or 0)
    if count:
        # A Distributed table takes no DELETE: on a cluster the rows go from the local tables of every shard.
        cluster = store.settings.clickhouse_cluster
        target = (f"anomaly_ml.notify_outbox_local ON CLUSTER {identifier(cluster)}" if cluster
                  else "anomaly_ml.notify_outbox")
        store.command(f"DELETE FROM {target} WHERE seq IN ({finished})", {"t": older_than})
    return count
