"""Rate limits (slowapi): per API key, or per client address without a (valid) key.

Limits come from settings (`RATE_LIMIT_LIST`, `RATE_LIMIT_DETECT`, `RATE_LIMIT_DEFAULT`); route
decorators take callables so that `create_app(settings)` decides the numbers. Storage is in
memory: the embedded store admits one service process, so one process sees every request.
"""

from __future__ import annotations

import inspect
import math
import time

from fastapi import Request
from fastapi.responses import JSONResponse
from limits import parse_many
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.responses import Response

from santiway_anomaly.api.operator import operator_name
from santiway_anomaly.config import Settings


def client_identity(request: Request) -> str:
    """Who a limit applies to: the id of a valid key (set by `require_api_key`) and the operator the
    caller names (the dashboard's signed-in user: one bucket each), else the address."""
    key_id = getattr(request.state, "api_key_id", None)
    if key_id:
        operator = operator_name(request)
        return f"key:{key_id}/{operator}" if operator else f"key:{key_id}"
    return f"ip:{get_remote_address(request)}"


limiter = Limiter(key_func=client_identity, headers_enabled=False, in_memory_fallback_enabled=True)

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
    limiter.enabled = settings.rate_limit_enabled
    limiter.reset()


def retry_after_seconds(request: Request) -> int:
    current = getattr(request.state, "view_rate_limit", None)
    if not current:
        return 60
    item, args = current
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
