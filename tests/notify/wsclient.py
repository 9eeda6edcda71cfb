"""A WebSocket test client (the `websockets` library) that reads notifications until told to stop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


async def open_client(url: str, headers: dict[str, str] | None = None, **kw: Any) -> tuple[ClientConnection,
                                                                                            dict[str, Any]]:
    """Connect and read the `connection.established` greeting."""
    ws = await connect(url, additional_headers=headers, open_timeout=20, ping_interval=None, **kw)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert hello["type"] == "connection.established", hello
    return ws, hello


async def read_notifications(ws: ClientConnection, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    """The next `count` anomaly notifications (heartbeats and other messages skipped)."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message.get("type") == "anomaly.detected":
            out.append(message)
    return out


async def read_quiet(ws: ClientConnection, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every notification that arrives until the socket has been quiet for `quiet` seconds."""
    out: list[dict[str, Any]] = []
    while True:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), quiet))
        except TimeoutError:
            return out
        if message.get("type") == "anomaly.detected":
            out.append(message)


async def close_reason(url: str, headers: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Connect, and return the close code and reason the server ends the connection with."""
    async with connect(url, additional_headers=headers, open_timeout=20, ping_interval=None) as ws:
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 20)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (None, "")
    return None, ""
