"""POST /comparison/compare: two or more devices side by side."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from santiway_anomaly.analysis.compare import compare_devices
from santiway_anomaly.analysis.device import UnknownDeviceError
from santiway_anomaly.analysis.ids import normalise_device_id
from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, NOT_FOUND, invalid
from santiway_anomaly.api.params import window
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import CompareRequest, ComparisonPublic
from santiway_anomaly.api.security import require_api_key

router = APIRouter(
    prefix="/comparison",
    tags=["analysis"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES, **NOT_FOUND},
)


@router.post("/compare", response_model=ComparisonPublic, summary="Compare devices")
@limiter.limit(default_limit)
async def compare(request: Request, body: CompareRequest, runner: StoreDep, settings: SettingsDep) -> ComparisonPublic:
    """Feature profiles of each device, and for every pair: shared hours and minutes, co-location
    (same sensor in the same minute: the evidence behind a "following" anomaly), shared folders and
    sensors, and similarity scores. 404 if a device has never been seen."""
    if len(body.device_ids) > settings.api_max_compare_devices:
        invalid(
            "body",
            "device_ids",
            f"at most {settings.api_max_compare_devices} devices per comparison (API_MAX_COMPARE_DEVICES)",
            len(body.device_ids),
        )
    devices: list[str] = []
    for i, raw in enumerate(body.device_ids):
        try:
            devices.append(normalise_device_id(raw))
        except ValueError as exc:
            invalid("body", f"device_ids.{i}", str(exc), raw)
    if len(set(devices)) < 2:
        invalid("body", "device_ids", "give at least two different devices", body.device_ids)
    since, end = window(body.hours, body.until, settings)
    try:
        result = await runner(compare_devices, list(dict.fromkeys(devices)), since, end, settings.timezone)
    except UnknownDeviceError as exc:
        raise HTTPException(404, f"device {exc.args[0]} has never been seen") from None
    return ComparisonPublic.model_validate(result)
