"""A short-lived answer cache with single-flight, keyed by the normalised query.

The key also carries the anomalies generation (bumped on every save in this process), so a
detection run is visible at once; the TTL only bounds staleness from writers in other processes
(a ClickHouse server shared with other tools). Concurrent misses on one key run the query once.

An answer past its TTL but younger than twice the TTL is still served at once, marked stale, while
one background task recomputes it: a busy key never makes its callers wait for the store.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from loguru import logger
from prometheus_client import Counter

V = TypeVar("V")

CACHE_LOOKUPS = Counter("anomaly_detection_api_cache_total", "API answer cache lookups", ["result"])


class AnswerCache(Generic[V]):
    def __init__(self, ttl: float, max_entries: int, *, max_bytes: int = 0,
                 size: Callable[[V], int] | None = None) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # 0: bounded by max_entries only
        self._size = size or (lambda _value: 0)
        self._bytes = 0
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[V]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    @property
    def held_bytes(self) -> int:
        """Bytes of the answers held now (as `size` counts them)."""
        return self._bytes

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        return (await self.lookup(key, compute))[0]

    async def lookup(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """(answer, fresh): from memory when possible, else computed once for all concurrent callers."""
        if self.ttl <= 0 or self.max_entries <= 0:
            return await compute(), True
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None:
            expires, value = hit
            if expires > now:
                CACHE_LOOKUPS.labels(result="hit").inc()
                return value, True
            if now < expires + self.ttl:
                CACHE_LOOKUPS.labels(result="stale").inc()
                if key not in self._inflight:
                    self._refresh(key, compute)
                return value, False
        pending = self._inflight.get(key)
        if pending is not None:
            CACHE_LOOKUPS.labels(result="shared").inc()
            return await asyncio.shield(pending), True
        CACHE_LOOKUPS.labels(result="miss").inc()
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(value)
        self._store(key, value)
        return value, True

    def _refresh(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> None:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future

        async def run() -> None:
            try:
                value = await compute()
            except BaseException as exc:  # the stale answer stays until it is too old
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                    raise
                logger.warning("background refresh of a cached answer failed: {}", exc)
                future.set_exception(exc)
                future.exception()
                return
            finally:
                self._inflight.pop(key, None)
            future.set_result(value)
            self._store(key, value)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    def _store(self, key: Hashable, value: V) -> None:
        # A little jitter: answers cached together (a dashboard's first load) do not all expire,
        # and hit the store, in the same instant.
        now = time.monotonic()
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= self._size(old[1])
        self._entries[key] = (now + self.ttl * (0.8 + 0.2 * random.random()), value)
        self._bytes += self._size(value)
        # Oldest first: past the entry or byte budget, or too old even to be served stale (held for
        # nothing: a stream of distinct queries would otherwise keep max_entries answers alive).
        while self._entries:
            first_expires, first = next(iter(self._entries.values()))
            if (len(self._entries) <= self.max_entries
                    and (not self.max_bytes or self._bytes <= self.max_bytes)
                    and first_expires + self.ttl > now):
                break
            self._entries.popitem(last=False)
            self._bytes -= self._size(first)
