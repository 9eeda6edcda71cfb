"""The service's Dispatcher: screen new anomalies, log them, fan them out (WebSocket hub, webhook outbox).

`publish` keeps three promises: an anomaly is notified at most once (ids already in the notification
log are dropped), a device an operator marked as known is not alerted on for that reason, and a
subject that keeps firing the same anomaly type stays quiet for `NOTIFY_COOLDOWN_S` unless the
severity rises. What passes is written to the notification log (and the outbox) first, then
broadcast: a client that reconnects with `?since=` can always catch up from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.known import is_exempt, load_allowlist
from santiway_anomaly.notify import journal
from santiway_anomaly.notify.dispatcher import NOTIFICATIONS
from santiway_anomaly.notify.hub import Hub
from santiway_anomaly.notify.message import SEVERITY_RANK, Notification, build_notification
from santiway_anomaly.notify.outbox import OutboxWorker, add_pending
from santiway_anomaly.notify.scheduler import DetectionScheduler
from santiway_anomaly.notify.webhook import Webhook
from santiway_anomaly.storage.store import Store

StoreCall = Callable[..., Awaitable[Any]]
# Ids notified by this process, remembered so a repeat is dropped even while the store is unreachable.
RECENT_IDS = 100_000
STORE_WAIT_S = 1.0


def _screen(store: Store, ids: list[str]) -> tuple[set[str], dict[str, set[str]]]:
    return journal.notified_ids(store, ids), load_allowlist(store)


def _persist(store: Store, notes: list[Notification], outbox: bool) -> None:
    journal.append(store, notes)
    if outbox:
        add_pending(store, notes)


def _boot(store: Store, cooldown_s: float) -> tuple[int, list[Notification]]:
    after = datetime.now(UTC) - timedelta(seconds=cooldown_s)
    return journal.last_seq(store), journal.recent(store, after)


class NotificationService:
    """Dispatcher with the WebSocket hub and (when `DJANGO_URL` is set) the webhook outbox."""

    channel = "service"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub = Hub(settings.notify_ws_queue, settings.notify_ws_max_clients)
        self.webhook = Webhook(settings) if settings.django_url else None
        self.outbox: OutboxWorker | None = None
        self.scheduler: DetectionScheduler | None = None
        self.clock = journal.SeqClock()
        # (subject, anomaly_type) -> (unix time of the last notification, its severity rank)
        self.cooldown: dict[tuple[str, str], tuple[float, int]] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._call: StoreCall | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()  # one publish at a time: seq order = log order = broadcast order
        self.ready = asyncio.Event()

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self, call: StoreCall, store_open: Callable[[], bool]) -> None:
        """Start the background work; it waits for the store to open (the service may start without it)."""
        self._call = call
        self._tasks.append(asyncio.create_task(self._start_when_open(store_open), name="notify-start"))

    async def _start_when_open(self, store_open: Callable[[], bool]) -> None:
        while not store_open():
            await asyncio.sleep(STORE_WAIT_S)
        try:
            last, recent = await self.call(_boot, self.settings.notify_cooldown_s)
        except Exception as exc:  # a broken log must not stop delivery: start with an empty cooldown
            logger.error("notification log unreadable at start: {}", exc)
            last, recent = 0, []
        self.clock.last = max(self.clock.last, last)
        for note in recent:
            self._remember(note)
        if self.webhook is not None:
            self.outbox = OutboxWorker(self.webhook, self.call, self.settings.notify_outbox_retry_s)
            self._tasks.append(asyncio.create_task(self.outbox.run(), name="notify-outbox"))
            logger.info("webhook notifications to {}", self.webhook.url)
        if self.settings.detect_interval > 0:
            self.scheduler = DetectionScheduler(self.settings, self.call, self.publish)
            self._tasks.append(asyncio.create_task(self.scheduler.run(), name="detect-scheduler"))
        self.ready.set()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._call is None:
            raise RuntimeError("notification service not started")
        return await self._call(fn, *args)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self.hub.shutdown()
        if self.webhook is not None:
            await self.webhook.aclose()

    # ---- publishing -------------------------------------------------------------------------

    async def publish(self, anomalies: Sequence[Anomaly]) -> None:
        if not anomalies:
            return
        async with self._lock:
            notes = await self._admit(anomalies)
            if not notes:
                return
            try:
                await self.call(_persist, notes, self.outbox is not None)
            except Exception as exc:  # still tell the connected clients; the log and webhook miss these
                NOTIFICATIONS.labels(channel="log", outcome="failed").inc(len(notes))
                logger.error("notification log write failed ({} notifications not kept): {}", len(notes), exc)
            else:
                NOTIFICATIONS.labels(channel="log", outcome="delivered").inc(len(notes))
                if self.outbox is not None:
                    self.outbox.kick()
            self.hub.broadcast(notes)
            for note in notes:
                logger.info("notification {}: {} {} subject={} folder={}", note.seq, note.severity,
                            note.anomaly_type, note.subject, note.folder)

    async def _admit(self, anomalies: Sequence[Anomaly]) -> list[Notification]:
        ids = [a.anomaly_id for a in anomalies]
        try:
            notified, allow = await self.call(_screen, ids)
        except Exception as exc:  # store unreachable: screen with what this process remembers
            logger.warning("notification screening without the store: {}", exc)
            notified, allow = set(), {}
        now = datetime.now(UTC)
        notes: list[Notification] = []
        for anomaly in anomalies:
            if anomaly.anomaly_id in notified or anomaly.anomaly_id in self._recent:
                NOTIFICATIONS.labels(channel="service", outcome="duplicate").inc()
                continue
            if anomaly.device_id and is_exempt(allow, anomaly.device_id, anomaly.anomaly_type):
                NOTIFICATIONS.labels(channel="service", outcome="suppressed_known").inc()
                continue
            if self._cooling(anomaly, now):
                NOTIFICATIONS.labels(channel="service", outcome="suppressed_cooldown").inc()
                logger.debug("cooldown: {} {} not notified", anomaly.subject, anomaly.anomaly_type)
                continue
            note = build_notification(anomaly, self.clock.next(), now, self.settings.notify_language)
            self._remember(note)
            notes.append(note)
        return notes

    def _cooling(self, anomaly: Anomaly, now: datetime) -> bool:
        last = self.cooldown.get((anomaly.subject, anomaly.anomaly_type))
        if last is None:
            return False
        at, rank = last
        recent = now.timestamp() - at < self.settings.notify_cooldown_s
        return recent and SEVERITY_RANK[anomaly.severity] <= rank

    def _remember(self, note: Notification) -> None:
        self.cooldown[(note.subject, note.anomaly_type)] = (note.created_at.timestamp(),
                                                             SEVERITY_RANK.get(note.severity, 0))
        self._recent[note.anomaly_id] = None
        while len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        if len(self.cooldown) > RECENT_IDS:  # forget subjects whose cooldown is over
            horizon = note.created_at.timestamp() - self.settings.notify_cooldown_s
            self.cooldown = {k: v for k, v in self.cooldown.items() if v[0] >= horizon}

    async def replay(self, since: journal.Since) -> list[Notification]:
        notes: list[Notification] = await self.call(journal.replay, since, self.settings.notify_ws_replay_max)
        return notes


def start_notifications(app: Any) -> None:
    """Lifespan hook: start the app's notification service, if that is its dispatcher."""
    service = app.state.dispatcher
    if isinstance(service, NotificationService):
        runner = app.state.runner
        service.start(runner, lambda: runner.store is not None)
