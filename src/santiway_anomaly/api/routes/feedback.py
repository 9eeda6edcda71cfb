"""Operator feedback: `POST /anomalies/{id}/feedback`, `GET /anomalies/{id}/feedback`, `GET /feedback`,
and the known-devices list: `POST/DELETE /devices/{id}/known`, `GET /devices/known`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field, StrictBool

from santiway_anomaly.analysis.ids import MAC_HELP, normalise_device_id
from santiway_anomaly.api.deps import StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, invalid
from santiway_anomaly.api.lazy import lazy
from santiway_anomaly.api.operator import operator_name
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import ErrorPublic
from santiway_anomaly.api.security import ApiKeyDep, require_api_key
from santiway_anomaly.catalog import ANOMALY_TYPES
from santiway_anomaly.notify.feedback import UnknownAnomalyError, get_feedback, give_feedback, list_feedback

# The allowlist (storage/queries/known.py) brings pandas and numpy: imported by the first request that needs it.
list_known = lazy("santiway_anomaly.storage.queries.known", "list_known")
add_known = lazy("santiway_anomaly.storage.queries.known", "add_known")
remove_known = lazy("santiway_anomaly.storage.queries.known", "remove_known")


router = APIRouter(
    tags=["feedback"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES},
)

NO_ANOMALY: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic, "description": "Unknown anomaly_id"}}
NO_FEEDBACK: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic, "description": "No feedback on it yet"}}

VerdictQ = Literal["false_alarm", "confirmed"]
# `all` or one of the catalog's anomaly types, as an enum in the OpenAPI schema.
ReasonQ = Literal[("all", *ANOMALY_TYPES)]  # type: ignore[valid-type]
AnomalyIdP = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="anomaly_id (32 hex digits)")]
DeviceIdP = Annotated[str, Path(max_length=64, description=f"The device: {MAC_HELP}")]


class FeedbackIn(BaseModel):
    verdict: VerdictQ = Field(description="false_alarm: the anomaly was not one. confirmed: it was.")
    note: str = Field(default="", max_length=2000, description="Free text for the other operators")
    # Strict: a JSON true/false only; 0, 1, "yes" are 422s, not guessed (issue 13).
    mark_known: StrictBool = Field(
        default=False,
        description="With false_alarm: also mark the device as known for "
        "this anomaly type, so it is not alerted on again for it",
    )


class FeedbackPublic(BaseModel):
    anomaly_id: str
    verdict: str
    note: str
    added_by: str
    added_at: datetime
    device_id: str
    anomaly_type: str
    device_marked_known: bool = False


class FeedbacksPublic(BaseModel):
    data: list[FeedbackPublic]
    count: int


class KnownIn(BaseModel):
    reason: ReasonQ = Field(default="all", description="The anomaly type the device is exempt from, or all")
    note: str = Field(default="", max_length=2000)


class KnownPublic(BaseModel):
    device_id: str
    reason: str
    note: str
    added_by: str
    added_at: datetime


class KnownListPublic(BaseModel):
    data: list[KnownPublic]
    count: int


def _who(request: Request, key_id: str | None) -> str:
    """Who gave the feedback: the key's non-secret id (never the key), or `dev` without keys, and the
    operator the caller names (X-Operator, sent by the dashboard for its signed-in user)."""
    base = f"key:{key_id}" if key_id else "dev"
    operator = operator_name(request)
    return f"{base}/{operator}" if operator else base


async def _known_changed(request: Request) -> None:
    """The notification service re-reads the known devices now, not at its next periodic refresh."""
    refresh = getattr(request.app.state.dispatcher, "refresh_allowlist", None)
    if refresh is not None:
        await refresh()


def _device(device_id: str) -> str:
    try:
        return normalise_device_id(device_id)
    except ValueError as exc:
        invalid("path", "device_id", str(exc), device_id)


@router.post(
    "/anomalies/{anomaly_id}/feedback",
    response_model=FeedbackPublic,
    status_code=201,
    summary="Mark an anomaly as a false alarm or confirmed",
    responses=NO_ANOMALY,
)
@limiter.limit(default_limit)
async def post_feedback(
    request: Request, runner: StoreDep, key_id: ApiKeyDep, anomaly_id: AnomalyIdP, body: FeedbackIn
) -> FeedbackPublic:
    """Keeps the operator's verdict (the newest one per anomaly counts). With `mark_known`, a false alarm
    also puts the device on the known list for this anomaly type."""
    try:
        feedback, known = await runner(
            give_feedback, anomaly_id, body.verdict, body.note, _who(request, key_id), body.mark_known
        )
    except UnknownAnomalyError:
        raise HTTPException(404, f"no anomaly with id {anomaly_id}") from None
    if known:
        await _known_changed(request)
    return FeedbackPublic(**feedback.to_dict(), device_marked_known=known)


@router.get(
    "/anomalies/{anomaly_id}/feedback",
    response_model=FeedbackPublic,
    summary="An anomaly's feedback",
    responses=NO_FEEDBACK,
)
@limiter.limit(default_limit)
async def read_feedback(request: Request, runner: StoreDep, anomaly_id: AnomalyIdP) -> FeedbackPublic:
    """The newest verdict; `device_marked_known` says whether the device is on the known list now, for
    this anomaly's type or for all."""
    feedback = await runner(get_feedback, anomaly_id)
    if feedback is None:
        raise HTTPException(404, f"no feedback on anomaly {anomaly_id}")
    known = bool(feedback.device_id) and any(
        k.device_id == feedback.device_id and k.reason in (feedback.anomaly_type, "all")
        for k in await runner(list_known)
    )
    return FeedbackPublic(**feedback.to_dict(), device_marked_known=known)


@router.get("/feedback", response_model=FeedbacksPublic, summary="Recent feedback")
@limiter.limit(default_limit)
async def feedback_list(
    request: Request,
    runner: StoreDep,
    verdict: Annotated[VerdictQ | None, Query(description="Only this verdict")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first")] = 100,
) -> FeedbacksPublic:
    found = await runner(list_feedback, verdict=verdict, limit=limit)
    return FeedbacksPublic(data=[FeedbackPublic(**f.to_dict()) for f in found], count=len(found))


@router.post(
    "/devices/{device_id}/known",
    response_model=KnownPublic,
    status_code=201,
    summary="Mark a device as known (not alerted on for a reason)",
)
@limiter.limit(default_limit)
async def mark_known(
    request: Request, runner: StoreDep, key_id: ApiKeyDep, device_id: DeviceIdP, body: KnownIn | None = None
) -> KnownPublic:
    """The device is not alerted on again for `reason` (an anomaly type, or `all`) until removed."""
    body = body or KnownIn()
    device = _device(device_id)
    await runner(add_known, [device], body.reason, body.note, _who(request, key_id))
    await _known_changed(request)
    for known in await runner(list_known):
        if known.device_id == device and known.reason == body.reason:
            return KnownPublic(**known.__dict__)
    raise HTTPException(503, "the known-device entry was written but cannot be read back")


@router.delete("/devices/{device_id}/known", status_code=204, summary="Remove a device from the known list")
@limiter.limit(default_limit)
async def unmark_known(
    request: Request,
    runner: StoreDep,
    device_id: DeviceIdP,
    reason: Annotated[ReasonQ, Query(description="The entry to remove (default all)")] = "all",
) -> None:
    await runner(remove_known, [_device(device_id)], reason)
    await _known_changed(request)


@router.get("/devices/known", response_model=KnownListPublic, summary="Known devices")
@limiter.limit(default_limit)
async def known_list(request: Request, runner: StoreDep) -> KnownListPublic:
    found = await runner(list_known)
    return KnownListPublic(data=[KnownPublic(**k.__dict__) for k in found], count=len(found))
