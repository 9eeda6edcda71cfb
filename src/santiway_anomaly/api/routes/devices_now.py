"""GET /devices/now: devices heard in the last N minutes, per folder (new, known, fixture; stable or
randomized MAC; first and last seen; signal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, invalid
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas_devices import DevicesNowPublic
from santiway_anomaly.api.security import require_api_key

router = APIRouter(
    prefix="/devices",
    tags=["analysis"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES},
)

MAX_MINUTES = 24 * 60


@router.get("/now", response_model=DevicesNowPublic, summary="Devices heard in the last minutes")
@limiter.limit(default_limit)
async def devices_now_route(
    request: Request,
    runner: StoreDep,
    settings: SettingsDep,
    minutes: Annotated[float, Query(gt=0, le=MAX_MINUTES, description="Look-back in minutes (up to a day)")] = 15,
    folder: Annotated[str | None, Query(max_length=256, description="Only this folder")] = None,
    limit: Annotated[int, Query(ge=1, description="At most this many rows, newest first, up to API_MAX_LIMIT")] = 1000,
) -> DevicesNowPublic:
    """Per folder and device: status (known, fixture, new: never seen on an earlier day, or seen before),
    MAC kind, first and last sighting in the window, sightings, sensors and signal. `truncated` says
    more devices were heard than `limit`."""
    if limit > settings.api_max_limit:
        invalid("query", "limit", f"limit must be between 1 and {settings.api_max_limit} (API_MAX_LIMIT)", limit)
    from santiway_anomaly.analysis.devices_now import devices_now  # pandas: loaded when first asked for

    result = await runner(devices_now, settings, minutes, folder, limit)
    return DevicesNowPublic.model_validate(result)
