"""The live notification feed: a background thread holding the WebSocket, a bounded buffer the page reads.

Streamlit reruns a script from the top and cannot keep a socket open across reruns, so one thread
per browser session keeps `ws://.../ws/notifications/?api_key=KEY` open, reconnects with
`?since=<last id>` (the hub replays what was missed) and appends each `anomaly.detected` message
to a deque. The first connection asks for the last `history_s` seconds (`?since=<ISO time>`), so a page
opened after notifications were sent shows them, then streams. The page only reads a snapshot.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from loguru import logger
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import connect

MESSAGE_TYPE = "anomaly.detected"
# WebSocket close codes for "not allowed": 1008 (policy) and the HTTP-like 4401/4403 our hub uses.
AUTH_CLOSE_CODES = {1008, 4001, 4003, 4401, 4403}
# "Not now": 1013 try again later (notifications not enabled), 4429 too many clients, 4400 bad query.
UNAVAILABLE_CLOSE_CODES = {1013, 4400, 4429}


@dataclass(frozen=True)
class Received:
    """One notification as it arrived."""

    received_at: datetime
    message: dict[str, Any]
    key: str  # the anomaly id: a replayed message is recognised and dropped

    @property
    def sent_at(self) -> datetime:
        """When the service sent it (the message's `time`); a replayed one arrives later than that."""
        raw = self.message.get("time")
        if isinstance(raw, str):
            try:
                value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return self.received_at
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return self.received_at

    @property
    def anomaly(self) -> dict[str, Any]:
        value = self.message.get("anomaly")
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class FeedState:
    """What the page shows: the connection, the last problem, the messages (oldest first)."""

    status: str  # connecting | connected | refused | unavailable | unreachable | stopped
    error: str
    connected_since: datetime | None
    messages: list[Received]
    other_messages: int  # heartbeats and other types, counted, not shown


class NotificationFeed:
    """Keeps one WebSocket open in a daemon thread until `stop()`."""

    def __init__(self, url: str, *, buffer: int = 500, retry_s: float = 2.0, open_timeout_s: float = 5.0,
                 idle_s: float = 120.0, resume: NotificationFeed | None = None,
                 history_s: float = 0.0) -> None:
        self.url = url
        # What the first connection replays: notifications of the last `history_s` seconds.
        self._history_since = (datetime.now(UTC) - timedelta(seconds=history_s)) if history_s > 0 else None
        self.retry_s = retry_s
        self.open_timeout_s = open_timeout_s
        # Streamlit says nothing when a browser tab goes away: a feed nobody has read for `idle_s`
        # closes its socket and ends; the page starts a new one (resuming from this one) on return.
        self.idle_s = idle_s
        self._messages: deque[Received] = deque(maxlen=buffer)
        self._last_id: int | None = None
        if resume is not None and resume.url == url:  # keep what was shown; the hub replays the gap
            self._messages.extend(resume.snapshot().messages)
            self._last_id = resume._last_id
        self._last_read = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._status = "connecting"
        self._error = ""
        self._since: datetime | None = None
        self._other = 0
        self._thread = threading.Thread(target=self._run, name="ws-feed", daemon=True)

    def start(self) -> NotificationFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after `stop()` or the idle time)."""
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def snapshot(self) -> FeedState:
        self._last_read = time.monotonic()
        with self._lock:
            return FeedState(self._status, self._error, self._since, list(self._messages), self._other)

    def _set(self, status: str, error: str = "") -> None:
        with self._lock:
            self._status = status
            self._error = error
            self._since = datetime.now(UTC) if status == "connected" else None

    def _connect_url(self) -> str:
        if self._last_id is not None:
            since = str(self._last_id)
        elif self._history_since is not None:
            since = self._history_since.isoformat()
        else:
            return self.url
        parts = urlsplit(self.url)
        query = "&".join(q for q in (parts.query, urlencode({"since": since})) if q)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(self._connect_url(), open_timeout=self.open_timeout_s, close_timeout=1) as ws:
                    self._set("connected")
                    while not self._stop.is_set():
                        if time.monotonic() - self._last_read > self.idle_s:
                            self._stop.set()  # nobody is looking any more
                            break
                        try:
                            raw = ws.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        self._take(raw)
            except InvalidStatus as exc:
                code = exc.response.status_code
                if code in (401, 403):
                    self._set("refused", f"the service refused the API key on the WebSocket (HTTP {code})")
                else:
                    self._set("unreachable", f"the WebSocket endpoint answered HTTP {code} instead of upgrading")
            except ConnectionClosed as exc:
                received = exc.rcvd
                if received is not None and received.code in AUTH_CLOSE_CODES:
                    self._set("refused", f"the service closed the WebSocket: {received.reason or received.code}")
                elif received is not None and received.code in UNAVAILABLE_CLOSE_CODES:
                    self._set("unavailable", f"the service closed the WebSocket: {received.reason or received.code}")
                else:
                    self._set("connecting", "connection closed; reconnecting")
            except (OSError, TimeoutError, InvalidURI, WebSocketException) as exc:
                self._set("unreachable", f"{type(exc).__name__}: {exc}")
            if self._stop.wait(self.retry_s) or time.monotonic() - self._last_read > self.idle_s:
                break
        self._set("stopped")
        logger.debug("notification feed stopped: {}", self.url.split("?", 1)[0])

    def _take(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            with self._lock:
                self._other += 1
            return
        if not isinstance(message, dict) or message.get("type") != MESSAGE_TYPE:
            with self._lock:
                self._other += 1
            return
        ident = message.get("id")
        if isinstance(ident, int):
            self._last_id = max(ident, self._last_id or 0)
        anomaly = message.get("anomaly")
        key = str(anomaly.get("anomaly_id", "")) if isinstance(anomaly, dict) else ""
        key = key or json.dumps(message, sort_keys=True)
        with self._lock:
            if any(r.key == key for r in self._messages):  # a replay after reconnecting
                return
            self._messages.append(Received(datetime.now(UTC), message, key))


def wait_for(feed: NotificationFeed, predicate: Any, timeout_s: float) -> FeedState:
    """Poll the feed until `predicate(state)` holds or the time runs out (for callers and tests)."""
    deadline = time.monotonic() + timeout_s
    state = feed.snapshot()
    while not predicate(state) and time.monotonic() < deadline:
        time.sleep(0.05)
        state = feed.snapshot()
    return state
