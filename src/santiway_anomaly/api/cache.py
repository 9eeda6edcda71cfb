"""A short-lived answer cache with single-flight, keyed by the normalised query.

The key also carries the anomalies generation (bumped on every save in this process), so a
detection run is visible at once; the TTL only bounds staleness from writers in other processes
(a ClickHouse server shared with other tools). Concurrent misses on one key run the query once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from prometheus_client import Counter

V = TypeVar("V")

CACHE_LOOKUPS = Counter("anomaly_detection_api_cache_total", "API answer cache lookups", ["result"])


class AnswerCache(Generic[V]):
    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[V]] = {}

    def clear(self) -> None:
        self._entries.clear()

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        if self.ttl <= 0 or self.max_entries <= 0:
            return await compute()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            CACHE_LOOKUPS.labels(result="hit").inc()
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            CACHE_LOOKUPS.labels(result="shared").inc()
            return await asyncio.shield(pending)
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
        self._entries[key] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value
