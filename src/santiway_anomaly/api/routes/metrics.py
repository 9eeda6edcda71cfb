"""GET /metrics: Prometheus text exposition (open, like /health: scrapers carry no key)."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format 0.0.4",
        }
    },
)
async def metrics() -> Response:
    """Requests and latency by route and status, anomalies detected by type and severity, store
    retries, notification deliveries and failures, last detection run duration, cache hits."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
