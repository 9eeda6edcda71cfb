"""POST /ingest: a JSON array, NDJSON or CSV batch of sightings, through the same validation as the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import ErrorPublic, IngestPublic
from santiway_anomaly.api.security import require_api_key

router = APIRouter(
    tags=["ingest"],
    dependencies=[Depends(require_api_key)],
    responses={
        **AUTH_RESPONSES,
        **LIMIT_RESPONSES,
        **COMMON_RESPONSES,
        422: {
            "description": "Body is not UTF-8 JSON / NDJSON, or empty",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
        },
        413: {"model": ErrorPublic, "description": "Body larger than API_MAX_INGEST_BYTES"},
    },
)

# Documented, not enforced by the schema: every row is checked by the ingest validation, and a
# row that breaks a rule is reported (line, field, reason) while the good rows are stored.
_FIELD_DOCS = {
    "ts": "required: ISO 8601 (UTC unless an offset is given) or Unix seconds",
    "device_id": "required: MAC in any common notation",
    "sensor_id": "required: the scanner that saw it",
    "folder": "required: the named place",
    "network_type": "wifi, ble, ... (lower case)",
    "rssi": "required: integer dBm, -120..0",
    "lat": "required: WGS84 latitude, -90..90",
    "lon": "required: WGS84 longitude, -180..180",
    "vendor": "optional; filled from the OUI when empty",
    "seq": "optional probe field: 802.11 sequence number, integer 0..4095",
    "ies": "optional probe field: information-element ids, comma-separated (e.g. 0,1,50,221)",
    "ssid": "optional probe field: directed SSID, empty = broadcast (up to 64 characters)",
}
_SIGHTING = {
    "type": "object",
    "description": "A sighting (DESIGN.md). Rows breaking a rule are rejected one by one, with the reason.",
    "properties": {name: {"description": doc} for name, doc in _FIELD_DOCS.items()},
    "example": {
        "ts": "2026-01-15T10:00:00Z",
        "device_id": "AA:BB:CC:DD:EE:FF",
        "sensor_id": "s-1",
        "folder": "office",
        "network_type": "wifi",
        "rssi": -60,
        "lat": 55.7558,
        "lon": 37.6173,
    },
}
_ANY_ROW = {"description": "anything else: stored as a reject of its row, with the reason"}
_BODY = {
    "required": True,
    "content": {
        # Any item is accepted into the batch; one that is not a valid sighting becomes a reject.
        "application/json": {"schema": {"type": "array", "items": {"anyOf": [_SIGHTING, _ANY_ROW]}}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one sighting object per line"}},
        # text/csv (and text/tab-separated-values) bodies are accepted too and described in the route's
        # text: a schema of "any string" cannot say "a header line naming the fields", so a generated
        # string would be a valid request that the service must refuse.
    },
}


@router.post("/ingest", response_model=IngestPublic, summary="Ingest sightings", openapi_extra={"requestBody": _BODY})
@limiter.limit(default_limit)
async def ingest(request: Request, runner: StoreDep, settings: SettingsDep) -> IngestPublic:
    """Validates every row like `santiway-anomaly ingest` does (MACs normalised, vendor filled from
    the OUI, ranges checked), stores the good rows, and lists each rejected row with its 1-based
    index (JSON array) or line (NDJSON, CSV) and the reason. Re-sending the same body stores nothing twice.

    Bodies: `application/json` (an array), `application/x-ndjson` (one object per line), or `text/csv` /
    `text/tab-separated-values` (a header line naming the fields, then one sighting per line; a header
    without a column for a required field is one 422, like the CLI's refusal of such a file)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.api_max_ingest_bytes:
        raise HTTPException(413, f"body of {int(declared):,} bytes is larger than {settings.api_max_ingest_bytes:,} "
                                 "(API_MAX_INGEST_BYTES): split the batch")
    # At most API_INGEST_CONCURRENCY bodies are read and parsed at once: each costs several times its
    # size in memory while parsed, so this, not the number of clients, bounds the service's memory.
    async with request.app.state.ingest_slots:
        # pyarrow and the pipeline load with the first body, not with the API (issue 17: memory).
        from santiway_anomaly.api.ingest_batch import ingest_body
        from santiway_anomaly.api.ingest_body import IngestBody

        # The cap is enforced while the body streams in; a large body waits in a temporary file, not in memory.
        body = await IngestBody.receive(request.stream(), settings.api_max_ingest_bytes,
                                        settings.api_ingest_spill_bytes)
        try:
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            source = "api:" + body.digest[:16]
            return IngestPublic.model_validate(await runner(ingest_body, settings, body, media_type, source))
        finally:
            body.discard()


def __getattr__(name: str) -> Any:
    """`parse_batch` and `parse_batch_table` where callers found them before they moved to
    api/ingest_batch.py (imported on first access, like the route does)."""
    if name in ("parse_batch", "parse_batch_table"):
        from santiway_anomaly.api import ingest_batch

        return getattr(ingest_batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
