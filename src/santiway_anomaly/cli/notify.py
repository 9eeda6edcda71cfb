"""`santiway-anomaly listen`: watch a running service's notifications in the terminal.

The troubleshooting check "does the WebSocket get notifications?" without a browser: connects to
`ws://HOST/ws/notifications/` with the key in the X-API-Key header (never in the URL, so it stays out
of shell history and process lists), prints each notification's title and text (or the raw JSON).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Annotated

import typer

from santiway_anomaly.cli.common import settings_or_exit


def register(app: typer.Typer) -> None:
    app.command("listen")(listen)


def listen(
    url: Annotated[str | None, typer.Option(help="Service base URL (default: http://127.0.0.1:API_PORT)")] = None,
    min_severity: Annotated[str, typer.Option(help="info, warning or critical")] = "info",
    folders: Annotated[str | None, typer.Option(help="Only these folders (comma-separated)")] = None,
    types: Annotated[str | None, typer.Option(help="Only these anomaly types (comma-separated)")] = None,
    since: Annotated[str | None, typer.Option(help="First replay what came after this notification id or "
                                                   "ISO time")] = None,
    raw: Annotated[bool, typer.Option("--json", help="Print each message as one line of JSON")] = False,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many notifications")] = None,
) -> None:
    """Print live anomaly notifications of a running service (Ctrl-C stops). The key is taken from
    NOTIFY_LISTEN_API_KEY, else the first of VALID_API_KEYS (none needed in development mode)."""
    settings = settings_or_exit()
    base = (url or f"http://127.0.0.1:{settings.api_port}").rstrip("/")
    ws_url = "ws" + base.removeprefix("http") + "/ws/notifications/"
    query = {"min_severity": min_severity, "folders": folders, "types": types, "since": since}
    params = "&".join(f"{k}={v}" for k, v in query.items() if v)
    key = os.environ.get("NOTIFY_LISTEN_API_KEY") or (settings.valid_api_keys[0] if settings.valid_api_keys else "")
    try:
        asyncio.run(_listen(ws_url + (f"?{params}" if params else ""), key, raw, count))
    except KeyboardInterrupt:
        pass


async def _listen(ws_url: str, key: str, raw: bool, count: int | None) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

    headers = {"X-API-Key": key} if key else None
    seen = 0
    try:
        async with connect(ws_url, additional_headers=headers, open_timeout=15) as ws:
            async for text in ws:
                message = json.loads(text)
                kind = message.get("type")
                if raw:
                    typer.echo(json.dumps(message, ensure_ascii=False))
                elif kind == "connection.established":
                    typer.secho(f"connected to {ws_url.split('?')[0]} (filters {message['filters']})",
                                fg=typer.colors.CYAN, err=True)
                elif kind == "anomaly.detected":
                    color = {"critical": typer.colors.RED, "warning": typer.colors.YELLOW}.get(message["severity"])
                    typer.secho(f"[{message['id']}] {message['title']} | {message['text']}", fg=color)
                if kind == "anomaly.detected":
                    seen += 1
                    if count is not None and seen >= count:
                        return
    except ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd else "connection lost"
        typer.secho(f"closed by the service: {reason}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    except (OSError, InvalidStatus, InvalidURI, TimeoutError) as exc:
        typer.secho(f"cannot connect to {ws_url.split('?')[0]}: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
