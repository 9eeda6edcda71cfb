"""In-process fixed-window counters for the rate limiter, as a `limits` storage backend.

`limits`' own in-memory storage expires keys from a `threading.Timer` that it starts again after each
counted request once the previous one has run: at the service's request rates that is a new OS thread
for most requests (0.1-0.7 ms each, and the whole key table walked every time; measured in
benchmarks/api.py's cache-miss scenario). The limiter here counts the same fixed windows with no
thread: a key past its expiry reads as zero, and expired keys are swept on insert once the table has
grown, so memory stays bounded by the keys active within one window.

Registered with `limits` under the scheme `santiway-memory://` (a storage subclass names its schemes
in STORAGE_SCHEME: `limits`' documented way to add a backend).
"""

from __future__ import annotations

import threading
import time

from limits.storage import Storage

# Sweep expired keys when the table has grown by this many since the last sweep: amortised O(1) per hit.
SWEEP_EVERY = 1024


class WindowCounters(Storage):
    """Fixed-window counters: key -> (count, expiry time); thread-safe."""

    STORAGE_SCHEME = ["santiway-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = SWEEP_EVERY

    def __len__(self) -> int:
        """Keys held (expired ones included until the next sweep)."""
        return len(self._counts)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            count, expires = self._counts.get(key, (0, 0.0))
            if expires <= now:  # a new window starts with this hit
                count, expires = 0, now + expiry
            count += amount
            self._counts[key] = (count, expires)
            if len(self._counts) >= self._sweep_at:
                self._sweep(now)
            return count

    def get(self, key: str) -> int:
        count, expires = self._counts.get(key, (0, 0.0))
        return count if expires > time.time() else 0

    def get_expiry(self, key: str) -> float:
        count, expires = self._counts.get(key, (0, 0.0))
        return expires if expires > time.time() else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            cleared = len(self._counts)
            self._counts.clear()
            self._sweep_at = SWEEP_EVERY
            return cleared

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        self._sweep_at = len(self._counts) + SWEEP_EVERY
