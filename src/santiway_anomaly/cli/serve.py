"""`santiway-anomaly serve`: run the REST service (uvicorn) on the configured host and port."""

from __future__ import annotations

from typing import Annotated

import typer

from santiway_anomaly.cli.common import settings_or_exit


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: API_HOST, 0.0.0.0)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: API_PORT, 8001)", min=1, max=65535)] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Also write uvicorn's access log (the service logs every request itself, without query strings)"
        ),
    ] = False,
) -> None:
    """Serve the REST API (docs at /docs). The service owns the embedded store while it runs."""
    settings = settings_or_exit()
    import uvicorn

    from santiway_anomaly.api.main import create_app

    try:
        application = create_app(settings)
    except ValueError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    uvicorn.run(
        application,
        host=host or settings.api_host,
        port=port or settings.api_port,
        access_log=access_log,
        log_config=None,  # uvicorn's records go through loguru (cli/common.py): one log format
        log_level=settings.log_level.lower()
        if settings.log_level in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        else "info",
        # One process: the embedded store admits one. uvloop and httptools when installed.
        loop="auto",
        http="auto",
        workers=1,
    )
