"""The OpenAPI document states the configured bounds (page size, look-back, devices per comparison)
and the MAC format, so that generated clients and fuzzers know exactly what is accepted."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from santiway_anomaly.config import Settings

# The notations `analysis.ids.normalise_device_id` accepts (same as ingest), nothing else.
MAC_PATTERN = (
    r"^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$"
)


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
