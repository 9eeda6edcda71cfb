"""POST /explain/device: which features made the ML model call a device's window anomalous."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from santiway_anomaly.analysis.device import UnknownDeviceError, device_known
from santiway_anomaly.analysis.ids import normalise_device_id
from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, NOT_FOUND, invalid
from santiway_anomaly.api.model import ModelUnavailableError, explain
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import ExplainPublic, ExplainRequest
from santiway_anomaly.api.security import require_api_key
from santiway_anomaly.storage.store import Store

router = APIRouter(
    prefix="/explain",
    tags=["analysis"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES, **NOT_FOUND},
)


@router.post("/device", response_model=ExplainPublic, summary="Explain a device's ML score")
@limiter.limit(default_limit)
async def explain_device(
    request: Request, body: ExplainRequest, runner: StoreDep, settings: SettingsDep
) -> ExplainPublic:
    """Per-feature attributions of the device's window (the ML layer's explainer), sorted by
    absolute size, each with the feature's description. 503 when no model is available, 404 for a
    device never seen."""
    try:
        device = normalise_device_id(body.device_id)
    except ValueError as exc:
        invalid("body", "device_id", str(exc), body.device_id)
    hours = settings.window_size if body.hours is None else body.hours
    if hours != settings.window_size:
        invalid(
            "body",
            "hours",
            f"hours must equal WINDOW_SIZE ({settings.window_size}): the model judges whole windows",
            body.hours,
        )

    def work(store: Store) -> dict[str, Any]:
        if not device_known(store, device):
            raise UnknownDeviceError(device)
        return explain(store, settings, device, hours)

    try:
        result = await runner(work)
    except UnknownDeviceError:
        raise HTTPException(404, f"device {device} has never been seen") from None
    except LookupError as exc:  # seen once, but not in the model's last window
        raise HTTPException(404, str(exc)) from None
    except ModelUnavailableError as exc:
        raise HTTPException(503, f"model not available: {exc}") from None
    attributions = sorted(result["attributions"], key=lambda a: -abs(float(a["attribution"])))
    return ExplainPublic.model_validate(
        {
            "device_id": device,
            "score": result.get("score"),
            "raw_score": result.get("raw_score"),
            "method": str(result.get("method", "")),
            "attributions": attributions[: body.top],
        }
    )
