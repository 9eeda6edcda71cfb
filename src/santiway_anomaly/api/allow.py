"""405 answers name every method the path has (`Allow`), not only those of the route that matched first.

Starlette answers a method a route does not take with the methods of that one route, so
`PUT /devices/{id}/known` said `Allow: POST` although DELETE is served at the same path by another route.
The methods of each path come from the app's OpenAPI document (the public description of every route).
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], bool, frozenset[str]]]:
    """(pattern, is a literal path, methods) per documented path."""
    table: list[tuple[re.Pattern[str], bool, frozenset[str]]] | None = getattr(app.state, "path_methods", None)
    if table is None:
        table = []
        for path, operations in app.openapi().get("paths", {}).items():
            methods = {m.upper() for m in operations if m in _HTTP_METHODS}
            if "GET" in methods:
                methods.add("HEAD")  # Starlette serves HEAD wherever it serves GET
            table.append((compile_path(path)[0], "{" not in path, frozenset(methods)))
        app.state.path_methods = table
    return table


def allowed_methods(request: Request) -> list[str]:
    matches = [(literal, methods) for pattern, literal, methods in _path_methods(request.app)
               if pattern.match(request.url.path)]
    # A literal path is routed before any template that also fits it (/anomalies/detect-and-notify is no
    # anomaly id): when one matches, only its methods are served there.
    if any(literal for literal, _ in matches):
        matches = [(literal, methods) for literal, methods in matches if literal]
    return sorted(set().union(*(methods for _, methods in matches)))


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer to an HTTPException, with a complete `Allow` on a 405."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        methods = allowed_methods(request)
        if methods:
            exc = StarletteHTTPException(405, exc.detail, {**(exc.headers or {}), "Allow": ", ".join(methods)})
    return await http_exception_handler(request, exc)
