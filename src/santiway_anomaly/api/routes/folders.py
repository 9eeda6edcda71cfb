"""GET /folders/hourly: distinct devices per folder per hour against the folder's p95 baseline;
GET /folders/occupancy: the estimated number of people per folder per hour beside raw MACs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES
from santiway_anomaly.api.fields import IsoDateTime
from santiway_anomaly.api.lazy import lazy
from santiway_anomaly.api.params import MIN_HOURS, window
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas_folders import FoldersCoveragePublic, FolderSeriesPublic, OccupancyPublic
from santiway_anomaly.api.security import require_api_key

folder_series = lazy("santiway_anomaly.analysis.folders", "folder_series")
folder_coverage = lazy("santiway_anomaly.analysis.folders", "folder_coverage")
occupancy_report = lazy("santiway_anomaly.occupancy", "occupancy_report")

router = APIRouter(
    prefix="/folders",
    tags=["analysis"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES},
)


@router.get("/hourly", response_model=FolderSeriesPublic, summary="Distinct devices per folder per hour")
@limiter.limit(default_limit)
async def folders_hourly(
    request: Request,
    runner: StoreDep,
    settings: SettingsDep,
    hours: Annotated[float, Query(ge=MIN_HOURS, description="Look-back in hours, up to API_MAX_HOURS")] = 24.0,
    until: Annotated[IsoDateTime | None, Query(description="End of the window (default: now)")] = None,
    folder: Annotated[str | None, Query(max_length=256, description="Only this folder")] = None,
) -> FolderSeriesPublic:
    """Per folder and hour: distinct devices, the robust count the density detector judges, and the
    p95 baseline of the same folder over its trailing days (same local hour where history allows),
    computed exactly as the detector does."""
    since, end = window(hours, until, settings)
    result = await runner(folder_series, settings, since, end, folder)
    return FolderSeriesPublic.model_validate(result)


@router.get("/coverage", response_model=FoldersCoveragePublic, summary="When each folder's sensors were listening")
@limiter.limit(default_limit)
async def folders_coverage(
    request: Request,
    runner: StoreDep,
    settings: SettingsDep,
    hours: Annotated[float, Query(ge=MIN_HOURS, description="Look-back in hours, up to API_MAX_HOURS")] = 24.0 * 14,
    until: Annotated[IsoDateTime | None, Query(description="End of the window (default: now)")] = None,
) -> FoldersCoveragePublic:
    """Per folder: `learning` (fewer than LEARNING_MIN_DAYS covered days: the baseline-relative detectors
    raise nothing for it yet) or `ready`, with its covered days and hours. Coverage is derived from the
    sightings: a sensor silent at an hour it normally reports in was off, and that hour is missing data,
    not zero devices (docs/detectors.md, "Coverage")."""
    since, end = window(hours, until, settings)
    result = await runner(folder_coverage, settings, since, end)
    return FoldersCoveragePublic.model_validate(result)


@router.get("/occupancy", response_model=OccupancyPublic, summary="Estimated people per folder per hour")
@limiter.limit(default_limit)
async def folders_occupancy(
    request: Request,
    runner: StoreDep,
    settings: SettingsDep,
    hours: Annotated[float, Query(ge=MIN_HOURS, description="Look-back in hours, up to API_MAX_HOURS")] = 24.0,
    until: Annotated[IsoDateTime | None, Query(description="End of the window (default: now)")] = None,
    folder: Annotated[str | None, Query(max_length=256, description="Only this folder")] = None,
) -> OccupancyPublic:
    """Per folder and UTC hour with sightings: raw distinct MACs (`unique_devices`) and the occupancy
    estimate (`people`, with `people_low` .. `people_high`): the randomized MACs of one phone merged by
    their probe fingerprint, only devices near a sensor (OCCUPANCY_NEAR_RSSI), presence averaged over
    the hour's 5-minute slots. Without probe fields in the feed each MAC is its own fingerprint."""
    since, end = window(hours, until, settings)
    result = await runner(occupancy_report, settings, since, end, folder)
    return OccupancyPublic.model_validate(result)
