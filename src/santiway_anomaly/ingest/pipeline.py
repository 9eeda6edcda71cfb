"""Ingest: read → map columns → validate → store good rows and rejects, batch by batch.

Idempotent by content (`dedup.py`): a sighting (all its fields equal) already stored, or
repeated in the input, is not stored again, whatever file or request it comes from, so re-running
a corrected copy after a crash stores each sighting once. Each insert also carries a deduplication
token (a hash of its rows), so ClickHouse drops a block re-sent by a retry. `anomaly_ml.ingest_batches`
records every stored batch of a file, so a re-run of the same file skips the work entirely.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from loguru import logger

from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.agreement import aggregates_kept_in_agreement
from santiway_anomaly.ingest.dedup import INSERT_LOCK, Deduper, split_by_days
from santiway_anomaly.ingest.encoding import check_text_file
from santiway_anomaly.ingest.mac import load_vendor_registry
from santiway_anomaly.ingest.read_ahead import read_ahead
from santiway_anomaly.ingest.readers import (
    READER_VERSION,
    RawBatch,
    ReadError,
    detect_format,
    read_batches,
    total_size,
)
from santiway_anomaly.ingest.records import Limits
from santiway_anomaly.ingest.text_rules import reject_control_characters
from santiway_anomaly.ingest.validate import LINE, Reject, validate_encoded
from santiway_anomaly.sightings import INPUT_FIELDS, REQUIRED_FIELDS
from santiway_anomaly.storage.queries import ingest as queries
from santiway_anomaly.storage.store import Store

MAX_REJECTS_KEPT_IN_REPORT = 1000


class MappingError(ValueError):
    """The columns the file has cannot provide the fields a sighting needs."""


@dataclass
class IngestReport:
    source: str
    accepted: int = 0
    rejected: int = 0
    already_stored: int = 0
    # Good rows not stored because the same sighting was stored before or came earlier in the input.
    duplicates: int = 0
    batches: int = 0
    seconds: float = 0.0
    rejects: list[Reject] = field(default_factory=list)

    def add_rejects(self, rejects: list[Reject]) -> None:
        self.rejected += len(rejects)
        room = MAX_REJECTS_KEPT_IN_REPORT - len(self.rejects)
        if room > 0:
            self.rejects.extend(rejects[:room])

    @property
    def rows_per_second(self) -> float:
        return (self.accepted + self.rejected) / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "already_stored": self.already_stored,
            "duplicates": self.duplicates,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "rejects": [r.to_dict() for r in self.rejects],
            "rejects_truncated": self.rejected > len(self.rejects),
        }


@dataclass(frozen=True)
class ColumnMapping:
    """`renames`: target field -> source column; `constants`: target field -> fixed value."""

    renames: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, maps: list[str], sets: list[str]) -> ColumnMapping:
        return cls(_pairs(maps, "--map", "target=source"), _pairs(sets, "--set", "field=value"))

    def apply(self, table: pa.Table) -> pa.Table:
        columns: dict[str, pa.Array | pa.ChunkedArray] = {}
        available = set(table.column_names)
        for target in INPUT_FIELDS:
            if target in self.constants:
                columns[target] = pa.array([self.constants[target]] * table.num_rows, type=pa.string())
            elif target in self.renames:
                source = self.renames[target]
                if source not in available:
                    raise MappingError(f"--map {target}={source}: the file has no column {source!r}; "
                                       f"it has {sorted(available - {LINE})}")
                columns[target] = table.column(source)
            elif target in available:
                columns[target] = table.column(target)
        columns[LINE] = table.column(LINE)
        return pa.table(columns)

    def check(self, column_names: list[str]) -> None:
        """Refuse before storing anything when a required field has no source."""
        available = set(column_names) - {LINE}
        missing = [f for f in REQUIRED_FIELDS
                   if f not in self.constants and self.renames.get(f, f) not in available]
        if missing:
            raise MappingError(
                f"no column for required field(s) {', '.join(missing)}; the file has {sorted(available)}. "
                "Map a column with --map FIELD=COLUMN or give a constant with --set FIELD=VALUE"
            )

    def fingerprint(self) -> str:
        return json.dumps({"map": dict(self.renames), "set": dict(self.constants)}, sort_keys=True)


def _pairs(items: list[str], option: str, shape: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or not key or not value.strip():
                raise MappingError(f"{option} {part!r}: expected {shape}")
            if key not in INPUT_FIELDS:
                raise MappingError(f"{option} {part!r}: {key!r} is not a sighting field; fields are "
                                   f"{', '.join(INPUT_FIELDS)}")
            out[key] = value.strip()
    return out


def _store_batch(store: Store, stored: pa.Table, rejects: list[Reject], source: str, token: str | None,
                 max_days: int, dedup: Deduper) -> int:
    """Store the batch's new sightings and its rejects; returns how many sightings were new."""
    new = 0
    if stored.num_rows:
        with INSERT_LOCK:
            fresh = dedup.fresh(store, stored)
            # A failure half way through leaves raw rows and aggregates in agreement (agreement.py).
            with aggregates_kept_in_agreement(store, fresh):
                for i, part in enumerate(split_by_days(fresh, max_days)):
                    # ClickHouse drops a block whose token it has seen: a retried insert is not stored twice.
                    part_token = f"{token}:{i}:{part.num_rows}" if token else None
                    queries.insert_sightings(store, part, part_token)
            new = fresh.num_rows
    queries.insert_rejects(store, source, rejects)
    return new


def ingest_table(store: Store, table: pa.Table, source: str, settings: Settings | None = None,
                 *, mapping: ColumnMapping | None = None) -> IngestReport:
    """Validate and store one in-memory batch (API, live feed). Adds `__line` (1-based) if absent.

    The batch's content hash is its deduplication token: the same batch posted twice is stored once.
    """
    started = time.perf_counter()
    if LINE not in table.column_names:
        table = table.append_column(LINE, pa.array(range(1, table.num_rows + 1), type=pa.int64()))
    mapping = mapping or ColumnMapping()
    mapping.check(table.column_names)
    report = IngestReport(source=source)
    stored, rejects = _validate_safely(mapping.apply(table))
    max_days = settings.ingest_max_days_per_insert if settings else 90
    token = "batch:" + _table_digest(stored) if stored.num_rows else None
    new = _store_batch(store, stored, rejects, source, token, max_days, Deduper(store, across_batches=False))
    report.accepted, report.duplicates, report.batches = new, stored.num_rows - new, 1
    report.add_rejects(rejects)
    report.seconds = time.perf_counter() - started
    return report


def _table_digest(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:40]


def file_digest(path: Path, extra: str) -> str:
    digest = hashlib.sha256(extra.encode("utf-8"))
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_file(store: Store, path: Path, settings: Settings, *, fmt: str | None = None,
                mapping: ColumnMapping | None = None,
                progress: Callable[[int, int], None] | None = None) -> IngestReport:
    """Stream one file into the store; `progress(done, total)` is called after each stored insert.

    Reading and validating run on a thread of their own, up to two batches ahead of storing
    (`read_ahead`: bounded, so memory stays bounded); consecutive validated batches are stored in one
    insert of at least INGEST_INSERT_ROWS rows. A batch counts as stored, and is reported, only once
    its insert and its log row are written.
    """
    started = time.perf_counter()
    fmt = detect_format(path, fmt)
    if fmt != "parquet":
        what = check_text_file(path)  # UTF-16, gzip, NUL bytes: one sentence instead of a reject per line
        if what:
            raise ReadError(f"the file is {what}")
    mapping = mapping or ColumnMapping()
    batch_rows = settings.ingest_batch_rows
    source = str(path.resolve())
    # The reader's version is part of the key: Parquet batches now end at row-group boundaries, so a
    # batch number of an earlier version may name other rows (content dedup covers the re-run).
    source_hash = file_digest(path, f"{fmt}|{batch_rows}|{mapping.fingerprint()}|{READER_VERSION}")
    done_batches = queries.done_batches(store, source_hash)
    report = IngestReport(source=source)
    total = total_size(path, fmt)
    dedup = Deduper(store, across_batches=True)

    def prepared() -> Iterator[_PreparedBatch]:
        for batch_no, raw in enumerate(read_batches(path, fmt, batch_rows, Limits.from_settings(settings))):
            if batch_no == 0:
                mapping.check(raw.table.column_names)
            if batch_no in done_batches:
                yield _PreparedBatch(batch_no, pa.table({}), [], done_batches[batch_no], raw.end_offset,
                                     skipped=True)
                continue
            yield _prepare(raw, mapping, batch_no)

    def store_group(group: list[_PreparedBatch]) -> None:
        parts = [b.stored for b in group if b.stored.num_rows]
        stored = (parts[0] if len(parts) == 1 else pa.concat_tables(parts).combine_chunks()) if parts else pa.table({})
        rejects = [r for b in group for r in b.rejects]
        token = f"{source_hash}:{group[0].number}" + (f"-{group[-1].number}" if len(group) > 1 else "")
        new = _store_batch(store, stored, rejects, source, token, settings.ingest_max_days_per_insert, dedup)
        queries.record_batches(store, source_hash, source, [(b.number, b.rows) for b in group])
        report.accepted += new
        report.duplicates += stored.num_rows - new
        report.add_rejects(rejects)
        report.batches = max(report.batches, group[-1].number + 1)
        for b in group:
            logger.debug("Stored batch {} of {}", b.number, path.name)
        if progress:
            progress(group[-1].end_offset, total)

    group: list[_PreparedBatch] = []
    group_columns: list[str] = []
    with read_ahead(prepared(), depth=2) as batches:
        load_vendor_registry()  # ~0.1 s, while the reading thread reads the first batch
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception:
                if group:  # the rows read before a damaged part of the file are stored, then the error
                    store_group(group)
                raise
            if batch.skipped:
                report.already_stored += batch.rows
                report.batches = max(report.batches, batch.number + 1)
                continue
            columns = batch.stored.column_names if batch.stored.num_rows else []
            if columns and group_columns and columns != group_columns:
                store_group(group)  # one insert holds one set of columns (with probe fields or without)
                group = []
            group_columns = columns or group_columns
            group.append(batch)
            if sum(b.stored.num_rows for b in group) >= settings.ingest_insert_rows:
                store_group(group)
                group, group_columns = [], []
        if group:
            store_group(group)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _PreparedBatch:
    number: int
    stored: pa.Table
    rejects: list[Reject]
    rows: int
    end_offset: int
    skipped: bool = False  # stored by an earlier run of the same file


def _validate_safely(table: pa.Table) -> tuple[pa.Table, list[Reject]]:
    """Rows with control characters rejected (text_rules.py), the rest validated (`_validate_rows`)."""
    table, damaged = reject_control_characters(table)
    stored, rejects = _validate_rows(table)
    return stored, sorted(damaged + rejects, key=lambda r: r.line) if damaged else rejects


def _validate_rows(table: pa.Table) -> tuple[pa.Table, list[Reject]]:
    """`validate`, and if a value it was not written for makes it fail, row by row: the rows that
    still fail are rejected with the error, the others stored (one bad row never fails a batch)."""
    try:
        return validate_encoded(table)
    except Exception as exc:
        logger.warning("validation failed on a batch ({}: {}); validating its {} rows one by one",
                       type(exc).__name__, exc, table.num_rows)
    good: list[pa.Table] = []
    rejects: list[Reject] = []
    for i in range(table.num_rows):
        row = table.slice(i, 1)
        try:
            stored, more = validate_encoded(row)
        except Exception as exc:
            line = row.column(LINE)[0].as_py()
            rejects.append(Reject(int(line), "row", f"unreadable value ({type(exc).__name__})", ""))
            continue
        rejects.extend(more)
        if stored.num_rows:
            good.append(stored)
    stored = pa.concat_tables(good) if good else validate_encoded(table.slice(0, 0))[0]
    return stored, rejects


def _prepare(raw: RawBatch, mapping: ColumnMapping, number: int) -> _PreparedBatch:
    stored, rejects = _validate_safely(mapping.apply(raw.table)) if raw.table.num_rows else (pa.table({}), [])
    all_rejects = sorted(raw.rejects + rejects, key=lambda r: r.line)
    return _PreparedBatch(number, stored, all_rejects, raw.table.num_rows + len(raw.rejects), raw.end_offset)


def stored_count(store: Store) -> int:
    return queries.count_sightings(store)


__all__ = ["ColumnMapping", "IngestReport", "MappingError", "ingest_file", "ingest_table"]
