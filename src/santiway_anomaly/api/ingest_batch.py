"""Parsing and storing one POST /ingest body (the work behind api/routes/ingest.py).

A module of its own so that pyarrow, pandas and the ingest pipeline load with the first batch a
service receives, not with every process that imports the API (issue 17: the server's memory).
"""

from __future__ import annotations

import csv
import ctypes
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from santiway_anomaly.api.errors import invalid
from santiway_anomaly.api.ingest_body import (
    NDJSON_TYPES,
    IngestBody,
    ReadError,
    file_body_parts,
    is_csv,
    is_streamable_ndjson,
)
from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.encoding import not_text
from santiway_anomaly.ingest.pipeline import MAX_REJECTS_KEPT_IN_REPORT, ingest_table
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
from santiway_anomaly.storage.queries.ingest import insert_rejects
from santiway_anomaly.storage.store import Store


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


def ingest_body(store: Store, settings: Settings, body: IngestBody, media_type: str, source: str) -> dict[str, Any]:
    """Parse, validate and store one received body: the answer of POST /ingest."""
    try:
        return _ingest_body(store, settings, body, media_type, source)
    finally:
        if body.size > 1 << 20:
            _release_memory()


def _missing_csv_columns(head: bytes, media_type: str) -> list[str]:
    """Required fields the CSV body's header line does not name (the header is its first line)."""
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = "\t" if media_type == "text/tab-separated-values" else ","
    names = {c.strip().strip('"').strip() for c in next(csv.reader([first], delimiter=delimiter), [])}
    return [f for f in REQUIRED_FIELDS if f not in names]


def _body_parts(body: IngestBody, media_type: str, limits: Limits) -> Iterator[tuple[pa.Table | None, list[Reject]]]:
    """The body as (table of text columns, parse rejects) parts: one for a body in memory, one per
    PARSE_CHUNK_LINES lines for a CSV or large NDJSON body (stored part by part: memory stays bounded)."""
    what = not_text(body.head.removeprefix(b"\xef\xbb\xbf"))
    if what:  # UTF-16, gzip, NUL bytes: one 422 naming it instead of a reject per line
        invalid("body", "body", f"the body is {what}", None)
    if is_csv(media_type):
        missing = _missing_csv_columns(body.head, media_type)
        if missing:  # like the CLI's refusal of such a file: every row would fail, so say it once
            invalid("body", "body", f"the CSV header has no column for required field(s) {', '.join(missing)}",
                    None)
        parts = file_body_parts(body, "csv", limits, PARSE_CHUNK_LINES)
        try:
            first = next(parts, None)  # the header is read here: a bad one is a 422 before anything is stored
        except ReadError as exc:
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
            insert_rejects(store, source, parse_rejects)
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
