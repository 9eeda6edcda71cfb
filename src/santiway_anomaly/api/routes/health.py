"""GET /health (and the specification's /anomalies/health): can the service do its job?"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from santiway_anomaly import __version__
from santiway_anomaly.api.cache import AnswerCache
from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.model import model_status
from santiway_anomaly.api.schemas import HealthPublic
from santiway_anomaly.api.security import SignInGuard, check_key, client_address
from santiway_anomaly.config import Settings
from santiway_anomaly.storage.migrations import current_version
from santiway_anomaly.storage.queries.health import newest_sighting, ping
from santiway_anomaly.storage.store import Store

router = APIRouter(tags=["health"])

DEV_WARNING = "development mode: VALID_API_KEYS is empty, API keys are not checked"
# A probe that takes longer than this counts as "store unreachable".
PROBE_TIMEOUT_S = 5.0


def _probe(store: Store) -> dict[str, Any]:
    ping(store)
    return {"version": current_version(store), "latest": newest_sighting(store)}


async def health_report(request: Request, runner: StoreDep, settings: SettingsDep) -> tuple[int, dict[str, Any]]:
    warnings: list[str] = []
    if settings.dev_mode:
        warnings.append(DEV_WARNING)
    store_info: dict[str, Any] = {"reachable": False, "target": "", "schema_version": None, "error": None}
    latest: datetime | None = None
    if runner.store is None:
        store_info["error"] = runner.error or "store not open"
    else:
        store_info["target"] = runner.store.target
        try:
            probe = await asyncio.wait_for(runner(_probe), PROBE_TIMEOUT_S)
            store_info.update(reachable=True, schema_version=probe["version"])
            latest = probe["latest"]
        except TimeoutError:
            store_info["error"] = f"store did not answer within {PROBE_TIMEOUT_S:.0f} s"
        except Exception as exc:  # any failure to reach the store is the answer, not a crash
            store_info["error"] = f"{type(exc).__name__}: {exc}"
    loaded, reason = model_status(settings)
    now = datetime.now(UTC)
    age = (now - latest).total_seconds() if latest else None
    stale = age is None or age > settings.api_stale_after_hours * 3600
    if age is None:
        warnings.append("no sightings stored yet")
    elif stale:
        warnings.append(f"newest sighting is {age / 3600:.1f} h old (> {settings.api_stale_after_hours:g} h)")
    if not loaded:
        warnings.append(f"ML model not loaded: {reason}")
    fault = runner.write_fault()
    if fault:
        store_info["write_error"] = fault
        warnings.append(f"the store refuses writes: {fault}")
    degraded = stale or not loaded or bool(fault)
    status = "unhealthy" if not store_info["reachable"] else ("degraded" if degraded else "healthy")
    body = {
        "status": status,
        "version": __version__,
        "store": store_info,
        "model_loaded": loaded,
        "model_reason": reason,
        "latest_sighting": latest,
        "data_age_seconds": age,
        "data_stale": stale,
        "dev_mode": settings.dev_mode,
        "warnings": warnings,
        "checked_at": now,
    }
    return (503 if status == "unhealthy" else 200), body


_DOC = (
    "Store reachable and schema version, writes refused (full disk, read-only), ML model loaded (or "
    "why not), data freshness (newest sighting), development-mode warning. 200 when the service can "
    "work (`healthy` or `degraded`), 503 with the reasons when it cannot. Without a valid X-API-Key "
    "(production mode) only `status` and `checked_at` are sent. Reused for up to API_CACHE_TTL seconds."
)


async def _health(request: Request, runner: StoreDep, settings: SettingsDep) -> Response:
    cache: AnswerCache[tuple[int, bytes]] = request.app.state.health_cache

    async def compute() -> tuple[int, bytes]:
        code, body = await health_report(request, runner, settings)
        return code, HealthPublic.model_validate(body).model_dump_json().encode()

    code, payload = await cache.get_or_compute("health", compute)
    if not _may_see_details(request, settings):
        body = json.loads(payload)
        payload = json.dumps({"status": body["status"], "checked_at": body["checked_at"]}).encode()
    return Response(payload, status_code=code, media_type="application/json")


def _may_see_details(request: Request, settings: Settings) -> bool:
    """Development mode, or a valid X-API-Key. A wrong key counts as a failed sign-in (otherwise
    /health would answer key guesses without limit)."""
    if settings.dev_mode:
        return True
    key = request.headers.get("x-api-key")
    if not key:
        return False
    guard: SignInGuard | None = getattr(request.app.state, "signin_guard", None)
    key_id, _ = check_key(guard, request.app.state.keyring, key, client_address(request.client))
    return key_id is not None


_RESPONSES: dict[int | str, dict[str, Any]] = {503: {"model": HealthPublic, "description": "Unhealthy"}}

router.add_api_route(
    "/health",
    _health,
    methods=["GET"],
    response_model=HealthPublic,
    summary="Health check",
    description=_DOC,
    responses=_RESPONSES,
    response_class=JSONResponse,
)
router.add_api_route(
    "/anomalies/health",
    _health,
    methods=["GET"],
    response_model=HealthPublic,
    summary="Health check (specification's path)",
    description=_DOC,
    responses=_RESPONSES,
    response_class=JSONResponse,
    operation_id="anomalies_health",
)
