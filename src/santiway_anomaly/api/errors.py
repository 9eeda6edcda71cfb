"""Error answers: 422 in FastAPI's validation shape, store failures as 503, never a stack trace."""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.responses import Response

from santiway_anomaly.api.schemas import ErrorPublic

# Documented on every route, so clients (and schemathesis) know every answer's shape.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorPublic, "description": "The store is unavailable"},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Missing or invalid X-API-Key (production mode)"},
    400: {"model": ErrorPublic, "description": "An API key was sent in the URL query (refused)"},
}
LIMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorPublic, "description": "Rate limit exceeded; see the Retry-After header"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic, "description": "Unknown device"}}


def invalid(location: str, name: str, message: str, value: Any = None) -> NoReturn:
    """Raise a 422 that looks exactly like FastAPI's own validation errors."""
    raise RequestValidationError([{"loc": (location, name), "msg": message, "type": "value_error", "input": value}])


async def unhandled(request: Request, exc: Exception) -> Response:
    # The trace goes to the log, never to the client.
    logger.opt(exception=exc).error("unhandled error on {} {}", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the service log has the details"}, status_code=500)


async def store_failure(request: Request, exc: Exception) -> Response:
    logger.warning("store failure on {} {}: {}", request.method, request.url.path, exc)
    retry = getattr(getattr(request.app.state, "settings", None), "api_store_retry_after_s", 30)
    # Retry-After: a client backs off instead of looping; the connection stays open for the retry.
    return JSONResponse({"detail": f"store unavailable: {exc}"}, status_code=503,
                        headers={"Retry-After": str(retry)})
