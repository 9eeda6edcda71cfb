"""What every command shares: settings, the store, logging, and clean failure messages."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from loguru import logger

from santiway_anomaly.config import Settings, SettingsError, load_settings
from santiway_anomaly.storage import Store, StoreError, StoreLockedError
from santiway_anomaly.storage.store import write_fault

EXIT_CONFIG = 2
EXIT_STORE = 3


LOG_FORMAT = "{time:HH:mm:ss} | {level: <7} | {message}"


class _ToLoguru(logging.Handler):
    """Standard-library logging (uvicorn, httpx, ...) written through loguru: one log format on the terminal
    (loguru's documented interception recipe)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info).log(level, "{}: {}", record.name, record.getMessage())


def _to_stderr(line: Any) -> None:
    sys.stderr.write(str(line))


def configure_logging(level: str) -> None:
    logger.remove()
    # The sink looks sys.stderr up at each line: a caller that swaps the stream (a test runner) gets it
    # in its current state, never a closed one.
    logger.add(_to_stderr, level=level, format=LOG_FORMAT)
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.getLevelName(level) if level in _STD_LEVELS
                        else logging.INFO, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        std = logging.getLogger(name)
        std.handlers = []
        std.propagate = True


_STD_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG) from None
    configure_logging(settings.log_level)
    return settings


@contextmanager
def open_store(settings: Settings, *, apply_schema: bool = True) -> Iterator[Store]:
    """Open the store or exit with a one-paragraph reason (never a stack trace)."""
    try:
        store = Store.open(settings, apply_schema=apply_schema)
    except (StoreLockedError, StoreError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_STORE) from None
    except Exception as exc:  # a read-only or full data directory fails inside chDB or the migrations
        where = settings.chdb_path if settings.embedded else "the server"
        sentence = write_fault(exc) or f"cannot open the store at {where}"
        typer.secho(f"error: {sentence} ({type(exc).__name__})", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_STORE) from None
    with store_in_use(store):
        yield store


@contextmanager
def store_in_use(store: Store) -> Iterator[Store]:
    """Run a command on an open store and close it after. The store going away (or staying away) while
    the command runs ends it like a store that could not be opened: exit 3, one sentence, no traceback."""
    try:
        yield store
    except StoreError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_STORE) from None
    finally:
        store.close()
