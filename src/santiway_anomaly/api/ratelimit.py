"""Rate limits (slowapi): per API key, or per client address without a (valid) key.

Limits come from settings (`RATE_LIMIT_LIST`, `RATE_LIMIT_DETECT`, `RATE_LIMIT_DEFAULT`); route
decorators take callables so that `create_app(settings)` decides the numbers. Storage is in
memory (api/ratelimit_storage.py): the embedded store admits one service process, so one process
sees every request.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
import time
from collections import OrderedDict

from fastapi import Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse_many
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.responses import Response

from santiway_anomaly.api import ratelimit_storage  # noqa: F401 - registers the santiway-memory:// storage
from santiway_anomaly.api.operator import operator_name
from santiway_anomaly.config import Settings


class OperatorBuckets:
    """The operator names each key used in the last hour, at most `per_key` of them: a name beyond that
    gets no bucket of its own (its requests count in the key's bucket), so a key holder cannot escape
    a limit by sending a new X-Operator name with every request."""

    WINDOW_S = 3600.0

    def __init__(self, per_key: int = 32) -> None:
        self.per_key = per_key
        self._seen: dict[str, OrderedDict[str, float]] = {}
        self._lock = threading.Lock()

    def admit(self, key_id: str, operator: str, now: float | None = None) -> bool:
        """Whether `operator` has (or now gets) a bucket of its own under `key_id`."""
        now = time.monotonic() if now is None else now
        with self._lock:
            names = self._seen.setdefault(key_id, OrderedDict())
            while names and next(iter(names.values())) < now - self.WINDOW_S:
                names.popitem(last=False)
            if operator in names:
                names.move_to_end(operator)
            elif len(names) >= self.per_key:
                return False
            names[operator] = now
            return True

    def reset(self, per_key: int) -> None:
        with self._lock:
            self.per_key = per_key
            self._seen.clear()


operator_buckets = OperatorBuckets()


def identity(key_id: str | None, operator: str | None, address: str) -> str:
    """Who a limit applies to: the id of a valid key and the operator the caller names (the dashboard's
    signed-in user: one bucket each, up to RATE_LIMIT_OPERATORS_PER_KEY names), else the client address."""
    if key_id:
        if operator and operator_buckets.admit(key_id, operator):
            return f"key:{key_id}/{operator}"
        return f"key:{key_id}"
    return f"ip:{address}"


def client_identity(request: Request) -> str:
    """`identity` of a routed request (slowapi's key function); the key id is set by `require_api_key`."""
    key_id = getattr(request.state, "api_key_id", None)
    return identity(key_id, operator_name(request) if key_id else None, get_remote_address(request))


# Counters in this process (api/ratelimit_storage.py): `limits`' own memory storage starts a timer thread
# per request at these rates.
limiter = Limiter(key_func=client_identity, headers_enabled=False, in_memory_fallback_enabled=True,
                  storage_uri="santiway-memory://")

_limits: dict[str, str] = {"list": "100/minute", "detect": "10/minute", "default": "300/minute"}


def list_limit() -> str:
    return _limits["list"]


def detect_limit() -> str:
    return _limits["detect"]


def default_limit() -> str:
    return _limits["default"]


# slowapi re-reads a callable limit on every request: it calls inspect.signature() on the provider and
# on the key function. Precomputed signatures (inspect honours __signature__) cut that per-request work.
# slowapi's own parsing of the limit string is left alone (patching its module would lean on its
# internals; measured: 8.5 us per parse, against milliseconds per routed request).
for _fn in (client_identity, list_limit, detect_limit, default_limit):
    _fn.__signature__ = inspect.signature(_fn)  # type: ignore[union-attr]
# Our own fast path (api/fastpath.py) checks cached answers' limits itself: its parses are memoised.
parsed_limits = functools.lru_cache(maxsize=64)(parse_many)


def configure(settings: Settings) -> None:
    """Apply the settings' limits (checked here, so a typo fails at start-up, not per request)."""
    chosen = {
        "list": settings.rate_limit_list,
        "detect": settings.rate_limit_detect,
        "default": settings.rate_limit_default,
    }
    for name, value in chosen.items():
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(
                f"RATE_LIMIT_{name.upper()}={value!r} is not a rate limit such as "
                f"'100/minute' or '10/second;1000/hour': {exc}"
            ) from None
    _limits.update(chosen)
    operator_buckets.reset(settings.rate_limit_operators_per_key)
    limiter.enabled = settings.rate_limit_enabled
    limiter.reset()


def retry_after_seconds(request: Request) -> int:
    current = getattr(request.state, "view_rate_limit", None)
    if not current:
        return 60
    item, args = current
    return retry_after(item, args)


def retry_after(item: RateLimitItem, args: tuple[str, ...]) -> int:
    """Seconds until the window of `item` for `args` (identity, path) frees a request."""
    reset_time, _remaining = limiter.limiter.get_window_stats(item, *args)
    return max(1, math.ceil(reset_time - time.time()))


async def rate_limit_exceeded(request: Request, exc: Exception) -> Response:
    """429 with `Retry-After` (seconds until the window frees a request)."""
    limit = exc.detail if isinstance(exc, RateLimitExceeded) else "rate limit"
    retry = retry_after_seconds(request)
    return JSONResponse(
        {"detail": f"Rate limit exceeded: {limit}. Retry after {retry} s."},
        status_code=429,
        headers={"Retry-After": str(retry)},
    )
