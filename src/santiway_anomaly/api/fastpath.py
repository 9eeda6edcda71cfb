"""Answer repeated GETs of the read-heavy routes straight from memory, before FastAPI's routing.

A dashboard polls the same few `GET /anomalies` and `GET /anomalies/stats` URLs; parsing ten
query parameters and resolving the dependencies again for an answer already in memory costs more
than sending it. This middleware keeps each 200 answer under (path, raw query string, anomalies
generation) for API_CACHE_TTL seconds and, for a repeat, runs only what must run for every request:
the API-key check and the route's rate limit (slowapi's own check, so counts are shared with the
routed path). Everything else, including every first request, goes through FastAPI unchanged.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slowapi.errors import RateLimitExceeded
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from santiway_anomaly.api.cache import CACHE_LOOKUPS
from santiway_anomaly.api.ratelimit import limiter, rate_limit_exceeded
from santiway_anomaly.api.security import KeyRing
from santiway_anomaly.storage.anomalies import generation

_Entry = tuple[float, bytes]


class CachedGets:
    def __init__(self, app: ASGIApp, *, endpoints: dict[str, Callable[..., Any]], ttl: float, max_entries: int) -> None:
        self.app = app
        self.endpoints = endpoints  # path -> the (rate-limited) endpoint function serving it
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, bytes, int], _Entry] = OrderedDict()
        self._routes: dict[str, Route] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or path not in self.endpoints
            or self.ttl <= 0
            or self.max_entries <= 0
        ):
            await self.app(scope, receive, send)
            return
        ring: KeyRing = scope["app"].state.keyring
        key_id: str | None = None
        if not ring.dev_mode:
            given = _header(scope, b"x-api-key")
            key_id = ring.identify(given) if given else None
            if key_id is None:  # FastAPI answers the 401 with the specification's message
                await self.app(scope, receive, send)
                return
        cache_key = (path, scope.get("query_string", b""), generation())
        hit = self._entries.get(cache_key)
        if hit is None or hit[0] <= time.monotonic():
            await self._fill(cache_key, scope, receive, send)
            return
        CACHE_LOOKUPS.labels(result="hit").inc()
        request = Request(scope, receive)
        if key_id:
            request.state.api_key_id = key_id
        scope["route"] = self._route(scope, path)
        if limiter.enabled:
            try:
                limiter._check_request_limit(request, self.endpoints[path], False)
            except RateLimitExceeded as exc:
                response = await rate_limit_exceeded(request, exc)
                await response(scope, receive, send)
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
            ttl = self.ttl * (0.8 + 0.2 * random.random())  # jitter: see AnswerCache._store
            self._entries[cache_key] = (time.monotonic() + ttl, b"".join(chunks))
            self._entries.move_to_end(cache_key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _route(self, scope: Scope, path: str) -> Route | None:
        # The metrics label the request by its route, as if FastAPI had routed it.
        if path not in self._routes:
            for route in scope["app"].routes:
                if isinstance(route, Route) and route.path == path and "GET" in (route.methods or ()):
                    self._routes[path] = route
        return self._routes.get(path)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
