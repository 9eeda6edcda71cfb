"""Stream a sightings file as batches of raw columns, each row tagged with its line number.

CSV and NDJSON rows that cannot even be parsed (truncated, non-UTF-8, not JSON) become rejects
here; everything parseable goes on to `validate`. Memory stays bounded by the batch size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from santiway_anomaly.ingest.validate import LINE, Reject

FORMATS = ("csv", "ndjson", "parquet", "json")


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


def read_batches(path: Path, fmt: str, batch_rows: int) -> Iterator[RawBatch]:
    if fmt == "parquet":
        yield from _parquet(path, batch_rows)
    elif fmt == "csv":
        with open(path, "rb") as fh:
            yield from _csv(fh, batch_rows)
    elif fmt == "ndjson":
        with open(path, "rb") as fh:
            yield from _ndjson(fh, batch_rows)
    elif fmt == "json":
        yield from _json_array(path, batch_rows)
    else:
        raise ReadError(f"unknown format {fmt!r}")


def total_size(path: Path, fmt: str) -> int:
    """The unit `RawBatch.end_offset` counts in: rows for Parquet, bytes otherwise."""
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return path.stat().st_size


def _parquet(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReadError(f"{path.name} is not a readable Parquet file: {exc}") from exc
    start = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([batch])
        lines = pa.array(range(start + 1, start + table.num_rows + 1), type=pa.int64())
        start += table.num_rows
        yield RawBatch(table.append_column(LINE, lines), end_offset=start)


def _decode_lines(raw: list[bytes], first_line: int) -> tuple[list[str | None], list[Reject]]:
    try:
        return list(b"".join(raw).decode("utf-8").splitlines(keepends=True)), []
    except UnicodeDecodeError:
        pass
    out: list[str | None] = []
    rejects: list[Reject] = []
    for i, line in enumerate(raw):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            out.append(None)
            bad = line[exc.start:exc.start + 1].hex()
            rejects.append(Reject(first_line + i, "row", f"not valid UTF-8 (byte 0x{bad} at column {exc.start + 1})",
                                  line.decode("utf-8", errors="replace").rstrip("\r\n")))
    return out, rejects


def _chunks(fh: BinaryIO, batch_rows: int, first_line: int) -> Iterator[tuple[int, list[bytes]]]:
    chunk: list[bytes] = []
    start = first_line
    line_no = first_line
    for line in fh:
        if not chunk:
            start = line_no
        chunk.append(line)
        line_no += 1
        if len(chunk) >= batch_rows:
            yield start, chunk
            chunk = []
    if chunk:
        yield start, chunk


def _columns_table(header: list[str], rows: list[list[Any]], lines: list[int]) -> pa.Table:
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(header):
        cols[name] = pa.array([r[j] for r in rows], type=pa.string())
    cols[LINE] = pa.array(lines, type=pa.int64())
    return pa.table(cols)


def _csv(fh: BinaryIO, batch_rows: int) -> Iterator[RawBatch]:
    first = fh.readline()
    try:
        header_text = first.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise ReadError("the CSV header (line 1) is not valid UTF-8") from exc
    if not header_text:
        raise ReadError("the CSV file is empty or has no header line")
    dialect_delim = "\t" if header_text.count("\t") > header_text.count(",") else ","
    header = [h.strip() for h in next(csv.reader([header_text], delimiter=dialect_delim))]
    if len(set(header)) != len(header):
        raise ReadError(f"the CSV header repeats a column name: {header}")
    for start, raw in _chunks(fh, batch_rows, first_line=2):
        texts, rejects = _decode_lines(raw, start)
        rows: list[list[Any]] = []
        lines: list[int] = []
        kept = [(start + i, t) for i, t in enumerate(texts) if t is not None and t.strip()]
        # One reader over the whole chunk is fast; an unbalanced quote makes it join lines, and then
        # each line is parsed alone so that every record keeps its own line number.
        parsed_rows = list(csv.reader([t for _, t in kept], delimiter=dialect_delim))
        if len(parsed_rows) != len(kept):
            parsed_rows = [next(csv.reader([t], delimiter=dialect_delim), []) for _, t in kept]
        for (line_no, text), parsed in zip(kept, parsed_rows, strict=True):
            if len(parsed) != len(header):
                reason = (f"truncated line: expected {len(header)} fields, found {len(parsed)}"
                          if len(parsed) < len(header) else
                          f"too many fields: expected {len(header)}, found {len(parsed)}")
                rejects.append(Reject(line_no, "row", reason, text.rstrip("\r\n")))
                continue
            rows.append([v if v != "" else None for v in parsed])
            lines.append(line_no)
        yield RawBatch(_columns_table(header, rows, lines), rejects, end_offset=fh.tell())


def records_table(records: list[dict[str, Any]], lines: list[int]) -> pa.Table:
    """Arrow table of strings from JSON-like records (values stringified; null/absent stay null)."""
    names: dict[str, None] = {}
    for rec in records:
        names.update(dict.fromkeys(rec))
    cols = {
        name: pa.array([_as_text(rec.get(name)) for rec in records], type=pa.string()) for name in names
    }
    cols[LINE] = pa.array(lines, type=pa.int64())
    return pa.table(cols) if records else pa.table({LINE: pa.array([], type=pa.int64())})


def _as_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def parse_ndjson_lines(texts: list[str | None], start: int) -> tuple[list[dict[str, Any]], list[int], list[Reject]]:
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    rejects: list[Reject] = []
    for i, text in enumerate(texts):
        if text is None or not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(start + i, "row", f"not valid JSON ({exc.msg} at column {exc.colno})",
                                  text.rstrip("\r\n")))
            continue
        if not isinstance(value, dict):
            rejects.append(Reject(start + i, "row", "not a JSON object", text.rstrip("\r\n")))
            continue
        records.append(value)
        lines.append(start + i)
    return records, lines, rejects


def _ndjson(fh: BinaryIO, batch_rows: int) -> Iterator[RawBatch]:
    for start, raw in _chunks(fh, batch_rows, first_line=1):
        texts, rejects = _decode_lines(raw, start)
        records, lines, more = parse_ndjson_lines(texts, start)
        yield RawBatch(records_table(records, lines), rejects + more, end_offset=fh.tell())


def _json_array(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"{path.name} is not a JSON array of objects: {exc}") from exc
    if not isinstance(data, list):
        raise ReadError(f"{path.name} must hold a JSON array of sighting objects")
    size = path.stat().st_size
    for start in range(0, len(data), batch_rows):
        part = data[start:start + batch_rows]
        records, lines, rejects = [], [], []
        for i, rec in enumerate(part, start=start + 1):
            if isinstance(rec, dict):
                records.append(rec)
                lines.append(i)
            else:
                rejects.append(Reject(i, "row", "not a JSON object", json.dumps(rec)[:500]))
        yield RawBatch(records_table(records, lines), rejects, end_offset=size)
