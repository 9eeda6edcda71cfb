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
import re
import threading
import time
from collections import OrderedDict, deque
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

AUTH_FAILURES = Counter(
    "anomaly_detection_auth_failures",
    "Requests and WebSocket connections refused for their API key, by reason (missing, invalid, blocked)",
    ["reason"],
)
TOO_MANY_FAILURES = "Too many failed sign-ins from this address; retry after the Retry-After seconds."

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


class SignInGuard:
    """Failed sign-ins per client address in a sliding window (API_AUTH_MAX_FAILURES per
    API_AUTH_FAILURE_WINDOW_S). Past the limit the address gets 429 for every keyed request, a right
    key included, until its failures age out: otherwise the 429/200 difference would still answer
    the guess. Memory is bounded: the least recently failing addresses are forgotten first."""

    MAX_ADDRESSES = 100_000

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str) -> int | None:
        """Seconds until this address may try again, or None when it is not blocked."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if times is None or len(times) < self.max_failures:
                return None
            return max(1, int(times[-self.max_failures] + self.window_s - now + 0.999))

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if times is None:
                times = self._failures[address] = deque(maxlen=self.max_failures)
            times.append(now)
            self._failures.move_to_end(address)
            while len(self._failures) > self.MAX_ADDRESSES:
                self._failures.popitem(last=False)


def client_address(scope_client: Any) -> str:
    return str(scope_client[0]) if scope_client else "unknown"


def check_key(guard: SignInGuard | None, ring: KeyRing, key: str | None, address: str) -> tuple[str | None, str]:
    """(key id, "") on success, else (None, reason) with reason "blocked", "missing" or "invalid"."""
    if guard is not None and guard.retry_after(address) is not None:
        AUTH_FAILURES.labels("blocked").inc()
        return None, "blocked"
    key_id = ring.identify(key) if key else None
    if key_id is None:
        reason = "missing" if not key else "invalid"
        AUTH_FAILURES.labels(reason).inc()
        if guard is not None:
            guard.failed(address)
        return None, reason
    return key_id, ""


async def require_api_key(request: Request, key: Annotated[str | None, Depends(api_key_header)]) -> str | None:
    """Dependency: the caller's key id (None in development mode); 401 otherwise, 429 after too many
    failures from the caller's address."""
    ring: KeyRing = request.app.state.keyring
    if ring.dev_mode:
        return None
    guard: SignInGuard | None = getattr(request.app.state, "signin_guard", None)
    address = client_address(request.client)
    key_id, reason = check_key(guard, ring, key, address)
    if key_id is None:
        if reason == "blocked" and guard is not None:
            retry = guard.retry_after(address) or 1
            raise HTTPException(429, TOO_MANY_FAILURES, headers={"Retry-After": str(retry)})
        raise HTTPException(401, MISSING_KEY if reason == "missing" else INVALID_KEY,
                            headers={"WWW-Authenticate": "APIKey"})
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


# key=value pairs in a query string or anywhere in a log message whose name says "key", "token" or
# "secret" (api_key, apikey, x-api-key, access_token, ...): the value is replaced.
_SECRET_PARAM = re.compile(r"(?i)([?&;\s\"']?[\w.-]*(?:key|token|secret|password)[\w.-]*=)[^&\s\"'<>]+")
REDACTED = "[redacted]"


class Redactor:
    """Removes secrets from log text: any `...key=VALUE` parameter, and the configured keys themselves
    wherever they appear (a key pasted into a header name, a path, an error message)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets = sorted({s for s in (secrets or []) if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if "=" in text:
            text = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


class RedactFilter(logging.Filter):
    """A stdlib logging filter that redacts the formatted message (uvicorn's access and error logs,
    including its `"WebSocket /ws/notifications/?api_key=..." [accepted]` lines)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        # Arguments one by one first: uvicorn's access formatter unpacks record.args itself.
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as it is rather than dropped
            return True
        clean = self.redact(message)
        if clean != message:  # a secret inside a non-text argument (an exception, a URL object)
            record.msg, record.args = clean, ()
        return True


# Loggers that may carry a URL or a header: uvicorn's access and error logs (WebSocket lines are
# logged on uvicorn.error), the websockets library, and the root logger's handlers.
PROTECTED_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "websockets",
                     "websockets.server", "websockets.protocol", "fastapi", "starlette", "httpx")


def protect_logs(secrets: list[str] | None = None) -> Redactor:
    """Install the redaction on every logger and handler named above (idempotent), and on loguru.

    A filter on a logger applies only to records created on that logger, not to records its
    children propagate, so each logger gets its own; handlers get one too, for the rest."""
    from loguru import logger as loguru_logger

    redact = Redactor(secrets)
    for name in PROTECTED_LOGGERS:
        log = logging.getLogger(name)
        for target in (log, *log.handlers):
            for f in [f for f in target.filters if isinstance(f, RedactFilter)]:
                target.removeFilter(f)
            target.addFilter(RedactFilter(redact))

    def patch(record: Any) -> None:
        record["message"] = redact(record["message"])

    loguru_logger.configure(patcher=patch)
    return redact


def protect_access_log() -> None:
    """Kept for callers of the old name: redaction of query-string secrets on every logger."""
    protect_logs()


DEV_MODE_BANNER = (
    "DEVELOPMENT MODE: VALID_API_KEYS is empty, so NO API key is checked and anyone who can reach "
    "this port reads device MACs and locations. Set VALID_API_KEYS before exposing the service."
)
