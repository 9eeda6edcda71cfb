"""The reference validation: `ingest/validate.py` as it was before issue 17 (plain string columns,
one pass per row for every text check), frozen here as the oracle that the per-distinct-value path
must match row for row (`test_vectorised.py`). Do not change it to make a test pass.

Validate a batch of raw sightings (DESIGN.md "A sighting") as whole columns.

Input: an Arrow table with the DESIGN.md field names (any types: strings from CSV/NDJSON, typed
columns from Parquet) and a `__line` column (the row's line or index in its source).
Output: the good rows in `STORED_SCHEMA`, and one `Reject` per bad row naming every failed field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from santiway_anomaly.ingest.mac import fill_vendor, is_randomized, normalise_mac, valid_mac
from santiway_anomaly.sightings import (
    MAX_IES_CHARS,
    MAX_SSID_CHARS,
    PROBE_FIELDS,
    PROBE_SCHEMA,
    RSSI_MAX,
    RSSI_MIN,
    SEQ_MAX,
    SEQ_MISSING,
    STORED_SCHEMA,
)

LINE = "__line"
# sensor_id, folder and vendor: names, not documents (README "Ingest" documents the limit).
MAX_TEXT = 128
# |Unix seconds| beyond this (year ~5138) cannot be a sighting time; kept out of int64 arithmetic.
MAX_ABS_SECONDS = 1e11
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Sensor clocks drift; a day ahead is clearly wrong, minutes ahead are not.
MAX_FUTURE = timedelta(days=1)


@dataclass(frozen=True)
class Reject:
    line: int
    field: str
    reason: str
    raw: str

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "reason": self.reason, "raw": self.raw}


class _Problems:
    """Collects (row mask, field, reason) and turns them into one Reject per bad row."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.items: list[tuple[np.ndarray, str, np.ndarray | str]] = []

    def add(self, mask: pa.Array | np.ndarray, field: str, reason: np.ndarray | str) -> None:
        arr = mask.to_numpy(zero_copy_only=False) if isinstance(mask, pa.Array | pa.ChunkedArray) else mask
        arr = np.asarray(arr, dtype=bool)
        if arr.any():
            self.items.append((arr, field, reason))

    @property
    def bad(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for mask, _, _ in self.items:
            out |= mask
        return out

    def rejects(self, table: pa.Table) -> list[Reject]:
        bad = self.bad
        if not bad.any():
            return []
        idx: list[int] = np.flatnonzero(bad).tolist()
        fields: dict[int, list[str]] = {i: [] for i in idx}
        reasons: dict[int, list[str]] = {i: [] for i in idx}
        for mask, field, reason in self.items:
            for i in np.flatnonzero(mask).tolist():
                fields[i].append(field)
                reasons[i].append(f"{field}: {reason if isinstance(reason, str) else reason[i]}")
        rows = table.take(pa.array(idx, type=pa.int64())).to_pylist()
        out = []
        for i, row in zip(idx, rows, strict=True):
            line = int(row.pop(LINE))
            raw = json.dumps(row, default=str, ensure_ascii=False)
            out.append(Reject(line, ",".join(dict.fromkeys(fields[i])), "; ".join(reasons[i]), raw))
        return out


def _text(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name).combine_chunks() if name in table.column_names else pa.nulls(table.num_rows)
    if not pa.types.is_string(col.type):
        col = col.cast(pa.string()) if not pa.types.is_null(col.type) else pa.nulls(len(col), pa.string())
    return pc.utf8_trim_whitespace(col)


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def _missing(col: pa.Array) -> pa.Array:
    return pc.fill_null(pc.equal(col, ""), True)


def _numbers(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64 with NaN for missing/unparsable, mask of present-but-unparsable)."""
    col = table.column(name).combine_chunks() if name in table.column_names else pa.nulls(table.num_rows)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        values = pc.fill_null(col.cast(pa.float64(), safe=False), np.nan).to_numpy(zero_copy_only=False)
        return values, np.zeros(len(values), dtype=bool)
    text = _text(table, name)
    series = pd.Series(text.to_pandas(), dtype="object")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    present = ~_missing(text).to_numpy(zero_copy_only=False)
    return values, present & np.isnan(values)


def _timestamps(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch ms int64, missing mask, unparsable mask). Strings: ISO 8601 (UTC if no offset) or Unix s."""
    col = table.column("ts").combine_chunks() if "ts" in table.column_names else pa.nulls(table.num_rows)
    n = len(col)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            col = pc.assume_timezone(col, "UTC")
        ms = col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
        missing = pc.is_null(ms).to_numpy(zero_copy_only=False)
        return pc.fill_null(ms, 0).to_numpy(zero_copy_only=False), missing, np.zeros(n, dtype=bool)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        secs = pc.fill_null(col.cast(pa.float64(), safe=False), np.nan).to_numpy(zero_copy_only=False)
        missing = np.isnan(secs)
        with np.errstate(invalid="ignore"):
            huge = ~missing & ~(np.abs(secs) < MAX_ABS_SECONDS)
        ok = ~missing & ~huge
        return np.where(ok, np.round(np.where(ok, secs, 0) * 1000), 0).astype(np.int64), missing, huge
    text = _text(table, "ts")
    missing = _missing(text).to_numpy(zero_copy_only=False)
    series = pd.Series(text.to_pandas(), dtype="object")
    numeric = pd.to_numeric(series, errors="coerce")
    secs = numeric.to_numpy(dtype=float)
    is_num = numeric.notna().to_numpy() & np.isfinite(secs)
    # Far outside any plausible time: refused by the range check, but never converted (int64 overflow).
    is_num &= np.abs(np.where(is_num, secs, 0.0)) < MAX_ABS_SECONDS
    ms = np.zeros(n, dtype=np.int64)
    ms[is_num] = np.round(secs[is_num] * 1000).astype(np.int64)
    # Only absolute times: pandas would read "now", "today" or "yesterday" as the ingest time.
    looks_iso = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"), False)
    iso_mask = ~is_num & ~missing & looks_iso.to_numpy(zero_copy_only=False)
    bad = ~is_num & ~missing & ~iso_mask
    if iso_mask.any():
        parsed = pd.to_datetime(series[iso_mask], utc=True, format="ISO8601", errors="coerce")
        ok = parsed.notna().to_numpy()
        idx = np.flatnonzero(iso_mask)
        ms[idx[ok]] = parsed[ok].to_numpy(dtype="datetime64[ms]").astype(np.int64)
        bad[idx[~ok]] = True
    return ms, missing, bad


def validate(table: pa.Table, *, now: datetime | None = None) -> tuple[pa.Table, list[Reject]]:
    """Split a raw batch into stored rows (STORED_SCHEMA) and rejects; nothing is dropped silently."""
    n = table.num_rows
    now = now or datetime.now(UTC)
    problems = _Problems(n)

    ms, ts_missing, ts_bad = _timestamps(table)
    problems.add(ts_missing, "ts", "missing (required)")
    problems.add(ts_bad, "ts", "not an ISO 8601 time or Unix seconds")
    lo = int(EARLIEST.timestamp() * 1000)
    hi = int((now + MAX_FUTURE).timestamp() * 1000)
    in_range = (ms >= lo) & (ms <= hi)
    problems.add(~ts_missing & ~ts_bad & ~in_range, "ts", f"outside {EARLIEST.date()} .. now + 1 day")

    for name in ("device_id", "sensor_id", "folder", "network_type", "vendor"):
        # A typed numeric column where text belongs (Parquet): 112233445566 is not a MAC.
        if name in table.column_names and _is_number(table.column(name).type):
            problems.add(pc.is_valid(table.column(name)).to_numpy(zero_copy_only=False), name,
                         "a number where text belongs")

    device_raw = _text(table, "device_id")
    dev_missing = _missing(device_raw).to_numpy(zero_copy_only=False)
    problems.add(dev_missing, "device_id", "missing (required)")
    dev_ok = valid_mac(device_raw).to_numpy(zero_copy_only=False)
    problems.add(~dev_missing & ~dev_ok, "device_id", "not a MAC address (e.g. AA:BB:CC:DD:EE:FF)")

    texts: dict[str, pa.Array] = {}
    for name in ("sensor_id", "folder", "vendor"):
        col = _text(table, name)
        if name != "vendor":
            miss = _missing(col).to_numpy(zero_copy_only=False)
            problems.add(miss, name, "missing (required)")
        too_long = pc.fill_null(pc.greater(pc.utf8_length(col), MAX_TEXT), False)
        problems.add(too_long, name, f"longer than {MAX_TEXT} characters")
        texts[name] = col

    net = pc.utf8_lower(_text(table, "network_type"))
    net = pc.if_else(_missing(net), "unknown", net)
    net_ok = pc.match_substring_regex(net, r"^[a-z0-9_.-]{1,16}$").to_numpy(zero_copy_only=False)
    problems.add(~net_ok, "network_type", "must be a short lower-case word such as wifi or ble")

    rssi, rssi_unparsable = _numbers(table, "rssi")
    problems.add(np.isnan(rssi) & ~rssi_unparsable, "rssi", "missing (required)")
    problems.add(rssi_unparsable, "rssi", "not a number")
    with np.errstate(invalid="ignore"):
        present = ~np.isnan(rssi)
        problems.add(present & (rssi != np.round(rssi)), "rssi", "not a whole number of dBm")
        problems.add(present & ((rssi < RSSI_MIN) | (rssi > RSSI_MAX)), "rssi",
                     f"outside {RSSI_MIN}..{RSSI_MAX} dBm")

    coords: dict[str, np.ndarray] = {}
    for name, limit in (("lat", 90.0), ("lon", 180.0)):
        values, unparsable = _numbers(table, name)
        problems.add(np.isnan(values) & ~unparsable, name, "missing (required)")
        problems.add(unparsable, name, "not a number")
        with np.errstate(invalid="ignore"):
            problems.add(~np.isnan(values) & (np.abs(values) > limit), name, f"outside -{limit:g}..{limit:g}")
        coords[name] = values

    probes = _probe_fields(table, problems) if any(f in table.column_names for f in PROBE_FIELDS) else None

    rejects = problems.rejects(table)
    good = ~problems.bad
    if not good.any():
        return STORED_SCHEMA.empty_table(), rejects
    all_good = bool(good.all())
    keep = pa.array(good)

    def kept(col: pa.Array) -> pa.Array:
        # A clean batch (the usual case) is stored as it is: no copy of every column.
        return col if all_good else pc.filter(col, keep)

    def kept_np(values: np.ndarray) -> np.ndarray:
        return values if all_good else values[good]

    device = normalise_mac(kept(device_raw))
    randomized = is_randomized(device)
    vendor = fill_vendor(kept(texts["vendor"]), device, randomized)
    stored = pa.table(
        {
            "ts": pa.array(kept_np(ms), type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "device_id": device,
            "sensor_id": kept(texts["sensor_id"]),
            "folder": kept(texts["folder"]),
            "network_type": kept(net),
            "rssi": pa.array(kept_np(rssi).astype(np.int16), type=pa.int16()),
            "lat": pa.array(kept_np(coords["lat"]), type=pa.float64()),
            "lon": pa.array(kept_np(coords["lon"]), type=pa.float64()),
            "vendor": vendor,
            "is_randomized": randomized.cast(pa.uint8()),
        },
        schema=STORED_SCHEMA,
    )
    if probes is not None:
        for name in PROBE_SCHEMA.names:
            col = probes[name]
            stored = stored.append_column(PROBE_SCHEMA.field(name),
                                          pa.array(kept_np(col)) if isinstance(col, np.ndarray) else kept(col))
    return stored, rejects


def _probe_fields(table: pa.Table, problems: _Problems) -> dict[str, np.ndarray | pa.Array]:
    """The optional probe fields checked; absent values become the column defaults (-1, '')."""
    for name in ("ies", "ssid"):
        if name in table.column_names and _is_number(table.column(name).type):
            problems.add(pc.is_valid(table.column(name)).to_numpy(zero_copy_only=False), name,
                         "a number where text belongs")
    seq, seq_bad = _numbers(table, "seq")
    problems.add(seq_bad, "seq", "not a number")
    with np.errstate(invalid="ignore"):
        present = ~np.isnan(seq)
        problems.add(present & ((seq != np.round(seq)) | (seq < 0) | (seq > SEQ_MAX)), "seq",
                     f"not a whole number in 0..{SEQ_MAX} (802.11 sequence number)")
        seq_out = np.where(present & (seq >= 0) & (seq <= SEQ_MAX), seq, SEQ_MISSING).astype(np.int16)
    ies = pc.fill_null(_text(table, "ies"), "")
    # Element ids 0..255, comma-separated, as Kismet and the ESP32 sniffers write them.
    ies_ok = pc.match_substring_regex(ies, r"^([0-9]{1,3}(,[0-9]{1,3})*)?$").to_numpy(zero_copy_only=False)
    problems.add(~ies_ok, "ies", "must be comma-separated element ids such as 0,1,50,221")
    too_long = pc.greater(pc.utf8_length(ies), MAX_IES_CHARS).to_numpy(zero_copy_only=False)
    problems.add(too_long, "ies", f"longer than {MAX_IES_CHARS} characters")
    ssid = pc.fill_null(_text(table, "ssid"), "")
    too_long = pc.greater(pc.utf8_length(ssid), MAX_SSID_CHARS).to_numpy(zero_copy_only=False)
    problems.add(too_long, "ssid", f"longer than {MAX_SSID_CHARS} characters")
    return {"seq": seq_out, "ies": ies, "ssid": ssid}
