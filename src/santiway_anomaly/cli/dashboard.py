"""`santiway-anomaly dashboard`: run the Streamlit dashboard (it talks to the REST API, not the store)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from santiway_anomaly.cli.common import settings_or_exit

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)


def streamlit_command(host: str, port: int, *, headless: bool = True) -> list[str]:
    """The command line that serves the dashboard (also used by `demo`)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", str(headless).lower(),
        # No usage statistics leave the machine; no file watcher (nothing to reload in production).
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--theme.base", "light",
        # Operators need no "Deploy" button or developer menu.
        "--client.toolbarMode", "minimal",
        # The same line layout as the service's log (time | level | message).
        "--logger.messageFormat", "%(asctime)s | %(levelname)-7s | %(name)s: %(message)s",
    ]


def dashboard(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: DASHBOARD_HOST, 0.0.0.0)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: DASHBOARD_PORT, 8501)", min=1, max=65535)] = None,
    api_url: Annotated[
        str | None, typer.Option(help="REST API to read from (default: DASHBOARD_API_URL, http://127.0.0.1:8001)")
    ] = None,
) -> None:
    """Serve the dashboard (Streamlit). It reads everything from the REST API with DASHBOARD_API_KEY
    (default: the first of VALID_API_KEYS), so start `santiway-anomaly serve` too."""
    settings = settings_or_exit()
    env = dict(os.environ)
    if api_url:
        env["DASHBOARD_API_URL"] = api_url
    command = streamlit_command(host or settings.dashboard_host, port or settings.dashboard_port)
    typer.echo(f"dashboard: http://{host or settings.dashboard_host}:{port or settings.dashboard_port} "
               f"(API {api_url or settings.dashboard_api_url})")
    # Become Streamlit (no wrapper process): a signal sent to this process (Ctrl-C, `docker stop`,
    # the demo's shutdown) reaches the server itself, and nothing is left behind.
    os.execve(sys.executable, command, env)
