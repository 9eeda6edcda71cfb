"""The OpenAPI document states the configured bounds (page size, look-back, devices per comparison)
and the MAC format, so that generated clients and fuzzers know exactly what is accepted.

/docs (Swagger UI) and /redoc are served from assets shipped inside a wheel (`fastapi-offline`'s static
folder), not from FastAPI's default CDN: a service on a closed network showed a blank page there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from santiway_anomaly.config import Settings

# The notations `analysis.ids.normalise_device_id` accepts (same as ingest), nothing else.
MAC_PATTERN = (
    r"^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$"
)


ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def _string_branch(schema: dict[str, Any]) -> dict[str, Any]:
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "string":
            return dict(branch)
    return schema


def _set(schema: dict[str, Any], **values: Any) -> None:
    target = _string_branch(schema) if "anyOf" in schema else schema
    target.update(values)
    if "anyOf" in schema:
        schema["anyOf"] = [target if b.get("type") == target.get("type") else b for b in schema["anyOf"]]


def install(app: FastAPI, settings: Settings) -> None:
    bounds: dict[str, dict[str, Any]] = {
        "hours": {"maximum": settings.api_max_hours},
        "limit": {"maximum": settings.api_max_limit},
        "device_id": {"pattern": MAC_PATTERN},
    }

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in doc.get("paths", {}).values():
            for op in operations.values():
                for param in op.get("parameters", []):
                    if param["name"] in bounds:
                        _set(param["schema"], **bounds[param["name"]])
        schemas = doc.get("components", {}).get("schemas", {})
        if "CompareRequest" in schemas:
            props = schemas["CompareRequest"]["properties"]
            props["hours"]["maximum"] = settings.api_max_hours
            props["device_ids"].update(maxItems=settings.api_max_compare_devices, uniqueItems=True)
            props["device_ids"]["items"]["pattern"] = MAC_PATTERN
        if "ExplainRequest" in schemas:
            props = schemas["ExplainRequest"]["properties"]
            _set(props["hours"], minimum=settings.window_size, maximum=settings.window_size)
            props["device_id"]["pattern"] = MAC_PATTERN
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc with local assets; the app must be built with docs_url=redoc_url=None."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
