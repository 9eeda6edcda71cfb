"""JSON sightings (NDJSON lines, JSON arrays, POST /ingest bodies) into a table of text columns.

Every value is checked before it reaches Arrow: a record holding something that cannot be a
sighting field (an object, a list, true/false, a number where a MAC or a name belongs, a string
with a lone surrogate such as "\\ud800", a field over the length limit) becomes a reject with its
line and reason; the rest of the batch goes on. Lines are split on "\\n" only (a "\\r" before it is
dropped): U+2028, U+0085, form feeds and the like are characters inside a field, never line ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from santiway_anomaly.ingest.validate import LINE, Reject
from santiway_anomaly.sightings import INPUT_FIELDS

# Fields that hold text: a JSON number there is a mistake (a MAC sent as 112233445566 would be
# read as hex digits of a different device), not something to stringify.
TEXT_FIELDS = ("device_id", "sensor_id", "folder", "network_type", "vendor", "ies", "ssid")
RAW_SHOWN = 500


@dataclass(frozen=True)
class Limits:
    """What one row may hold (settings INGEST_MAX_*); the defaults are the settings' defaults."""

    max_field_chars: int = 4096
    max_row_bytes: int = 65_536
    max_json_depth: int = 16

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        if settings is None:
            return cls()
        return cls(settings.ingest_max_field_chars, settings.ingest_max_row_bytes, settings.ingest_max_json_depth)


class JsonTooDeep(ValueError):
    pass


def loads(text: str | bytes, limits: Limits) -> Any:
    """json.loads that turns pathological nesting into `JsonTooDeep` instead of a RecursionError."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(f"JSON nested deeper than {limits.max_json_depth} levels") from None
    return value


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed value, stopping once past `limit` (so a deep value costs little)."""
    stack = [(value, 1)]
    worst = 0
    while stack:
        item, d = stack.pop()
        worst = max(worst, d)
        if worst > limit:
            return worst
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return worst


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (ValueError, RecursionError, TypeError):
        text = repr(value)
    return text[:RAW_SHOWN]


def check_record(rec: Any, limits: Limits) -> tuple[dict[str, str | None] | None, str, str]:
    """(the record as text fields, "", "") or (None, field, reason)."""
    if not isinstance(rec, dict):
        kind = "an array" if isinstance(rec, list) else "a single value"
        return None, "row", f"not a JSON object (found {kind})"
    out: dict[str, str | None] = {}
    for key, value in rec.items():
        if not _encodable(key):
            return None, "row", "a field name is not valid Unicode (lone surrogate)"
        if key not in INPUT_FIELDS and (isinstance(value, dict | list | bool) or value is None):
            continue  # not a sighting field: a complex value there is none of our business
        if value is None or value == "":
            out[key] = None
        elif isinstance(value, dict | list):
            if _depth(value, limits.max_json_depth) + 1 > limits.max_json_depth:
                return None, key, f"nested deeper than {limits.max_json_depth} levels (INGEST_MAX_JSON_DEPTH)"
            return None, key, f"{'an object' if isinstance(value, dict) else 'a list'} where a single value belongs"
        elif isinstance(value, bool):
            return None, key, f"{str(value).lower()} is not a valid {key}"
        elif isinstance(value, int | float):
            if key in TEXT_FIELDS:
                return None, key, "a number where text belongs (send it as a JSON string)"
            out[key] = repr(value) if isinstance(value, float) else str(value)
        elif isinstance(value, str):
            if not _encodable(value):
                return None, key, "not valid Unicode (a lone surrogate such as \\ud800)"
            if len(value) > limits.max_field_chars:
                return None, key, (f"{len(value):,} characters, over the {limits.max_field_chars:,} limit "
                                   "(INGEST_MAX_FIELD_CHARS)")
            out[key] = value
        else:  # json never gives anything else; a caller might
            return None, key, f"unsupported value of type {type(value).__name__}"
    return out, "", ""


def check_records(items: list[Any], lines: list[int], limits: Limits
                  ) -> tuple[list[dict[str, str | None]], list[int], list[Reject]]:
    records: list[dict[str, str | None]] = []
    kept: list[int] = []
    rejects: list[Reject] = []
    for item, line in zip(items, lines, strict=True):
        rec, name, reason = check_record(item, limits)
        if rec is None:
            rejects.append(Reject(line, name, f"{name}: {reason}" if name != "row" else reason, _short(item)))
        else:
            records.append(rec)
            kept.append(line)
    return records, kept, rejects


def records_table(records: list[dict[str, str | None]], lines: list[int]) -> pa.Table:
    """Arrow table of strings from checked records (absent fields stay null)."""
    names: dict[str, None] = {}
    for rec in records:
        names.update(dict.fromkeys(rec))
    names.pop(LINE, None)
    cols = {name: pa.array([rec.get(name) for rec in records], type=pa.string()) for name in names}
    cols[LINE] = pa.array(lines, type=pa.int64())
    return pa.table(cols)


def split_lines(data: bytes) -> list[bytes]:
    """NDJSON lines: split on b"\\n" only; a trailing b"\\r" (CRLF files) is dropped."""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


def parse_ndjson(raw_lines: list[bytes], start: int, limits: Limits
                 ) -> tuple[list[dict[str, str | None]], list[int], list[Reject]]:
    """Parse NDJSON lines (already split, numbered from `start`) into checked records and rejects."""
    items: list[Any] = []
    lines: list[int] = []
    rejects: list[Reject] = []
    for i, raw in enumerate(raw_lines):
        line_no = start + i
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte-order mark is not part of the first record
        if not raw.strip():
            continue
        shown = raw[:RAW_SHOWN].decode("utf-8", errors="replace")
        if len(raw) > limits.max_row_bytes:
            rejects.append(Reject(line_no, "row", f"line of {len(raw):,} bytes, over the {limits.max_row_bytes:,} "
                                  "limit (INGEST_MAX_ROW_BYTES)", shown))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start:exc.start + 1].hex()
            rejects.append(Reject(line_no, "row", f"not valid UTF-8 (byte 0x{bad} at column {exc.start + 1})",
                                  shown))
            continue
        try:
            value = loads(text, limits)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(line_no, "row", f"not valid JSON ({exc.msg} at column {exc.colno})", shown))
            continue
        except JsonTooDeep as exc:
            rejects.append(Reject(line_no, "row", str(exc), shown))
            continue
        items.append(value)
        lines.append(line_no)
    records, kept, more = check_records(items, lines, limits)
    return records, kept, sorted(rejects + more, key=lambda r: r.line)


def parse_array(value: Any, limits: Limits) -> tuple[list[dict[str, str | None]], list[int], list[Reject]]:
    """A parsed JSON array: each item checked, indexed from 1."""
    return check_records(list(value), list(range(1, len(value) + 1)), limits)
