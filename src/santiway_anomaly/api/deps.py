"""Typed dependencies (FastAPI template's `deps.py`): settings, the store, the worker pool.

chDB has no async client, so every store call runs in a bounded thread pool owned by the app
(`API_WORKERS_THREADS` threads): the event loop never blocks on ClickHouse. The dependencies
themselves are `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread
hop per dependency per request.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request

from santiway_anomaly.api.cache import AnswerCache
from santiway_anomaly.config import Settings
from santiway_anomaly.notify.dispatcher import Dispatcher
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.store import StoreWriteError

T = TypeVar("T")


class StoreRunner:
    """Runs `fn(store, ...)` in the worker pool and awaits the result."""

    # A refused write is reported by /health for this long after it happened (unless a write succeeds).
    FAULT_MEMORY_S = 300.0

    def __init__(self, store: Store | None, executor: ThreadPoolExecutor, error: str | None = None) -> None:
        self.store = store
        self.executor = executor
        self.error = error
        self._fault: tuple[float, str] | None = None

    def write_fault(self) -> str | None:
        if self._fault and time.monotonic() - self._fault[0] < self.FAULT_MEMORY_S:
            return self._fault[1]
        return None

    def clear_fault(self) -> None:
        self._fault = None

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        store = self.store
        if store is None:
            raise HTTPException(503, f"store unavailable: {self.error or 'not open'}", headers={"Retry-After": "10"})
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, functools.partial(fn, store, *args, **kwargs))
        except StoreWriteError as exc:
            self._fault = (time.monotonic(), str(exc))
            raise


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_runner(request: Request) -> StoreRunner:
    runner: StoreRunner = request.app.state.runner
    return runner


async def get_cache(request: Request) -> AnswerCache[bytes]:
    cache: AnswerCache[bytes] = request.app.state.cache
    return cache


async def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[StoreRunner, Depends(get_runner)]
CacheDep = Annotated[AnswerCache[bytes], Depends(get_cache)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
