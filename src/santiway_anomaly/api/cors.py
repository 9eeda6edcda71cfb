"""CORS only where it applies: requests that carry an `Origin` header.

Starlette's CORSMiddleware answers preflights and adds the CORS headers to responses for an
`Origin`; a request without one (a dashboard's server-side calls, scripts, the host application)
passes through it unchanged, but only after it has built a Headers object and looked (about 5 us of
the ~30 us a cached answer costs, benchmarks/api.py). This pure ASGI gate scans the raw headers
for `origin` and hands only those requests to the CORSMiddleware: what every response carries is
the same as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class CorsForOrigins:
    def __init__(self, app: ASGIApp, *, allow_origins: Sequence[str] = (), allow_methods: Sequence[str] = ("GET",),
                 allow_headers: Sequence[str] = (), expose_headers: Sequence[str] = (), max_age: int = 600) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=allow_origins, allow_methods=allow_methods,
                                   allow_headers=allow_headers, expose_headers=expose_headers, max_age=max_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, _ in scope.get("headers", ()):
                if name == b"origin":
                    await self.cors(scope, receive, send)
                    return
        await self.app(scope, receive, send)
