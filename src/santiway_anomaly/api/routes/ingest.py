"""POST /ingest: a JSON array or NDJSON batch of sightings, through the same validation as the CLI."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, invalid
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import ErrorPublic, IngestPublic
from santiway_anomaly.api.security import require_api_key
from santiway_anomaly.config import Settings
from santiway_anomaly.storage.store import Store

router = APIRouter(
    tags=["ingest"],
    dependencies=[Depends(require_api_key)],
    responses={
        **AUTH_RESPONSES,
        **LIMIT_RESPONSES,
        **COMMON_RESPONSES,
        413: {"model": ErrorPublic, "description": "Body larger than API_MAX_INGEST_BYTES"},
    },
)

_SIGHTING = {
    "type": "object",
    "required": ["ts", "device_id", "sensor_id", "folder", "rssi", "lat", "lon"],
    "properties": {
        "ts": {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "description": "ISO 8601 (UTC unless an offset is given) or Unix seconds",
        },
        "device_id": {"type": "string", "description": "MAC in any common notation"},
        "sensor_id": {"type": "string"},
        "folder": {"type": "string"},
        "network_type": {"type": "string", "description": "wifi, ble, ... (lower case)"},
        "rssi": {"type": "integer", "minimum": -120, "maximum": 0},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "vendor": {"type": "string", "description": "optional; filled from the OUI when empty"},
    },
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
_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": _SIGHTING}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one sighting object per line"}},
    },
}


async def _read_body(request: Request, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise HTTPException(413, f"body larger than {cap} bytes (API_MAX_INGEST_BYTES): split the batch")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_batch(body: bytes) -> tuple[list[dict[str, Any]], list[int], list[Any]]:
    """Records with their 1-based line/index, and rejects for rows that are not JSON objects.

    A body starting with `[` is a JSON array (index = position); anything else is NDJSON (line).
    """
    from santiway_anomaly.ingest.readers import parse_ndjson_lines
    from santiway_anomaly.ingest.validate import Reject

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        invalid("body", "body", f"the body must be UTF-8 text (bad byte at offset {exc.start})", None)
    if not text.strip():
        invalid("body", "body", "the body is empty: send a JSON array of sightings or NDJSON lines", None)
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            invalid(
                "body",
                "body",
                f"not a valid JSON array: {exc.msg} at line {exc.lineno} column {exc.colno}",
                None,
            )
        records, lines, rejects = [], [], []
        for i, item in enumerate(data, start=1):
            if isinstance(item, dict):
                records.append(item)
                lines.append(i)
            else:
                rejects.append(Reject(i, "row", "not a JSON object", json.dumps(item)[:500]))
        return records, lines, rejects
    records, lines, ndjson_rejects = parse_ndjson_lines(list[str | None](text.splitlines()), 1)
    return records, lines, list(ndjson_rejects)


def _ingest(store: Store, settings: Settings, body: bytes, source: str) -> dict[str, Any]:
    import pyarrow as pa

    from santiway_anomaly.ingest.pipeline import ingest_table
    from santiway_anomaly.ingest.readers import records_table
    from santiway_anomaly.sightings import REQUIRED_FIELDS

    records, lines, parse_rejects = parse_batch(body)
    accepted, rejects, rejected = 0, list(parse_rejects), len(parse_rejects)
    if parse_rejects:  # kept like the pipeline keeps its own, so nothing is silently dropped
        now = datetime.now(UTC)
        store.insert_rows(
            "anomaly_ml.ingest_rejects",
            [[now, source, r.line, r.field, r.reason, r.raw] for r in parse_rejects],
            ["rejected_at", "source", "line", "field", "reason", "raw"],
        )
    if records:
        table = records_table(records, lines)
        # A field absent from every row is a per-row reject ("missing"), not a refusal of the batch.
        for name in REQUIRED_FIELDS:
            if name not in table.column_names:
                table = table.append_column(name, pa.nulls(table.num_rows, type=pa.string()))
        report = ingest_table(store, table, source, settings)
        accepted, rejected = report.accepted, rejected + report.rejected
        rejects.extend(report.rejects)
    rejects.sort(key=lambda r: r.line)
    return {
        "source": source,
        "accepted": int(accepted),
        "rejected": int(rejected),
        "rejects": [{"line": int(r.line), "field": str(r.field), "reason": str(r.reason)} for r in rejects],
        "rejects_truncated": rejected > len(rejects),
    }


@router.post("/ingest", response_model=IngestPublic, summary="Ingest sightings", openapi_extra={"requestBody": _BODY})
@limiter.limit(default_limit)
async def ingest(request: Request, runner: StoreDep, settings: SettingsDep) -> IngestPublic:
    """Validates every row like `santiway-anomaly ingest` does (MACs normalised, vendor filled from
    the OUI, ranges checked), stores the good rows, and lists each rejected row with its 1-based
    index (JSON array) or line (NDJSON) and the reason. Re-sending the same body stores nothing twice."""
    body = await _read_body(request, settings.api_max_ingest_bytes)
    source = "api:" + hashlib.sha256(body).hexdigest()[:16]
    return IngestPublic.model_validate(await runner(_ingest, settings, body, source))
