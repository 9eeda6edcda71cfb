"""GET /anomalies/{anomaly_id}/following: the evidence behind a "following" anomaly."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas_following import FollowingEvidencePublic
from santiway_anomaly.api.security import require_api_key

router = APIRouter(
    prefix="/anomalies",
    tags=["anomalies"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES},
)


@router.get("/{anomaly_id}/following", response_model=FollowingEvidencePublic,
            summary="Evidence of a following anomaly", responses={404: {"description": "Unknown anomaly_id, "
                                                                        "or not a following anomaly"}})
@limiter.limit(default_limit)
async def following_route(
    request: Request,
    runner: StoreDep,
    settings: SettingsDep,
    anomaly_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="anomaly_id (32 hex digits)")],
) -> FollowingEvidencePublic:
    """For a stationary_surveillance anomaly of pattern `following`: the moving sensor's path over the
    episode the detector judged (median position per SLOT_MINUTES) and, in time order, the stops where it
    heard the device (consecutive buckets within FOLLOW_DISTANCE_M / 2 of one place). 404 for any other
    anomaly."""
    # Imported here, on the first request: the analysis brings pandas (about 40 MB of private memory) that
    # a server never serving this route should not hold (api/lazy.py, issue 17).
    from santiway_anomaly.analysis.following import NotFollowingError, following_evidence

    try:
        evidence = await runner(following_evidence, settings, anomaly_id)
    except NotFollowingError as exc:
        raise HTTPException(404, str(exc)) from None
    return FollowingEvidencePublic.model_validate(evidence)
