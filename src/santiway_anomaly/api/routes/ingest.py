"""POST /ingest: a JSON array, NDJSON or CSV batch of sightings, through the same validation as the CLI."""

from __future__ import annotations

import ctypes
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Depends, HTTPException, Request

from santiway_anomaly.api.deps import SettingsDep, StoreDep
from santiway_anomaly.api.errors import AUTH_RESPONSES, COMMON_RESPONSES, LIMIT_RESPONSES, invalid
from santiway_anomaly.api.ingest_body import (
    NDJSON_TYPES,
    IngestBody,
    ReadError,
    file_body_parts,
    is_csv,
    is_streamable_ndjson,
)
from santiway_anomaly.api.ratelimit import default_limit, limiter
from santiway_anomaly.api.schemas import ErrorPublic, IngestPublic
from santiway_anomaly.api.security import require_api_key
from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.encoding import not_text
from santiway_anomaly.ingest.pipeline import MAX_REJECTS_KEPT_IN_REPORT, ColumnMapping, MappingError, ingest_table
from santiway_anomaly.ingest.records import (
    JsonTooDeep,
    Limits,
    loads,
    parse_array,
    parse_ndjson,
    records_table,
    split_lines,
)
from santiway_anomaly.ingest.validate import Reject
from santiway_anomaly.sightings import REQUIRED_FIELDS
from santiway_anomaly.storage.store import Store

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
    },
}


def parse_batch(body: bytes, media_type: str = "", limits: Limits | None = None
                ) -> tuple[list[dict[str, str | None]], list[int], list[Reject]]:
    """Checked records with their 1-based line/index, and rejects for rows that cannot be sightings.

    `application/json` must be an array (index = position); the NDJSON types are read line by line
    (split on "\n" only); without a known type, a body starting with `[` is an array and anything
    else NDJSON. A body that is not an array at all is one 422; a bad row is a reject.
    """
    limits = limits or Limits()
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    head = body[:4096].lstrip()
    if not head:
        invalid("body", "body", "the body is empty: send a JSON array of sightings or NDJSON lines", None)
    is_array = head.startswith(b"[")
    if media_type == "application/json" and not is_array:
        invalid(
            "body",
            "body",
            "an application/json body must be an array of sighting objects "
            "(send one object per line as application/x-ndjson)",
            None,
        )
    if is_array and media_type not in NDJSON_TYPES:
        try:
            data = loads(body.decode("utf-8"), limits)
        except UnicodeDecodeError as exc:
            invalid("body", "body", f"the body must be UTF-8 text (bad byte at offset {exc.start})", None)
        except json.JSONDecodeError as exc:
            invalid("body", "body", f"not a valid JSON array: {exc.msg} at line {exc.lineno} column {exc.colno}",
                    None)
        except JsonTooDeep as exc:
            invalid("body", "body", f"{exc} (INGEST_MAX_JSON_DEPTH)", None)
        if not isinstance(data, list):
            invalid("body", "body", "a JSON body must be an array of sighting objects", None)
        return parse_array(data, limits)
    return parse_ndjson(split_lines(body), 1, limits)


# NDJSON bodies are parsed this many lines at a time, each part turned into Arrow columns at once:
# parsed JSON objects cost ~10x their text, so only one part of them is alive at a time.
PARSE_CHUNK_LINES = 20_000


def parse_batch_table(body: bytes, media_type: str, limits: Limits) -> tuple[pa.Table | None, list[Reject]]:
    """Like `parse_batch`, but straight to one Arrow table of text columns (None when no record)."""
    head = body[:4096].lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    array = head.startswith(b"[") and media_type not in NDJSON_TYPES
    if not head or array or media_type == "application/json":  # parse_batch gives the 422s
        records, lines, rejects = parse_batch(body, media_type, limits)
        tables = [records_table(records[i:i + PARSE_CHUNK_LINES], lines[i:i + PARSE_CHUNK_LINES])
                  for i in range(0, len(records), PARSE_CHUNK_LINES)]
    else:
        raw = split_lines(body)
        tables, rejects = [], []
        for start in range(0, len(raw), PARSE_CHUNK_LINES):
            records, lines, more = parse_ndjson(raw[start:start + PARSE_CHUNK_LINES], start + 1, limits)
            rejects.extend(more)
            if records:
                tables.append(records_table(records, lines))
        del raw
    if not tables:
        return None, rejects
    return pa.concat_tables(tables, promote_options="default"), rejects


def _release_memory() -> None:
    """Hand freed heap back to the OS after a large body (glibc keeps it otherwise; issue 13 saw
    2.8 GB stay held after 24 bodies)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _ingest(store: Store, settings: Settings, body: IngestBody, media_type: str, source: str) -> dict[str, Any]:
    try:
        return _ingest_body(store, settings, body, media_type, source)
    finally:
        if body.size > 1 << 20:
            _release_memory()


def _body_parts(body: IngestBody, media_type: str, limits: Limits) -> Iterator[tuple[pa.Table | None, list[Reject]]]:
    """The body as (table of text columns, parse rejects) parts: one for a body in memory, one per
    PARSE_CHUNK_LINES lines for a CSV or large NDJSON body (stored part by part: memory stays bounded)."""
    what = not_text(body.head.removeprefix(b"\xef\xbb\xbf"))
    if what:  # UTF-16, gzip, NUL bytes: one 422 naming it instead of a reject per line
        invalid("body", "body", f"the body is {what}", None)
    if is_csv(media_type):
        parts = file_body_parts(body, "csv", limits, PARSE_CHUNK_LINES)
        try:
            first = next(parts, None)  # the header is read here: a bad one is a 422 before anything is stored
            if first is not None:
                ColumnMapping().check(first[0].column_names)  # a header must name every required field
        except (ReadError, MappingError) as exc:
            invalid("body", "body", f"not a readable CSV body: {exc}", None)
        if first is not None:
            yield first
            yield from parts
    elif is_streamable_ndjson(body, media_type):
        yield from file_body_parts(body, "ndjson", limits, PARSE_CHUNK_LINES)
    else:
        yield parse_batch_table(body.bytes(), media_type, limits)


@dataclass
class _Outcome:
    source: str
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def add_rejects(self, rejects: list[Reject]) -> None:
        self.rejected += len(rejects)
        self.rejects.extend(rejects[:max(0, MAX_REJECTS_KEPT_IN_REPORT - len(self.rejects))])

    def answer(self) -> dict[str, Any]:
        shown = sorted(self.rejects, key=lambda r: r.line)
        return {
            "source": self.source,
            "accepted": int(self.accepted),
            "rejected": int(self.rejected),
            "duplicates": int(self.duplicates),
            "rejects": [{"line": int(r.line), "field": str(r.field), "reason": str(r.reason)} for r in shown],
            "rejects_truncated": self.rejected > len(shown),
        }


def _ingest_body(store: Store, settings: Settings, body: IngestBody, media_type: str, source: str
                 ) -> dict[str, Any]:
    outcome = _Outcome(source)
    for table, parse_rejects in _body_parts(body, media_type, Limits.from_settings(settings)):
        if parse_rejects:  # kept like the pipeline keeps its own, so nothing is silently dropped
            now = datetime.now(UTC)
            store.insert_rows(
                "anomaly_ml.ingest_rejects",
                [[now, source, r.line, r.field, r.reason, r.raw] for r in parse_rejects],
                ["rejected_at", "source", "line", "field", "reason", "raw"],
            )
            outcome.add_rejects(parse_rejects)
        if table is not None and table.num_rows:
            # A field absent from every row is a per-row reject ("missing"), not a refusal of the batch.
            for name in REQUIRED_FIELDS:
                if name not in table.column_names:
                    table = table.append_column(name, pa.nulls(table.num_rows, type=pa.string()))
            report = ingest_table(store, table, source, settings)
            outcome.accepted += report.accepted
            outcome.duplicates += report.duplicates
            outcome.rejected += report.rejected - len(report.rejects)  # those beyond the report's own list
            outcome.add_rejects(report.rejects)
    return outcome.answer()


@router.post("/ingest", response_model=IngestPublic, summary="Ingest sightings", openapi_extra={"requestBody": _BODY})
@limiter.limit(default_limit)
async def ingest(request: Request, runner: StoreDep, settings: SettingsDep) -> IngestPublic:
    """Validates every row like `santiway-anomaly ingest` does (MACs normalised, vendor filled from
    the OUI, ranges checked), stores the good rows, and lists each rejected row with its 1-based
    index (JSON array) or line (NDJSON) and the reason. Re-sending the same body stores nothing twice.
    A CSV body (`Content-Type: text/csv`: a header line naming the fields, then one sighting per line) is read
    like `santiway-anomaly ingest` reads a CSV file; a header without a required field is a 422. (Not in the
    request-body schema above: a schema cannot say "CSV whose header names these fields".)"""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.api_max_ingest_bytes:
        raise HTTPException(413, f"body of {int(declared):,} bytes is larger than {settings.api_max_ingest_bytes:,} "
                                 "(API_MAX_INGEST_BYTES): split the batch")
    # At most API_INGEST_CONCURRENCY bodies are read and parsed at once: each costs several times its
    # size in memory while parsed, so this, not the number of clients, bounds the service's memory.
    async with request.app.state.ingest_slots:
        # The cap is enforced while the body streams in; a large body waits in a temporary file, not in memory.
        body = await IngestBody.receive(request.stream(), settings.api_max_ingest_bytes,
                                        settings.api_ingest_spill_bytes)
        try:
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            source = "api:" + body.digest[:16]
            return IngestPublic.model_validate(await runner(_ingest, settings, body, media_type, source))
        finally:
            body.discard()
