"""A WebSocket test client (the `websockets` library) that reads notifications until told to stop."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
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


class StuckClient:
    """A raw WebSocket client that completes the handshake and then never reads (a tiny receive buffer)."""

    def __init__(self, port: int, key: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        nonce = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws/notifications/?api_key={key} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def drain_until_closed(self, timeout: float = 20) -> bytes:
        """Everything the server sent, read until it closed the connection (TimeoutError if it did not)."""
        self.sock.settimeout(timeout)
        data = b""
        while chunk := self.sock.recv(1 << 20):
            data += chunk
        self.sock.close()
        return data
