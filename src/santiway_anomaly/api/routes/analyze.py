"""POST /analyze/device/{device_id}: one device's profile and its current ML score."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from santiway_anomaly.analysis.device import UnknownDeviceError, device_profile
from santiway_anomaly.analysis.ids import MAC_HELP, normalise_device_id
from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, NOT_FOUND, invalid
from santiway_anomaly.api.fields import IsoDateTime
from santiway_anomaly.api.model import device_score
from santiway_anomaly.api.params import MIN_HOURS, window
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import DeviceProfilePublic
from santiway_anomaly.api.security import require_api_key

router = APIRouter(
    prefix="/analyze",
    tags=["analysis"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES, **NOT_FOUND},
)


@router.post("/device/{device_id}", response_model=DeviceProfilePublic, summary="Analyse one device")
@limiter.limit(default_limit)
async def analyze_device(
    request: Request,
    runner: StoreDep,
    settings: SettingsDep,
    device_id: Annotated[str, Path(max_length=64, description=MAC_HELP)],
    hours: Annotated[float, Query(ge=MIN_HOURS, description="Look-back in hours, up to API_MAX_HOURS")] = 24.0,
    until: Annotated[IsoDateTime | None, Query(description="End of the window (default: now)")] = None,
) -> DeviceProfilePublic:
    """Activity by hour, folders and places with dwell times, signal statistics, movement, the
    device's anomalies in the window, and its current ML score against the p95/p99 thresholds.
    404 if the device has never been seen."""
    try:
        device = normalise_device_id(device_id)
    except ValueError as exc:
        invalid("path", "device_id", str(exc), device_id)
    since, end = window(hours, until, settings)
    try:
        profile = await runner(device_profile, device, since, end)
    except UnknownDeviceError:
        raise HTTPException(404, f"device {device} has never been seen") from None
    profile["ml"] = await runner(lambda store: device_score(store, settings, device, end))
    return DeviceProfilePublic.model_validate(profile)
