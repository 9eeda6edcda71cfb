"""Finished outbox rows are pruned after NOTIFY_OUTBOX_KEEP_DAYS; pending ones never are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from santiway_anomaly.notify.outbox import COLUMNS, pending, prune_finished
from santiway_anomaly.storage import Store


def _row(seq: int, state: str, updated: datetime, version: int) -> list[object]:
    return [seq, f"a{seq}", state, 1, "", updated, updated, version, "{}"]


def test_prune_deletes_every_version_of_old_finished_rows_only(empty_store: Store) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    rows = [
        _row(1, "pending", old, 1), _row(1, "delivered", old, 2),   # delivered long ago: goes, both versions
        _row(2, "pending", old, 1),                                 # still pending after 40 days: stays
        _row(3, "pending", old, 1), _row(3, "rejected", old, 2),    # rejected long ago: goes
        _row(4, "pending", recent, 1), _row(4, "delivered", recent, 2),  # delivered yesterday: stays
    ]
    for row in rows:  # one insert each: every version in a part of its own, as the outbox writes them
        empty_store.insert_rows("anomaly_ml.notify_outbox", [row], COLUMNS)

    assert prune_finished(empty_store, now - timedelta(days=30)) == 2

    left = empty_store.query_rows("SELECT seq, count() FROM anomaly_ml.notify_outbox GROUP BY seq ORDER BY seq")
    assert left == [(2, 1), (4, 2)]
    assert [r.seq for r in pending(empty_store)] == [2]
    assert prune_finished(empty_store, now - timedelta(days=30)) == 0
