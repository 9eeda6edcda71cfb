"""API keys: only in the `X-API-Key` header, compared in constant time, never logged.

`VALID_API_KEYS` empty = development mode (nothing checked, announced at start-up and in
`/health`). Otherwise every route that depends on `require_api_key` answers 401 without a valid
key, with the specification's messages. A key in the URL query is refused outright, whatever the
mode: URLs end up in proxy and access logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Scope, Send

MISSING_KEY = "Missing API key. Provide X-API-Key header."
INVALID_KEY = "Invalid API key"
KEY_IN_URL = "API keys are not accepted in the URL (api_key=...): send the key in the X-API-Key header."

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="API key (VALID_API_KEYS). Not needed in development mode (VALID_API_KEYS empty).",
)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyRing:
    """The valid keys, kept as digests; a lookup compares against all of them in constant time."""

    def __init__(self, keys: list[str]) -> None:
        self._digests = [_digest(k) for k in keys]

    @property
    def dev_mode(self) -> bool:
        return not self._digests

    def identify(self, key: str) -> str | None:
        """A stable, non-secret id of the key (for rate limits), or None if it is not valid."""
        probe = _digest(key)
        match: bytes | None = None
        for digest in self._digests:  # no early exit: time does not depend on which key matched
            if hmac.compare_digest(probe, digest):
                match = digest
        return match.hex()[:16] if match is not None else None


async def require_api_key(request: Request, key: Annotated[str | None, Depends(api_key_header)]) -> str | None:
    """Dependency: the caller's key id (None in development mode); 401 otherwise."""
    ring: KeyRing = request.app.state.keyring
    if ring.dev_mode:
        return None
    if not key:
        raise HTTPException(401, MISSING_KEY, headers={"WWW-Authenticate": "APIKey"})
    key_id = ring.identify(key)
    if key_id is None:
        raise HTTPException(401, INVALID_KEY, headers={"WWW-Authenticate": "APIKey"})
    request.state.api_key_id = key_id  # the rate limiter's identity for this caller
    return key_id


ApiKeyDep = Annotated[str | None, Depends(require_api_key)]


def query_has_key(query_string: bytes) -> bool:
    if b"key" not in query_string.lower():
        return False
    names = {
        name.lower().replace("-", "_") for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    }
    return bool(names & {"api_key", "apikey", "x_api_key"})


class RefuseKeyInQuery:
    """ASGI middleware: 400 for any HTTP request carrying an API key in its query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and query_has_key(scope.get("query_string", b"")):
            body = json.dumps({"detail": KEY_IN_URL}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class StripQueryFilter(logging.Filter):
    """Drops the query string from uvicorn's access-log lines (it may carry secrets)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def protect_access_log() -> None:
    """Install `StripQueryFilter` on uvicorn's access logger once (it is on by default in `uvicorn ...`)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, StripQueryFilter) for f in access.filters):
        access.addFilter(StripQueryFilter())


DEV_MODE_BANNER = (
    "DEVELOPMENT MODE: VALID_API_KEYS is empty, so NO API key is checked and anyone who can reach "
    "this port reads device MACs and locations. Set VALID_API_KEYS before exposing the service."
)
