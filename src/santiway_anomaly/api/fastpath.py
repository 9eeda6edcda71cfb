"""Answer repeated GETs of the read-heavy routes straight from memory, before FastAPI's routing.

A dashboard polls the same few `GET /anomalies` and `GET /anomalies/stats` URLs; parsing ten
query parameters and resolving the dependencies again for an answer already in memory costs more
than sending it. This middleware keeps each 200 answer under (path, raw query string, anomalies
generation) for API_CACHE_TTL seconds and, for a repeat, runs only what must run for every request:
the API-key check and the route's rate limit. Everything else, including every first request, goes
through FastAPI unchanged.

The limit is checked through public APIs only: the route's own limit string (the callable its
`@limiter.limit` decorator was given) parsed by `limits` (memoised), hit on slowapi's public storage strategy
(`limiter.limiter`) under the same (identity, path) key slowapi uses with its default `key_style="url"`,
so cached and routed requests draw on one count (tests/api/test_metrics_labels.py checks that they do).
The metrics label a cache hit by its path, which is its route template: these routes have no parameters.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from santiway_anomaly.api.cache import CACHE_LOOKUPS
from santiway_anomaly.api.metrics import ROUTE_KEY
from santiway_anomaly.api.operator import valid_operator
from santiway_anomaly.api.ratelimit import identity, limiter, parsed_limits, retry_after
from santiway_anomaly.api.security import KeyRing, SignInGuard, client_address
from santiway_anomaly.storage.anomalies import generation

_Entry = tuple[float, bytes]


# Labelled once: `labels()` costs more than the increment it selects.
_HITS = CACHE_LOOKUPS.labels(result="hit")


class CachedGets:
    def __init__(self, app: ASGIApp, *, limits: dict[str, Callable[[], str]], ttl: float, max_entries: int,
                 max_bytes: int = 0) -> None:
        self.app = app
        self.limits = limits  # path -> the callable giving that route's rate limit (as its decorator has it)
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # 0: bounded by max_entries only
        self._bytes = 0
        self._entries: OrderedDict[tuple[str, bytes, int], _Entry] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or path not in self.limits
            or self.ttl <= 0
            or self.max_entries <= 0
        ):
            await self.app(scope, receive, send)
            return
        cache_key = (path, scope.get("query_string", b""), generation())
        hit = self._entries.get(cache_key)
        if hit is None or hit[0] <= time.monotonic():
            await self._fill(cache_key, scope, receive, send)
            return
        # The two headers a cached answer needs, read straight from the scope (no Request object).
        given = operator = None
        for name, value in scope.get("headers", ()):  # the first of each, as Starlette's Headers.get
            if name == b"x-api-key" and given is None:
                given = value.decode("latin-1")
            elif name == b"x-operator" and operator is None:
                operator = value.decode("latin-1").strip()
        state = scope["app"].state
        ring: KeyRing = state.keyring
        client = scope.get("client")
        key_id: str | None = None
        if not ring.dev_mode:
            guard: SignInGuard | None = getattr(state, "signin_guard", None)
            blocked = guard is not None and guard.retry_after(client_address(client)) is not None
            key_id = ring.identify(given) if given and not blocked else None
            if key_id is None:  # FastAPI answers the 401 (or the blocked address's 429) with its message
                await self.app(scope, receive, send)
                return
        _HITS.inc()
        scope[ROUTE_KEY] = path
        if key_id and operator is not None and not valid_operator(operator):
            operator = None
        who = identity(key_id, operator if key_id else None, client[0] if client else "127.0.0.1")
        refusal = self._over_limit(who, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        body = hit[1]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _fill(self, cache_key: tuple[str, bytes, int], scope: Scope, receive: Receive, send: Send) -> None:
        status = 0
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if any(k == b"x-answer-cache" for k, _ in message.get("headers", ())):
                    status = -status  # a stale answer is sent but not kept
            elif message["type"] == "http.response.body" and status == 200:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if status == 200 and chunks:
            self._keep(cache_key, b"".join(chunks))

    def _keep(self, cache_key: tuple[str, bytes, int], body: bytes) -> None:
        now = time.monotonic()
        old = self._entries.pop(cache_key, None)
        self._bytes += len(body) - (len(old[1]) if old else 0)
        self._entries[cache_key] = (now + self.ttl * (0.8 + 0.2 * random.random()), body)  # jitter: AnswerCache
        # Oldest first: past the entry or byte budget, or expired (never served again: the next request
        # for it refills it).
        while self._entries:
            first_expires, first = next(iter(self._entries.values()))
            if (len(self._entries) <= self.max_entries and (not self.max_bytes or self._bytes <= self.max_bytes)
                    and first_expires > now):
                break
            self._entries.popitem(last=False)
            self._bytes -= len(first)

    def _over_limit(self, who: str, path: str) -> JSONResponse | None:
        """The 429 answer if this request exceeds the route's limit, else None (the hit is counted)."""
        if not limiter.enabled:
            return None
        args = (who, path)  # slowapi's key for the same route (key_style="url"): one count for both paths
        for item in parsed_limits(self.limits[path]()):
            if not limiter.limiter.hit(item, *args):
                retry = retry_after(item, args)
                return JSONResponse(
                    {"detail": f"Rate limit exceeded: {item}. Retry after {retry} s."},
                    status_code=429,
                    headers={"Retry-After": str(retry)},
                )
        return None
