"""The service's Dispatcher: screen new anomalies, log them, fan them out (WebSocket hub, webhook outbox).

`publish` takes the anomalies a detection run stored for the first time (`save_anomalies` decides
that in the store, under a lock) and keeps three promises: an anomaly is notified at most once (ids
this service notified recently are dropped too, also across a restart), a device an operator marked
as known is not alerted on for that reason, and a subject that keeps firing the same anomaly type
stays quiet for `NOTIFY_COOLDOWN_S` unless the severity rises.

The hot path touches no store: the screening uses memory (recent ids, cooldown, a cached allowlist),
the notifications are broadcast at once and written to the notification log (and the outbox) right
after, before `publish` returns. A client that reconnects in between still gets them: the replay
merges the log with an in-memory ring of the latest notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.config import Settings
from santiway_anomaly.notify import journal
from santiway_anomaly.notify.dispatcher import NOTIFICATIONS
from santiway_anomaly.notify.hub import Hub
from santiway_anomaly.notify.message import SEVERITY_RANK, Notification, build_notification
from santiway_anomaly.notify.outbox import OutboxWorker, add_pending
from santiway_anomaly.notify.scheduler import DetectionScheduler
from santiway_anomaly.notify.webhook import Webhook
from santiway_anomaly.storage.store import Store

StoreCall = Callable[..., Awaitable[Any]]
# Ids notified lately (loaded from the log at start: the last RECENT_DAYS), so a repeat is dropped.
RECENT_IDS = 100_000
RECENT_DAYS = 7
STORE_WAIT_S = 1.0
# The known-device list is re-read at most this often (and at once after a change through the API).
ALLOWLIST_TTL_S = 5.0


def _persist(store: Store, notes: list[Notification], outbox: bool) -> None:
    journal.append(store, notes)
    if outbox:
        add_pending(store, notes)


def _boot(store: Store, cooldown_s: float) -> tuple[int, list[Notification], list[str]]:
    now = datetime.now(UTC)
    ids = journal.recent_ids(store, now - timedelta(days=RECENT_DAYS), RECENT_IDS)
    return journal.last_seq(store), journal.recent(store, now - timedelta(seconds=cooldown_s)), ids


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
        # (subject, anomaly_type) -> the last notification of it: (unix time, severity rank, anomaly window)
        self.cooldown: dict[tuple[str, str], tuple[float, int, datetime | None, datetime | None]] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._ring: deque[Notification] = deque(maxlen=max(1, settings.notify_ws_replay_max))
        self._unsaved: list[Notification] = []  # broadcast, but the log write failed: retried
        self._allow: dict[str, set[str]] | None = None
        self._allow_at = 0.0
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
            last, recent, ids = await self.call(_boot, self.settings.notify_cooldown_s)
        except Exception as exc:  # a broken log must not stop delivery: start with an empty cooldown
            logger.error("notification log unreadable at start: {}", exc)
            last, recent, ids = 0, [], []
        self.clock.last = max(self.clock.last, last)
        for anomaly_id in ids:
            self._recent[anomaly_id] = None
        for note in recent:
            self._remember(note)
        if self.webhook is not None:
            self.outbox = OutboxWorker(self.webhook, self.call, self.settings.notify_outbox_retry_s,
                                       self.settings.notify_outbox_keep_days)
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
        if self._unsaved and self._call is not None:
            async with self._lock:
                await self._save()
        self.hub.shutdown()
        if self.webhook is not None:
            await self.webhook.aclose()

    # ---- publishing -------------------------------------------------------------------------

    async def publish(self, anomalies: Sequence[Anomaly]) -> None:
        if not anomalies:
            return
        async with self._lock:
            notes = self._admit(anomalies, await self._allowlist())
            if not notes:
                return
            self._ring.extend(notes)  # before the broadcast: a client registering after it replays these
            self.hub.broadcast(notes)
            self._unsaved.extend(notes)
            await self._save()
            for note in notes:
                logger.info("notification {}: {} {} subject={} folder={}", note.seq, note.severity,
                            note.anomaly_type, note.subject, note.folder)

    async def _save(self) -> bool:
        """Write the notifications not yet in the log (and outbox); a failed write is retried with the
        next publish and at shutdown, so the webhook still gets them once the store answers again."""
        if not self._unsaved:
            return True
        notes = list(self._unsaved)
        try:
            await self.call(_persist, notes, self.webhook is not None)
        except Exception as exc:
            NOTIFICATIONS.labels(channel="log", outcome="failed").inc(len(notes))
            logger.error("notification log write failed ({} notifications held in memory): {}", len(notes), exc)
            return False
        del self._unsaved[: len(notes)]
        NOTIFICATIONS.labels(channel="log", outcome="delivered").inc(len(notes))
        if self.outbox is not None:
            self.outbox.kick()
        return True

    async def _allowlist(self) -> dict[str, set[str]]:
        if self._allow is None or time.monotonic() - self._allow_at > ALLOWLIST_TTL_S:
            await self.refresh_allowlist()
        return self._allow or {}

    async def refresh_allowlist(self) -> None:
        """Re-read the known devices (the feedback routes call this after a change)."""
        try:
            from santiway_anomaly.storage.queries.known import load_allowlist  # pandas: on the first notification

            self._allow = await self.call(load_allowlist)
            self._allow_at = time.monotonic()
        except Exception as exc:  # store unreachable: keep the last list
            logger.warning("known-device list not refreshed: {}", exc)

    def _admit(self, anomalies: Sequence[Anomaly], allow: dict[str, set[str]]) -> list[Notification]:
        # Here, not at the top: the known-device queries bring pandas, which a server that has not notified
        # yet (or serves only the read routes) need not hold (issue 17, the server's memory).
        from santiway_anomaly.storage.queries.known import is_exempt

        now = datetime.now(UTC)
        notes: list[Notification] = []
        for anomaly in anomalies:
            if anomaly.anomaly_id in self._recent:
                NOTIFICATIONS.labels(channel="service", outcome="duplicate").inc()
                continue
            if anomaly.device_id and is_exempt(allow, anomaly.device_id, anomaly.anomaly_type):
                NOTIFICATIONS.labels(channel="service", outcome="suppressed_known").inc()
                continue
            if self._cooling(anomaly, now):
                NOTIFICATIONS.labels(channel="service", outcome="suppressed_cooldown").inc()
                logger.debug("cooldown: {} {} not notified", anomaly.subject, anomaly.anomaly_type)
                continue
            try:
                note = build_notification(anomaly, self.clock.next(), now, self.settings.notify_language)
            except (TypeError, ValueError) as exc:  # details a detector filled badly: skip it, not the batch
                NOTIFICATIONS.labels(channel="service", outcome="failed").inc()
                logger.error("anomaly {} cannot be notified: {}", anomaly.anomaly_id, exc)
                continue
            self._remember(note)
            notes.append(note)
        return notes

    def _cooling(self, anomaly: Anomaly, now: datetime) -> bool:
        """A repeat: the same subject and type was notified within the cooldown, at an equal or higher
        severity, about a window that this one continues (they overlap or lie less than the cooldown
        apart). A window hours away is another episode and is news, however recent the last notification:
        a first run that notifies an old crowd of a folder must not silence a crowd forming there now."""
        last = self.cooldown.get((anomaly.subject, anomaly.anomaly_type))
        if last is None:
            return False
        at, rank, start, end = last
        cooldown = self.settings.notify_cooldown_s
        recent = now.timestamp() - at < cooldown
        if start is not None and end is not None:
            gap = max((_utc(anomaly.window_start) - end).total_seconds(),
                      (start - _utc(anomaly.window_end)).total_seconds())
            if gap > cooldown:
                return False
        return recent and SEVERITY_RANK[anomaly.severity] <= rank

    def _remember(self, note: Notification) -> None:
        self.cooldown[(note.subject, note.anomaly_type)] = (note.created_at.timestamp(),
                                                             SEVERITY_RANK.get(note.severity, 0),
                                                             note.window_start, note.window_end)
        self._recent[note.anomaly_id] = None
        while len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        if len(self.cooldown) > RECENT_IDS:  # forget subjects whose cooldown is over
            horizon = note.created_at.timestamp() - self.settings.notify_cooldown_s
            self.cooldown = {k: v for k, v in self.cooldown.items() if v[0] >= horizon}

    async def replay(self, since: journal.Since) -> list[Notification]:
        """Notifications after `since`, oldest first: the log, plus the latest ones still being written."""
        limit = self.settings.notify_ws_replay_max
        ring = [n for n in self._ring if (n.seq > since.seq if since.seq is not None
                                           else since.time is not None and n.created_at > since.time)]
        stored: list[Notification] = await self.call(journal.replay, since, limit)
        seqs = {n.seq for n in stored}
        merged = sorted(stored + [n for n in ring if n.seq not in seqs], key=lambda n: n.seq)
        return merged[-limit:] if limit else []


def start_notifications(app: Any) -> None:
    """Lifespan hook: start the app's notification service, if that is its dispatcher."""
    service = app.state.dispatcher
    if isinstance(service, NotificationService):
        runner = app.state.runner
        service.start(runner, lambda: runner.store is not None)


def _utc(value: datetime) -> datetime:
    """A stored time as UTC (chDB returns DateTime64(…, 'UTC') naive); detectors/util.utc without its pandas."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
