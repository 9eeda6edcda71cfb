"""Stream a sightings file as batches of raw columns, each row tagged with its line number.

CSV and NDJSON rows that cannot even be parsed (truncated, non-UTF-8, not JSON, over a length
limit, a Parquet value of a shape no sighting field has) become rejects here; everything
parseable goes on to `validate`. Only a file that cannot be read at all (no header, not Parquet,
not a JSON array) is a `ReadError`. Memory stays bounded by the batch size (JSON arrays: the file).

Lines are split the way the format says: CSV by its quoting rules (a quoted field may hold a line
break), NDJSON on "\n" (with an optional "\r"), never `str.splitlines()`, which also breaks on
U+2028, U+0085, form feeds and other characters that are legal inside a field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from santiway_anomaly.ingest.records import (
    JsonTooDeep,
    Limits,
    loads,
    parse_array,
    parse_ndjson,
    records_table,
    split_lines,
)
from santiway_anomaly.ingest.validate import LINE, Reject

FORMATS = ("csv", "ndjson", "parquet", "json")
# Changes when the same file and settings would be cut into different batches (2: Parquet text read
# as dictionaries, whose batches end at row-group boundaries).
READER_VERSION = 2


class ReadError(ValueError):
    """The file as a whole cannot be read (unknown format, no header, unreadable)."""


@dataclass
class RawBatch:
    table: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    end_offset: int = 0  # bytes (text formats) or rows (Parquet) consumed so far, for progress


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise ReadError(f"unknown format {explicit!r}; choose one of {', '.join(FORMATS)}")
        return explicit
    suffix = path.suffix.lower().lstrip(".")
    aliases = {"csv": "csv", "tsv": "csv", "ndjson": "ndjson", "jsonl": "ndjson", "parquet": "parquet",
               "pq": "parquet", "json": "json"}
    if suffix not in aliases:
        raise ReadError(f"cannot tell the format of {path.name}: use --format {'|'.join(FORMATS)}")
    return aliases[suffix]


def read_batches(path: Path, fmt: str, batch_rows: int, limits: Limits | None = None) -> Iterator[RawBatch]:
    limits = limits or Limits()
    if fmt == "parquet":
        yield from _parquet(path, batch_rows)
    elif fmt == "csv":
        with open(path, "rb") as fh:
            yield from _csv(fh, batch_rows, limits)
    elif fmt == "ndjson":
        with open(path, "rb") as fh:
            yield from _ndjson(fh, batch_rows, limits)
    elif fmt == "json":
        yield from _json_array(path, batch_rows, limits)
    else:
        raise ReadError(f"unknown format {fmt!r}")


def total_size(path: Path, fmt: str) -> int:
    """The unit `RawBatch.end_offset` counts in: rows for Parquet, bytes otherwise."""
    if fmt == "parquet":
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception as exc:  # pyarrow raises several types for a damaged file; all mean "unreadable"
            raise ReadError(f"{path.name} is not a readable Parquet file: {exc}") from None
    return path.stat().st_size


# ---- Parquet ---------------------------------------------------------------------------------


def _parquet(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    try:
        schema = pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # pyarrow raises several types for a damaged file; all mean "unreadable"
        raise ReadError(f"{path.name} is not a readable Parquet file: {exc}") from None
    names = schema.names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ReadError(f"{path.name}: column(s) {', '.join(repeated)} appear more than once; "
                        "a sighting field must come from one column")
    # Text columns read as dictionaries (Parquet stores them so): a third of the read time of
    # decoding every string, and `validate` works on the distinct values anyway.
    texts = [f.name for f in schema if pa.types.is_string(f.type)]
    try:
        pf = pq.ParquetFile(path, read_dictionary=texts)
    except Exception as exc:  # pyarrow raises several types for a damaged file; all mean "unreadable"
        raise ReadError(f"{path.name} is not a readable Parquet file: {exc}") from None
    start = 0
    batches = pf.iter_batches(batch_size=batch_rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # a damaged row group: the rows read so far are stored
            raise ReadError(f"{path.name}: cannot read rows after row {start:,}: {exc}") from None
        table = pa.Table.from_batches([batch])
        lines = pa.array(np.arange(start + 1, start + table.num_rows + 1, dtype=np.int64))
        start += table.num_rows
        table, rejects = _plain_columns(table.append_column(LINE, lines))
        yield RawBatch(table, rejects, end_offset=start)


def _plain_columns(table: pa.Table) -> tuple[pa.Table, list[Reject]]:
    """Bring every column to a type `validate` reads (text, number, timestamp); rows whose value
    cannot be a sighting field (a list, a struct, bytes that are not UTF-8) become rejects."""
    if all(_plain(t) for t in table.schema.types):
        return table, []  # the usual case (our own and most exports): nothing to convert
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    cols: dict[str, pa.Array] = {}

    def mark(mask: np.ndarray, reason: str) -> None:
        for i in np.flatnonzero(mask & ~bad).tolist():
            reasons[i] = reason
        bad[:] |= mask

    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if name == LINE:
            cols[name] = col
            continue
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        kind = col.type

        def present(col: pa.Array = col) -> np.ndarray:
            return np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)

        if pa.types.is_nested(kind):
            mark(present(), f"{name}: a {kind} value where a single value belongs")
            cols[name] = pa.nulls(n, pa.string())
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
            texts: list[str | None] = []
            for i, value in enumerate(col.to_pylist()):
                try:
                    texts.append(None if value is None else value.decode("utf-8"))
                except UnicodeDecodeError:
                    texts.append(None)
                    mark(_one(n, i), f"{name}: bytes that are not valid UTF-8 text")
            cols[name] = pa.array(texts, type=pa.string())
        elif pa.types.is_large_string(kind):
            cols[name] = col.cast(pa.string())
        elif pa.types.is_unsigned_integer(kind) or pa.types.is_decimal(kind):
            # uint64 beyond int64 and decimals: as float, then the range checks decide.
            cols[name] = col.cast(pa.float64(), safe=False)
        elif pa.types.is_date(kind):
            cols[name] = col.cast(pa.timestamp("ms")) if name == "ts" else col.cast(pa.string())
        elif _plain(kind) or pa.types.is_null(kind):
            cols[name] = col
        else:  # time-of-day, duration, boolean, ...: no sighting field has that shape
            mark(present(), f"{name}: a {kind} value where a sighting field belongs")
            cols[name] = pa.nulls(n, pa.string())
    # No length check here: Parquet values are already in memory, and `validate` limits every text
    # it stores (MAX_TEXT, the MAC and network patterns).
    out = pa.table(cols)
    if not bad.any():
        return out, []
    line_col = table.column(LINE).to_numpy()
    rejects = [Reject(int(line_col[i]), reasons[i].split(":", 1)[0], reasons[i], "") for i in sorted(reasons)]
    return out.filter(pa.array(~bad)), rejects


def _plain(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):  # text read as a dictionary (see `_parquet`)
        return bool(pa.types.is_string(kind.value_type))
    return bool(pa.types.is_string(kind) or pa.types.is_signed_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_timestamp(kind))


def _one(n: int, i: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    return mask


# ---- CSV ----------------------------------------------------------------------------------------


def _columns_table(header: list[str], rows: list[list[str | None]], lines: list[int]) -> pa.Table:
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(header):
        cols[name] = pa.array([r[j] for r in rows], type=pa.string())
    cols[LINE] = pa.array(lines, type=pa.int64())
    return pa.table(cols)


class _Lines:
    """Physical lines (split on b"\n") decoded one by one; the lines of the current record are kept
    so a record that spans several lines (a quoted line break, or an unbalanced quote) can be
    taken apart again. Undecodable or over-long lines become rejects and are not fed to the parser."""

    def __init__(self, fh: BinaryIO, first_line: int, limits: Limits) -> None:
        self.fh = fh
        self.next_no = first_line
        self.limits = limits
        self.current: list[tuple[int, str]] = []
        self.rejects: list[Reject] = []

    def __iter__(self) -> Iterator[str]:
        limit = self.limits.max_row_bytes
        for raw in self.fh:
            no = self.next_no
            self.next_no += 1
            if len(raw) > limit:
                self.rejects.append(Reject(no, "row", f"line of {len(raw):,} bytes, over the {limit:,} limit "
                                           "(INGEST_MAX_ROW_BYTES)", raw[:500].decode("utf-8", errors="replace")))
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1].hex()
                self.rejects.append(Reject(no, "row", f"not valid UTF-8 (byte 0x{bad} at column {exc.start + 1})",
                                           raw.decode("utf-8", errors="replace").rstrip("\r\n")))
                continue
            self.current.append((no, text))
            yield text


def _csv(fh: BinaryIO, batch_rows: int, limits: Limits) -> Iterator[RawBatch]:
    first = fh.readline()
    try:
        header_text = first.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise ReadError("the CSV header (line 1) is not valid UTF-8") from exc
    if not header_text:
        raise ReadError("the CSV file is empty or has no header line")
    delim = "\t" if header_text.count("\t") > header_text.count(",") else ","
    header = [h.strip() for h in next(csv.reader([header_text], delimiter=delim))]
    if len(set(header)) != len(header):
        raise ReadError(f"the CSV header repeats a column name: {header}")
    width = len(header)
    # The csv module's own field limit is process-wide; ours is per row and reported per line.
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_row_bytes))
    source = _Lines(fh, 2, limits)
    reader = csv.reader(source, delimiter=delim)
    rows: list[list[str | None]] = []
    lines: list[int] = []
    rejects: list[Reject] = []

    def take(no: int, parsed: list[str], text: str) -> None:
        if len(parsed) != width:
            reason = (f"truncated line: expected {width} fields, found {len(parsed)}" if len(parsed) < width
                      else f"too many fields: expected {width}, found {len(parsed)}")
            rejects.append(Reject(no, "row", reason, text.rstrip("\r\n")[:500]))
            return
        long = max(len(v) for v in parsed)
        if long > limits.max_field_chars:
            rejects.append(Reject(no, "row", f"a field of {long:,} characters, over the {limits.max_field_chars:,} "
                                  "limit (INGEST_MAX_FIELD_CHARS)", text[:500]))
            return
        rows.append([v if v != "" else None for v in parsed])
        lines.append(no)

    while True:
        try:
            parsed = next(reader)
            error = None
        except StopIteration:
            break
        except csv.Error as exc:
            parsed, error = [], str(exc)
        consumed, source.current = source.current, []
        if not consumed:
            continue
        if error is not None:
            for no, text in consumed or [(source.next_no - 1, "")]:
                rejects.append(Reject(no, "row", f"not a CSV record ({error})", text.rstrip("\r\n")[:500]))
        elif len(consumed) == 1 or (len(parsed) == width and not _swallowed(consumed[1:], width, delim)):
            if parsed and any(v.strip() for v in parsed) or len(parsed) > 1:
                take(consumed[0][0], parsed, "".join(t for _, t in consumed))
        else:
            # A record over several lines with the wrong width, or whose later lines are whole records
            # themselves: an unbalanced quote swallowed them. Each line is read alone, so the good
            # ones among them are kept and only the line with the stray quote is rejected.
            for no, text in consumed:
                try:
                    # strict: the line with the stray quote ends inside quotes, and that is its error
                    alone = next(csv.reader([text], delimiter=delim, strict=True), [])
                except csv.Error as exc:
                    rejects.append(Reject(no, "row", f"not a CSV record ({exc})", text.rstrip("\r\n")[:500]))
                    continue
                if alone and (len(alone) > 1 or alone[0].strip()):
                    take(no, alone, text)
        if len(rows) + len(rejects) >= batch_rows:
            yield RawBatch(_columns_table(header, rows, lines), _sorted(rejects + source.rejects), fh.tell())
            rows, lines, rejects, source.rejects = [], [], [], []
    yield RawBatch(_columns_table(header, rows, lines), _sorted(rejects + source.rejects), fh.tell())


def _swallowed(lines: list[tuple[int, str]], width: int, delim: str) -> bool:
    """True when a continuation line of a multi-line record is a full record on its own: a quoted
    line break inside a field leaves a tail of the record, not a whole one."""
    for _, text in lines:
        try:
            if len(next(csv.reader([text], delimiter=delim), [])) == width:
                return True
        except csv.Error:
            continue
    return False


def _sorted(rejects: list[Reject]) -> list[Reject]:
    return sorted(rejects, key=lambda r: r.line)


# ---- NDJSON and JSON arrays -------------------------------------------------------------------


def _ndjson(fh: BinaryIO, batch_rows: int, limits: Limits) -> Iterator[RawBatch]:
    line_no = 1
    chunk: list[bytes] = []
    for raw in fh:  # binary iteration splits on b"\n" only
        chunk.append(raw)
        if len(chunk) >= batch_rows:
            yield _ndjson_batch(chunk, line_no, limits, fh.tell())
            line_no += len(chunk)
            chunk = []
    if chunk:
        yield _ndjson_batch(chunk, line_no, limits, fh.tell())


def _ndjson_batch(chunk: list[bytes], start: int, limits: Limits, offset: int) -> RawBatch:
    raw_lines = [c[:-1] if c.endswith(b"\n") else c for c in chunk]
    raw_lines = [c[:-1] if c.endswith(b"\r") else c for c in raw_lines]
    records, lines, rejects = parse_ndjson(raw_lines, start, limits)
    return RawBatch(records_table(records, lines), rejects, end_offset=offset)


def _json_array(path: Path, batch_rows: int, limits: Limits) -> Iterator[RawBatch]:
    try:
        data = loads(path.read_bytes().decode("utf-8-sig"), limits)
    except (UnicodeDecodeError, json.JSONDecodeError, JsonTooDeep) as exc:
        raise ReadError(f"{path.name} is not a JSON array of objects: {exc}") from None
    if not isinstance(data, list):
        raise ReadError(f"{path.name} must hold a JSON array of sighting objects")
    size = path.stat().st_size
    for start in range(0, len(data), batch_rows):
        records, lines, rejects = parse_array(data[start:start + batch_rows], limits)
        lines = [line + start for line in lines]
        rejects = [Reject(r.line + start, r.field, r.reason, r.raw) for r in rejects]
        yield RawBatch(records_table(records, lines), rejects, end_offset=size)


__all__ = ["FORMATS", "READER_VERSION", "RawBatch", "ReadError", "detect_format", "read_batches", "split_lines",
           "total_size"]
