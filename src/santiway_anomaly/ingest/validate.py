"""Validate a batch of raw sightings (DESIGN.md "A sighting") as whole columns.

Input: an Arrow table with the DESIGN.md field names (any types: strings from CSV/NDJSON, typed
columns from Parquet) and a `__line` column (the row's line or index in its source).
Output: the good rows with `STORED_SCHEMA`'s columns, and one `Reject` per bad row naming every
failed field. Text columns are checked and normalised once per distinct value (`texts.Text`) and
stored as dictionary arrays; the rest is numpy over whole columns. No Python runs per row except
for the rejects' reports and the CSV/JSON number parsing (pandas).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from santiway_anomaly.ingest.mac import is_randomized, normalise_mac, valid_mac, vendor_for_oui
from santiway_anomaly.ingest.texts import Text
from santiway_anomaly.ingest.texts import dictionary as texts_dictionary
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
        values = _floats(col)
        return values, np.zeros(len(values), dtype=bool)
    text = _text(table, name)
    series = pd.Series(text.to_pandas(), dtype="object")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    present = ~_missing(text).to_numpy(zero_copy_only=False)
    return values, present & np.isnan(values)


def _floats(col: pa.Array) -> np.ndarray:
    """A numeric column as float64, NaN where null (without a copy when it is float64 without nulls)."""
    col = col.cast(pa.float64(), safe=False)
    if col.null_count:
        col = pc.fill_null(col, np.nan)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def _timestamps(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch ms int64, missing mask, unparsable mask). Strings: ISO 8601 (UTC if no offset) or Unix s."""
    col = table.column("ts").combine_chunks() if "ts" in table.column_names else pa.nulls(table.num_rows)
    n = len(col)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            col = pc.assume_timezone(col, "UTC")
        ms = col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
        if not ms.null_count:
            return ms.to_numpy(zero_copy_only=False), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        missing = pc.is_null(ms).to_numpy(zero_copy_only=False)
        return pc.fill_null(ms, 0).to_numpy(zero_copy_only=False), missing, np.zeros(n, dtype=bool)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        secs = _floats(col)
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
    """Split a raw batch into stored rows (STORED_SCHEMA, plus PROBE_SCHEMA when the batch has probe
    fields) and rejects; nothing is dropped silently."""
    stored, rejects = validate_encoded(table, now=now)
    if not stored.num_rows:
        return stored, rejects
    schema = STORED_SCHEMA
    for name in PROBE_SCHEMA.names:
        if name in stored.column_names:
            schema = schema.append(PROBE_SCHEMA.field(name))
    return stored.cast(schema), rejects


def validate_encoded(table: pa.Table, *, now: datetime | None = None) -> tuple[pa.Table, list[Reject]]:
    """`validate`, with the stored text columns left as dictionary arrays (what the ingest inserts:
    decoding them would copy every string for nothing)."""
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

    device = Text.of(table, "device_id")
    dev_missing = device.missing()
    problems.add(dev_missing, "device_id", "missing (required)")
    problems.add(~dev_missing & ~device.rows(valid_mac(device.values), False), "device_id",
                 "not a MAC address (e.g. AA:BB:CC:DD:EE:FF)")

    texts: dict[str, Text] = {}
    for name in ("sensor_id", "folder", "vendor"):
        col = Text.of(table, name)
        if name != "vendor":
            problems.add(col.missing(), name, "missing (required)")
        problems.add(col.longer_than(MAX_TEXT), name, f"longer than {MAX_TEXT} characters")
        texts[name] = col

    network = Text.of(table, "network_type")
    # A missing network type is stored as "unknown": the null slot and empty values read so.
    net_values = pc.utf8_lower(network.values)
    net_values = pc.if_else(pc.fill_null(pc.equal(net_values, ""), True), "unknown", net_values)
    net_ok = pc.match_substring_regex(net_values, r"^[a-z0-9_.-]{1,16}$")
    problems.add(~network.rows(net_ok, True), "network_type", "must be a short lower-case word such as wifi or ble")

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
    # A clean batch (the usual case) is stored as it is: no copy of every column.
    keep = None if bool(good.all()) else good

    def kept_np(values: np.ndarray) -> np.ndarray:
        return values if keep is None else values[keep]

    # Per distinct device value: its normal form, the randomized bit and (when the feed gave no
    # vendor) the vendor registered for its OUI; a row reads them through its code.
    normal = pc.fill_null(normalise_mac(device.values), "")
    randomized_v = pc.fill_null(is_randomized(normal), False).to_numpy(zero_copy_only=False)
    randomized = kept_np(device.rows(randomized_v, False))
    stored = pa.table(
        {
            "ts": pa.array(kept_np(ms), type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "device_id": device.column(normal, "", keep),
            "sensor_id": texts["sensor_id"].column(texts["sensor_id"].values, "", keep),
            "folder": texts["folder"].column(texts["folder"].values, "", keep),
            "network_type": network.column(net_values, "unknown", keep),
            "rssi": pa.array(kept_np(rssi).astype(np.int16), type=pa.int16()),
            "lat": pa.array(kept_np(coords["lat"]), type=pa.float64()),
            "lon": pa.array(kept_np(coords["lon"]), type=pa.float64()),
            "vendor": _vendors(texts["vendor"], device, normal, randomized_v, keep),
            "is_randomized": pa.array(randomized.astype(np.uint8), type=pa.uint8()),
        },
    )
    if probes is not None:
        for name in PROBE_SCHEMA.names:
            probe = probes[name]
            stored = stored.append_column(name, pa.array(kept_np(probe), PROBE_SCHEMA.field(name).type)
                                          if isinstance(probe, np.ndarray) else probe.column(probe.values, "", keep))
    return stored, rejects


def _vendors(vendor: Text, device: Text, normal: pa.Array, randomized_v: np.ndarray,
             keep: np.ndarray | None) -> pa.DictionaryArray:
    """The feed's vendor where it gave one; otherwise the IEEE registry's name for the device's OUI,
    never for a randomized MAC (`mac.fill_vendor`, per distinct value)."""
    given = pc.fill_null(vendor.values, "")
    codes = vendor.codes if keep is None else vendor.codes[keep]
    dev_codes = device.codes if keep is None else device.codes[keep]
    # A vendor row code pointing at the null slot or at "" is missing; so is a device at its null slot.
    vendor_missing = np.append(pc.equal(given, "").to_numpy(zero_copy_only=False), True)[codes]
    need = vendor_missing & ~np.append(randomized_v.astype(bool), True)[dev_codes]
    values = pa.concat_arrays([given, pa.array([""], pa.string())])
    if not need.any():
        return texts_dictionary(values, codes)
    used = np.zeros(len(normal) + 1, dtype=bool)
    used[dev_codes[need]] = True
    wanted = np.flatnonzero(used)
    ouis = pc.utf8_slice_codeunits(pc.take(normal, pa.array(wanted)), 0, 8).to_pylist()
    looked_up = pa.array([vendor_for_oui(o) for o in ouis], pa.string())
    slot = np.full(len(normal) + 1, -1, dtype=np.int64)
    slot[wanted] = np.arange(len(wanted))
    codes = np.where(need, len(values) + slot[dev_codes], codes)
    return texts_dictionary(pa.concat_arrays([values, looked_up]), codes)


def _probe_fields(table: pa.Table, problems: _Problems) -> dict[str, np.ndarray | Text]:
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
    ies = Text.of(table, "ies")
    ies_values = pc.fill_null(ies.values, "")
    # Element ids 0..255, comma-separated, as Kismet and the ESP32 sniffers write them.
    ies_ok = pc.match_substring_regex(ies_values, r"^([0-9]{1,3}(,[0-9]{1,3})*)?$")
    problems.add(~ies.rows(ies_ok, True), "ies", "must be comma-separated element ids such as 0,1,50,221")
    problems.add(ies.longer_than(MAX_IES_CHARS), "ies", f"longer than {MAX_IES_CHARS} characters")
    ssid = Text.of(table, "ssid")
    problems.add(ssid.longer_than(MAX_SSID_CHARS), "ssid", f"longer than {MAX_SSID_CHARS} characters")
    return {"seq": seq_out, "ies": ies, "ssid": ssid}
