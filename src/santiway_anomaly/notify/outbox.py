"""The durable webhook outbox (`anomaly_ml.notify_outbox`) and its delivery task.

A notification is written as `pending` before the first attempt: a crash, a restart or a receiver that
is down loses nothing. One background task delivers pending rows strictly oldest first (by `seq`); when
a delivery still fails after the webhook's retries, the pass stops (later ones must not overtake it) and
resumes `NOTIFY_OUTBOX_RETRY_S` later, or at once on the next start of the service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger
from prometheus_client import Gauge

from santiway_anomaly.notify.message import Notification
from santiway_anomaly.notify.webhook import Webhook
from santiway_anomaly.storage.queries import notifications
from santiway_anomaly.storage.store import Store

COLUMNS = notifications.OUTBOX_COLUMNS
BATCH = 100

OUTBOX_PENDING = Gauge("anomaly_detection_outbox_pending", "Webhook notifications waiting in the outbox")

# Runs `fn(store, *args)` in the service's worker pool (the API's StoreRunner has this shape).
StoreCall = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    anomaly_id: str
    attempts: int
    created_at: datetime
    payload: str


def _version() -> int:
    return time.time_ns()


def add_pending(store: Store, notes: Sequence[Notification]) -> None:
    now = datetime.now(UTC)
    notifications.outbox_write(
        store, [[n.seq, n.anomaly_id, "pending", 0, "", n.created_at, now, _version(), n.text] for n in notes])


def pending(store: Store, limit: int = BATCH) -> list[OutboxRow]:
    return [OutboxRow(*row) for row in notifications.outbox_pending(store, limit)]


def count_pending(store: Store) -> int:
    return notifications.outbox_count_pending(store)


def record(store: Store, row: OutboxRow, state: str, attempts: int, error: str = "") -> None:
    """A new version of the row: `delivered`, `rejected`, or still `pending` with the last error."""
    notifications.outbox_write(store, [[row.seq, row.anomaly_id, state, attempts, error[:1000], row.created_at,
                                        datetime.now(UTC), _version(), row.payload]])


def prune_finished(store: Store, older_than: datetime) -> int:
    """Delete every version of the rows delivered or rejected before `older_than`; returns how many
    notifications went (storage/queries/notifications.py says which)."""
    return notifications.outbox_prune_finished(store, older_than)


class OutboxWorker:
    """Delivers the outbox through `webhook`, oldest first; `kick()` after adding rows."""

    PRUNE_EVERY_S = 3600.0

    def __init__(self, webhook: Webhook, call: StoreCall, retry_s: float, keep_days: float = 0.0) -> None:
        self.webhook = webhook
        self.call = call
        self.retry_s = retry_s
        self.keep_days = keep_days
        self._wake = asyncio.Event()
        self._pruned_at = 0.0

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Forever: drain, then wait for a kick (or, after a failure, for the retry interval)."""
        while True:
            self._wake.clear()
            try:
                drained = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is down or closing: try again later, never die
                logger.error("outbox pass failed: {}", exc)
                drained = False
            if drained:
                await self._prune_now_and_then()
                await self._wake.wait()
            else:
                await asyncio.sleep(self.retry_s)

    async def _prune_now_and_then(self) -> None:
        """At most hourly, after a drain: the outbox would otherwise keep every delivered row forever."""
        if self.keep_days <= 0 or time.monotonic() - self._pruned_at < self.PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        cutoff = datetime.now(UTC) - timedelta(days=self.keep_days)
        try:
            gone = await self.call(prune_finished, cutoff)
        except Exception as exc:  # pruning is housekeeping: log it, deliveries go on
            logger.warning("outbox: pruning finished rows failed: {}", exc)
            return
        if gone:
            logger.info("outbox: deleted {} delivered or rejected notification(s) older than {:g} days",
                        gone, self.keep_days)

    async def drain(self) -> bool:
        """Deliver pending rows in order; True when none is left, False when one still fails."""
        while True:
            rows: list[OutboxRow] = await self.call(pending)
            OUTBOX_PENDING.set(len(rows) if len(rows) < BATCH else await self.call(count_pending))
            if not rows:
                return True
            for row in rows:
                result = await self.webhook.deliver(row.payload, row.anomaly_id, row.seq)
                attempts = row.attempts + result.attempts
                if result.ok:
                    await self.call(record, row, "delivered", attempts)
                elif result.permanent:
                    logger.error("outbox: notification {} rejected by the receiver, not retried: {}",
                                 row.seq, result.error)
                    await self.call(record, row, "rejected", attempts, result.error)
                else:
                    await self.call(record, row, "pending", attempts, result.error)
                    left = await self.call(count_pending)
                    OUTBOX_PENDING.set(left)
                    logger.warning("outbox: receiver unavailable ({}); {} notification(s) held, next try in {:g} s",
                                   result.error, left, self.retry_s)
                    return False
