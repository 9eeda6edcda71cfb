"""The WebSocket hub: fan-out of notifications to connected clients, each through its own bounded queue.

`broadcast` never waits on a client: it puts the (already serialised) messages of one publish into
every matching client's queue, as one item. A client whose queue is full is cut off (its queue is
replaced by one "overflow" marker, its connection closed with `CLOSE_SLOW`), so one slow reader
cannot hold up the others; it can reconnect with `?since=<last id>` and catch up from the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import Gauge

from santiway_anomaly.catalog import ANOMALY_TYPES
from santiway_anomaly.notify.dispatcher import NOTIFICATIONS
from santiway_anomaly.notify.message import SEVERITY_RANK, Notification

# Close codes (4000-4999 are the application's): they mirror the HTTP statuses they stand for.
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW = 4408
CLOSE_TOO_MANY = 4429
CLOSE_UNAVAILABLE = 1013  # RFC 6455 "try again later": notifications are not enabled in this process
CLOSE_SHUTDOWN = 1001  # "going away"

WS_CLIENTS = Gauge("anomaly_detection_ws_clients", "WebSocket notification clients connected")

OVERFLOW = None  # the marker a client's sender reads instead of a message after an overflow


class HubFullError(RuntimeError):
    pass


@dataclass(frozen=True)
class Subscription:
    """What a client wants: minimum severity, folders and anomaly types (None = all)."""

    min_severity: str = "info"
    folders: frozenset[str] | None = None
    types: frozenset[str] | None = None

    @classmethod
    def parse(cls, min_severity: str | None, folders: str | None, types: str | None) -> Subscription:
        """From the query-string values (comma-separated lists); ValueError names the bad value."""
        severity = (min_severity or "info").strip().lower()
        if severity not in SEVERITY_RANK:
            raise ValueError(f"min_severity must be one of {list(SEVERITY_RANK)}, got {severity[:40]!r}")
        type_set = _csv(types)
        if type_set is not None:
            unknown = sorted(type_set - set(ANOMALY_TYPES))
            if unknown:
                raise ValueError(f"unknown anomaly type(s) {unknown[:5]}; choose from {list(ANOMALY_TYPES)}")
        return cls(severity, _csv(folders), type_set)

    def matches(self, note: Notification) -> bool:
        return (
            SEVERITY_RANK.get(note.severity, 0) >= SEVERITY_RANK[self.min_severity]
            and (self.folders is None or note.folder in self.folders)
            and (self.types is None or note.anomaly_type in self.types)
        )

    def describe(self) -> dict[str, object]:
        return {
            "min_severity": self.min_severity,
            "folders": sorted(self.folders) if self.folders is not None else None,
            "types": sorted(self.types) if self.types is not None else None,
        }


def _csv(value: str | None) -> frozenset[str] | None:
    if value is None or not value.strip():
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


class HubClient:
    """One connection's queue and filter. The route's sender task drains `queue`."""

    def __init__(self, subscription: Subscription, maxsize: int) -> None:
        self.subscription = subscription
        self.queue: asyncio.Queue[tuple[Notification, ...] | None] = asyncio.Queue(maxsize)
        self.overflowed = False
        # Why the sender must stop, once it reads the OVERFLOW marker: (close code, reason).
        self.close_with: tuple[int, str] = (CLOSE_SHUTDOWN, "service shutting down")
        self.cut = asyncio.Event()  # set when cut off: the route's watchdog closes a sender stuck in a send

    def cut_off(self, code: int, reason: str) -> None:
        """Stop queueing; the sender reads the marker next and closes with `code` and `reason`."""
        self.overflowed = True
        self.close_with = (code, reason)
        self.cut.set()
        while not self.queue.empty():  # the sender must see the marker next, not stale messages
            self.queue.get_nowait()
        self.queue.put_nowait(OVERFLOW)

    def offer(self, notes: Sequence[Notification]) -> bool:
        """Queue what the client wants of one publish (one queue item per publish, so a burst from one
        detection run never overflows a reader that keeps up); False when the client is cut off."""
        if self.overflowed:
            return True
        wanted = tuple(n for n in notes if self.subscription.matches(n))
        if not wanted:
            return True
        try:
            self.queue.put_nowait(wanted)
            return True
        except asyncio.QueueFull:
            size = self.queue.maxsize
            self.cut_off(CLOSE_SLOW, f"client too slow: {size} publishes queued; reconnect with ?since=")
            return False


class Hub:
    def __init__(self, queue_size: int, max_clients: int) -> None:
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.clients: set[HubClient] = set()

    def register(self, subscription: Subscription) -> HubClient:
        if len(self.clients) >= self.max_clients:
            raise HubFullError(f"too many notification clients (NOTIFY_WS_MAX_CLIENTS={self.max_clients})")
        client = HubClient(subscription, self.queue_size)
        self.clients.add(client)
        WS_CLIENTS.set(len(self.clients))
        return client

    def unregister(self, client: HubClient) -> None:
        self.clients.discard(client)
        WS_CLIENTS.set(len(self.clients))

    def broadcast(self, notes: Sequence[Notification]) -> None:
        """Queue `notes` for every client that wants them; never blocks."""
        for client in list(self.clients):
            if not client.offer(notes):
                NOTIFICATIONS.labels(channel="ws", outcome="dropped").inc()

    def shutdown(self, clients: Iterable[HubClient] | None = None) -> None:
        """Ask every sender to stop (the route closes its connection with `CLOSE_SHUTDOWN`)."""
        for client in list(clients if clients is not None else self.clients):
            client.cut_off(CLOSE_SHUTDOWN, "service shutting down")
