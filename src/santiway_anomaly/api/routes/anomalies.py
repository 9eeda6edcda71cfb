"""GET /anomalies, GET /anomalies/stats, POST /anomalies/detect-and-notify, GET /anomalies/{anomaly_id}."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from santiway_anomaly.analysis.ids import MAC_HELP, normalise_device_id
from santiway_anomaly.analysis.stats import anomaly_stats, folder_occupancy
from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.api.deps import CacheDep, DispatcherDep, SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, invalid
from santiway_anomaly.api.fields import DETECTORS_PATTERN, IsoDateTime
from santiway_anomaly.api.metrics import (
    ANOMALIES_DETECTED,
    DETECTION_RUNS,
    LAST_RUN_DURATION,
    LAST_RUN_FINISHED,
)
from santiway_anomaly.api.params import MIN_HOURS, check_hours, utc, window
from santiway_anomaly.api.ratelimit import default_limit, detect_limit, limiter, list_limit
from santiway_anomaly.api.schemas import AnomaliesPublic, AnomalyPublic, DetectRunPublic, StatsPublic
from santiway_anomaly.api.security import require_api_key
from santiway_anomaly.catalog import ANOMALY_TYPES
from santiway_anomaly.config import Settings
from santiway_anomaly.storage.anomalies import AnomalyFilter, generation, get_anomaly, page_anomalies
from santiway_anomaly.storage.store import Store

router = APIRouter(
    prefix="/anomalies",
    tags=["anomalies"],
    dependencies=[Depends(require_api_key)],
    responses={**AUTH_RESPONSES, **LIMIT_RESPONSES, **COMMON_RESPONSES},
)

# The catalog's anomaly types as an enum in the OpenAPI schema.
AnomalyTypeQ = Literal[ANOMALY_TYPES]  # type: ignore[valid-type]
SeverityQ = Literal["info", "warning", "critical"]


STALE_HEADER = "X-Answer-Cache"


def _answer(body: bytes, fresh: bool) -> Response:
    # A stale answer (being refreshed in the background) says so, and the fast path does not keep it.
    headers = None if fresh else {STALE_HEADER: "stale"}
    return Response(body, media_type="application/json", headers=headers)


def _page(store: Store, flt: AnomalyFilter) -> bytes:
    data, total = page_anomalies(store, flt)
    nxt = flt.offset + len(data) if flt.offset + len(data) < total else None
    page = AnomaliesPublic.model_validate(
        {"data": data, "count": total, "limit": flt.limit, "offset": flt.offset, "next_offset": nxt}
    )
    return page.model_dump_json().encode()


@router.get("", response_model=AnomaliesPublic, summary="List anomalies", response_class=JSONResponse)
@limiter.limit(list_limit)
async def list_route(
    request: Request,
    runner: StoreDep,
    cache: CacheDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, description="Page size, 1..API_MAX_LIMIT (default 1000)")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip (pagination)")] = 0,
    anomaly_type: Annotated[AnomalyTypeQ | None, Query(description="Only this type")] = None,
    severity: Annotated[SeverityQ | None, Query(description="Only this severity")] = None,
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0, description="Calibrated score at least")] = None,
    device_id: Annotated[str | None, Query(max_length=64, description=f"Only this device: {MAC_HELP}")] = None,
    folder: Annotated[str | None, Query(max_length=256, description="Only this folder")] = None,
    since: Annotated[IsoDateTime | None, Query(description="Window ends after this time (ISO 8601)")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Window starts before this time (ISO 8601)")] = None,
) -> Response:
    """Anomalies, newest window first, filtered and paginated (`offset`, `next_offset`).
    Rate limit: RATE_LIMIT_LIST (100/minute) per API key or client address."""
    if limit > settings.api_max_limit:
        invalid("query", "limit", f"limit must be between 1 and {settings.api_max_limit} (API_MAX_LIMIT)", limit)
    device = None
    if device_id is not None:
        try:
            device = normalise_device_id(device_id)
        except ValueError as exc:
            invalid("query", "device_id", str(exc), device_id)
    since, until = utc(since), utc(until)
    flt = AnomalyFilter(
        anomaly_type=anomaly_type,
        severity=severity,
        device_id=device,
        folder=folder,
        min_score=min_score,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )

    async def compute() -> bytes:
        return await runner(_page, flt)

    body, fresh = await cache.lookup(("list", generation(), flt), compute)
    return _answer(body, fresh)


@router.get("/stats", response_model=StatsPublic, summary="Anomaly statistics", response_class=JSONResponse)
@limiter.limit(default_limit)
async def stats_route(
    request: Request,
    runner: StoreDep,
    cache: CacheDep,
    settings: SettingsDep,
    hours: Annotated[float, Query(ge=MIN_HOURS, description="Look-back in hours, up to API_MAX_HOURS")] = 24.0,
    until: Annotated[IsoDateTime | None, Query(description="End of the window (default: now)")] = None,
) -> Response:
    """Counts over the last `hours` (default 24): by type, severity, folder and hour; top devices
    and folders by number of anomalies; per folder, the busiest hour in raw MACs beside the estimated
    number of people (`occupancy`)."""
    check_hours(hours, settings)
    end = utc(until)
    # "now" windows share one cache entry per second, so a burst of dashboards costs one query.
    key = ("stats", generation(), hours, end or int(time.time()))

    async def compute() -> bytes:
        since, stop = window(hours, end, settings)
        stats = await runner(anomaly_stats, since, stop, settings.api_stats_top)
        stats["occupancy"] = await runner(folder_occupancy, settings, since, stop)
        return StatsPublic.model_validate(stats).model_dump_json().encode()

    body, fresh = await cache.lookup(key, compute)
    return _answer(body, fresh)


def _run(store: Store, settings: Settings, hours: float, until: datetime | None, detectors: list[str] | None) -> Any:
    from santiway_anomaly.detectors.runner import run_detection

    return run_detection(store, settings, hours=hours, until=until, detectors=detectors)


@router.post("/detect-and-notify", response_model=DetectRunPublic, summary="Run detection and notify")
@limiter.limit(detect_limit)
async def detect_and_notify(
    request: Request,
    runner: StoreDep,
    cache: CacheDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    hours: Annotated[float, Query(ge=MIN_HOURS, description="Detection window in hours, up to API_MAX_HOURS")] = 24.0,
    until: Annotated[IsoDateTime | None, Query(description="End of the window (default: now)")] = None,
    detectors: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=DETECTORS_PATTERN,
            description="Comma-separated detector names (default: all)",
        ),
    ] = None,
) -> DetectRunPublic:
    """Runs the detectors over the last `hours`, stores what they find (idempotently) and hands the
    new anomalies to the notification layer. Needs X-API-Key (unless in development mode).
    Rate limit: RATE_LIMIT_DETECT (10/minute)."""
    since, end = window(hours, until, settings)
    # Each detector runs once however often it is named (a repeat ran it again: issue 13).
    names = list(dict.fromkeys(detectors.split(","))) if detectors else None
    started = time.perf_counter()
    try:
        run = await runner(_run, settings, hours, end, names)
    except ImportError as exc:
        DETECTION_RUNS.labels(outcome="unavailable").inc()
        raise HTTPException(503, f"detectors are not installed in this build: {exc}") from None
    except ValueError as exc:  # an unknown detector name
        DETECTION_RUNS.labels(outcome="rejected").inc()
        invalid("query", "detectors", str(exc), detectors)
    elapsed = time.perf_counter() - started
    LAST_RUN_DURATION.set(elapsed)
    LAST_RUN_FINISHED.set(time.time())
    DETECTION_RUNS.labels(outcome="failed" if run.errors else "ok").inc()
    new: list[Anomaly] = list(run.new)
    for anomaly in new:
        ANOMALIES_DETECTED.labels(anomaly.anomaly_type, anomaly.severity).inc()
    cache.clear()
    await dispatcher.publish(new)
    logger.info("detection over {:g} h: {} found, {} new, {:.2f} s", hours, len(run.anomalies), len(new), elapsed)
    by_type: dict[str, int] = {}
    for anomaly in run.anomalies:
        by_type[anomaly.anomaly_type] = by_type.get(anomaly.anomaly_type, 0) + 1
    run_window = getattr(run, "window", None)
    return DetectRunPublic.model_validate(
        {
            "window": {"start": getattr(run_window, "start", since), "end": getattr(run_window, "end", end)},
            "detected": len(run.anomalies),
            "new": len(new),
            "notified": len(new),
            "by_type": by_type,
            "timings": {str(k): float(v) for k, v in dict(run.timings).items()},
            "errors": {str(k): str(v) for k, v in dict(run.errors).items()},
            "skipped": {str(k): str(v) for k, v in dict(getattr(run, "skipped", {})).items()},
            "anomalies": [a.to_dict() for a in new],
        }
    )


class _AnomalyId(Convertor[str]):
    """32 hex digits only, so /anomalies/detect-and-notify (POST) never matches as an id: a GET there is a
    405, not a 422 about a malformed id."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anomaly_id", _AnomalyId())


# Declared last: /anomalies/stats and the other literal paths above match first.
@router.get("/{anomaly_id:anomaly_id}", response_model=AnomalyPublic, summary="One anomaly",
            responses={404: {"description": "Unknown anomaly_id"}})
@limiter.limit(default_limit)
async def one_route(
    request: Request,
    runner: StoreDep,
    anomaly_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="anomaly_id (32 hex digits)")],
) -> AnomalyPublic:
    """The anomaly a link (`?anomaly=ID` in the dashboard, a notification) points to."""
    found = await runner(get_anomaly, anomaly_id)
    if found is None:
        raise HTTPException(404, f"no anomaly with id {anomaly_id}")
    return AnomalyPublic.model_validate(found)
