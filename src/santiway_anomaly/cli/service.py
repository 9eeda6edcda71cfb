"""Commands that read or act work while the service runs: the embedded store admits one process, so when
the running service owns it, they go through its REST API instead (same output), and say which they used.

The service is looked for at DASHBOARD_API_URL (default http://127.0.0.1:8001, the address `serve` binds)
with DASHBOARD_API_KEY, else the first of VALID_API_KEYS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from santiway_anomaly.cli.common import EXIT_STORE, store_in_use
from santiway_anomaly.config import Settings
from santiway_anomaly.dashboard.client import ApiClient, ApiError, effective_key
from santiway_anomaly.storage import Store, StoreError, StoreLockedError


def say(message: str) -> None:
    """Which way a command went: on stderr, so stdout (a table, --json) stays the same either way."""
    typer.secho(message, err=True, fg=typer.colors.CYAN)


@contextmanager
def store_or_service(settings: Settings) -> Iterator[Store | ApiClient]:
    """The store when this process can open it; the running service's API when the service owns it."""
    try:
        store = Store.open(settings)
    except StoreLockedError as exc:
        api = ApiClient(settings.dashboard_api_url, effective_key(settings), settings.dashboard_timeout_s)
        try:
            api.health()
        except ApiError as api_exc:
            api.close()
            typer.secho(f"error: {exc}\nand the service at {settings.dashboard_api_url} does not answer: {api_exc}",
                        err=True, fg=typer.colors.RED)
            raise typer.Exit(EXIT_STORE) from None
        say(f"via the running service at {settings.dashboard_api_url} (it owns the store {settings.chdb_path})")
        try:
            yield api
        except ApiError as api_exc:
            typer.secho(f"error: {api_exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(EXIT_STORE) from None
        finally:
            api.close()
        return
    except StoreError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_STORE) from None
    say(f"via the store {store.target}")
    with store_in_use(store):
        yield store
