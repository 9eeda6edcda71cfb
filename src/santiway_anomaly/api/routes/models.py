"""GET /models/current: the metadata of the model in use."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from santiway_anomaly.api.deps import SettingsDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, LIMIT_RESPONSES
from santiway_anomaly.api.model import model_metadata, model_status
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import ModelPublic
from santiway_anomaly.api.security import require_api_key

router = APIRouter(
    prefix="/models",
    tags=["models"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES},
)


@router.get("/current", response_model=ModelPublic, summary="Current model")
@limiter.limit(default_limit)
async def current_model(request: Request, settings: SettingsDep) -> ModelPublic:
    """Whether a model is loaded (or why not) and its metadata: version, thresholds (p95/p99),
    features, training window and data source."""
    loaded, reason = model_status(settings)
    return ModelPublic(loaded=loaded, reason=reason, metadata=model_metadata(settings) if loaded else {})
