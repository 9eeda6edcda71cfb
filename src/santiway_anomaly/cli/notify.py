"""`santiway-anomaly listen`: watch a running service's notifications in the terminal.

The troubleshooting check "does the WebSocket get notifications?" without a browser: connects to
`ws://HOST/ws/notifications/` with the key in the X-API-Key header (never in the URL, so it stays out
of shell history and process lists), prints each notification as one line in the operator's language
(`--lang`, English by default; the JSON sent to the host application keeps the specification's language):
local time with the zone, severity, type, the full MAC, folder, score and the anomaly's window (read from
`GET /anomalies/{id}`), or the raw JSON with --json.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

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
    lang: Annotated[str, typer.Option("--lang", help="Language of the printed lines: en or ru")] = "en",
) -> None:
    """Print live anomaly notifications of a running service (Ctrl-C stops). The key is taken from
    NOTIFY_LISTEN_API_KEY, else the first of VALID_API_KEYS (none needed in development mode)."""
    settings = settings_or_exit()
    base = (url or f"http://127.0.0.1:{settings.api_port}").rstrip("/")
    ws_url = "ws" + base.removeprefix("http") + "/ws/notifications/"
    query = {"min_severity": min_severity, "folders": folders, "types": types, "since": since}
    params = "&".join(f"{k}={v}" for k, v in query.items() if v)
    key = os.environ.get("NOTIFY_LISTEN_API_KEY") or (settings.valid_api_keys[0] if settings.valid_api_keys else "")
    from santiway_anomaly.notify.message import TYPE_NAMES

    if lang not in TYPE_NAMES:
        raise typer.BadParameter(f"--lang must be one of {', '.join(sorted(TYPE_NAMES))}")
    out = Printer(base, key, lang, settings.zone_for())
    try:
        asyncio.run(_listen(ws_url + (f"?{params}" if params else ""), key, raw, count, out))
    except KeyboardInterrupt:
        pass


class Printer:
    """One line per notification, in the operator's language and time zone."""

    def __init__(self, base: str, key: str, lang: str, zone: ZoneInfo) -> None:
        self.base, self.key, self.lang, self.zone = base, key, lang, zone

    def when(self, value: str | None) -> str:
        if not value:
            return "?"
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        return f"{stamp.astimezone(self.zone):%Y-%m-%d %H:%M:%S %Z}"

    async def window(self, anomaly_id: str) -> str:
        """The anomaly's window from the API (the notification itself does not carry it)."""
        import httpx

        if not anomaly_id:
            return ""
        headers = {"X-API-Key": self.key} if self.key else {}
        try:
            async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=10) as client:
                answer = await client.get(f"/anomalies/{anomaly_id}")
        except httpx.HTTPError:
            return ""
        if answer.status_code != 200:
            return ""
        body = answer.json()
        start, end = self.when(body.get("window_start")), self.when(body.get("window_end"))
        return f"{start} .. {end}"

    async def line(self, message: dict[str, Any]) -> str:
        from santiway_anomaly.notify.message import LABELS, SEVERITY_WORDS, TYPE_NAMES

        anomaly = message.get("anomaly") or {}
        labels = LABELS[self.lang]
        kind = str(anomaly.get("type", ""))
        parts = [f"[{message.get('id')}] {self.when(message.get('time'))}",
                 f"{SEVERITY_WORDS[self.lang].get(str(message.get('severity')), message.get('severity'))}: "
                 f"{TYPE_NAMES[self.lang].get(kind, kind)}"]
        if anomaly.get("device_id"):
            parts.append(f"{labels['device']}: {anomaly['device_id']}")  # the full MAC
        if anomaly.get("folder"):
            parts.append(f"{labels['folder']}: {anomaly['folder']}")
        parts.append(f"{labels['score']}: {float(anomaly.get('score') or 0) * 100:.1f}%")
        window = await self.window(str(anomaly.get("anomaly_id", "")))
        if window:
            parts.append(("окно" if self.lang == "ru" else "window") + f": {window}")
        return " | ".join(parts)


async def _listen(ws_url: str, key: str, raw: bool, count: int | None, out: Printer) -> None:
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
                    typer.secho(await out.line(message), fg=color)
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
