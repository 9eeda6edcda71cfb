"""`ws://HOST/ws/notifications/?api_key=KEY`: live notifications (SEED.md "WebSocket Notifications").

The key comes in the query (browsers cannot set headers on a WebSocket) or in `X-API-Key`. The
connection is accepted first and then closed with an application close code and a reason a browser
can read (4401 bad or missing key, 4400 bad parameter, 4429 too many clients, 4408 too slow, 1013
notifications disabled). Query parameters: `since` (a notification id or an ISO time: missed
notifications first), `min_severity`, `folders`, `types` (comma-separated). Messages besides the
notifications: `connection.established` (first), `heartbeat` (when idle), `subscribed`, `pong`,
`error` (also the answer to a binary frame, which does not end the connection).
A client may send `{"type": "ping"}` or `{"type": "subscribe", "min_severity": ..., "folders": [...],
"types": [...]}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from loguru import logger

from santiway_anomaly.api.security import (
    INVALID_KEY,
    TOO_MANY_FAILURES,
    KeyRing,
    SignInGuard,
    check_key,
    client_address,
)
from santiway_anomaly.notify.dispatcher import NOTIFICATIONS
from santiway_anomaly.notify.hub import (
    CLOSE_BAD_REQUEST,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    CLOSE_UNAVAILABLE,
    OVERFLOW,
    HubClient,
    HubFullError,
    Subscription,
)
from santiway_anomaly.notify.journal import Since
from santiway_anomaly.notify.service import NotificationService

router = APIRouter(tags=["notifications"])

MISSING_WS_KEY = "Missing API key: connect with ?api_key=KEY or an X-API-Key header"
MAX_CLIENT_MESSAGE = 4096
BINARY_FRAME = 'binary frames are not accepted: send JSON text, {"type": "ping"} or {"type": "subscribe"}'
# A client cut off while its sender is stuck in a send (its socket buffers full) gets this long to take
# the close frame; then the connection is dropped.
STUCK_CLOSE_S = 2.0


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _key(websocket: WebSocket) -> str | None:
    return websocket.query_params.get("api_key") or websocket.headers.get("x-api-key")


def _as_csv(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class Connection:
    """One accepted socket: sends are serialised (the sender and the receiver both answer)."""

    def __init__(self, websocket: WebSocket, service: NotificationService, client: HubClient) -> None:
        self.ws = websocket
        self.service = service
        self.client = client
        self.last_seq = 0
        self._send_lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        async with self._send_lock:
            await self.ws.send_text(text)

    async def send_json(self, data: dict[str, Any]) -> None:
        await self.send(json.dumps(data, ensure_ascii=False))

    async def replay(self, since: Since) -> None:
        try:
            notes = await self.service.replay(since)
        except Exception as exc:  # store unavailable: say so, carry on live
            logger.warning("notification replay failed: {}", exc)
            await self.send_json({"type": "error", "detail": "missed notifications unavailable: store not ready"})
            return
        for note in notes:
            if self.client.subscription.matches(note):
                await self.send(note.text)
                NOTIFICATIONS.labels(channel="ws", outcome="replayed").inc()
            self.last_seq = max(self.last_seq, note.seq)

    async def sender(self) -> None:
        heartbeat = self.service.settings.notify_ws_heartbeat_s
        while True:
            try:
                notes = await asyncio.wait_for(self.client.queue.get(), heartbeat)
            except TimeoutError:
                await self.send_json({"type": "heartbeat", "time": _now(), "last_id": self.service.clock.last})
                continue
            if notes is OVERFLOW:
                code, reason = self.client.close_with
                logger.warning("notification client closed: {} ({})", reason, code)
                await self.ws.close(code, reason)
                return
            for note in notes:
                if note.seq <= self.last_seq:  # already sent by the replay
                    continue
                await self.send(note.text)
                NOTIFICATIONS.labels(channel="ws", outcome="delivered").inc()

    async def watchdog(self, sender: asyncio.Task[None]) -> None:
        """After a cut-off, end a sender that cannot finish (a client that stopped reading)."""
        await self.client.cut.wait()
        done, _ = await asyncio.wait({sender}, timeout=STUCK_CLOSE_S)
        if done:
            return
        sender.cancel()
        code, reason = self.client.close_with
        logger.warning("notification client stuck, dropped: {} ({})", reason, code)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason), STUCK_CLOSE_S)

    async def receiver(self) -> None:
        while True:
            frame = await self.ws.receive()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000), frame.get("reason"))
            raw = frame.get("text")
            if raw is None:  # a binary frame: answered, the connection stays open
                await self.send_json({"type": "error", "detail": BINARY_FRAME})
                continue
            try:
                message = json.loads(raw[:MAX_CLIENT_MESSAGE])
                kind = message.get("type") if isinstance(message, dict) else None
            except ValueError:
                kind = None
            if kind == "ping":
                await self.send_json({"type": "pong", "time": _now(), "last_id": self.service.clock.last})
            elif kind == "subscribe":
                try:
                    self.client.subscription = Subscription.parse(
                        message.get("min_severity"), _as_csv(message.get("folders")), _as_csv(message.get("types"))
                    )
                except ValueError as exc:
                    await self.send_json({"type": "error", "detail": str(exc)})
                    continue
                await self.send_json({"type": "subscribed", "filters": self.client.subscription.describe()})
            else:
                await self.send_json({"type": "error", "detail": 'expected {"type": "ping"} or {"type": "subscribe"}'})


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.close(code, reason[:120])  # a close reason is at most 123 bytes


@router.websocket("/ws/notifications/")
@router.websocket("/ws/notifications")
async def notifications(websocket: WebSocket) -> None:
    """Live anomaly notifications, with optional filters and catch-up (`since`)."""
    await websocket.accept()
    service = websocket.app.state.dispatcher
    if not isinstance(service, NotificationService):
        await _refuse(websocket, CLOSE_UNAVAILABLE, "notifications are not enabled in this service")
        return
    ring: KeyRing = websocket.app.state.keyring
    if not ring.dev_mode:
        guard: SignInGuard | None = getattr(websocket.app.state, "signin_guard", None)
        key_id, reason = check_key(guard, ring, _key(websocket), client_address(websocket.client))
        if key_id is None:
            if reason == "blocked":
                await _refuse(websocket, CLOSE_TOO_MANY, TOO_MANY_FAILURES)
            else:
                await _refuse(websocket, CLOSE_UNAUTHORIZED, MISSING_WS_KEY if reason == "missing" else INVALID_KEY)
            return
    params = websocket.query_params
    try:
        subscription = Subscription.parse(params.get("min_severity"), params.get("folders"), params.get("types"))
        since = Since.parse(params["since"]) if params.get("since") else None
    except ValueError as exc:
        await _refuse(websocket, CLOSE_BAD_REQUEST, str(exc))
        return
    try:
        client = service.hub.register(subscription)  # before the replay: nothing falls in between
    except HubFullError as exc:
        await _refuse(websocket, CLOSE_TOO_MANY, str(exc))
        return
    conn = Connection(websocket, service, client)
    tasks: list[asyncio.Task[None]] = []
    try:
        await conn.send_json(
            {
                "type": "connection.established",
                "time": _now(),
                "last_id": service.clock.last,
                "filters": subscription.describe(),
                "heartbeat_s": service.settings.notify_ws_heartbeat_s,
            }
        )
        if since is not None:
            await conn.replay(since)
        sender = asyncio.create_task(conn.sender())
        tasks = [sender, asyncio.create_task(conn.receiver()), asyncio.create_task(conn.watchdog(sender))]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect | OSError | RuntimeError):
                logger.warning("notification connection ended: {}: {}", type(error).__name__, error)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the client went away (or the socket closed under a send)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        service.hub.unregister(client)
