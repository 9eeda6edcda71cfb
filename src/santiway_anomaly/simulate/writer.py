"""Streaming output: sightings to Parquet (row groups) and/or CSV as they are generated, so memory
stays bounded by one batch; plus the small side files (truth, world, device roles)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from santiway_anomaly.simulate.engine import SIGHTING_SCHEMA

FORMATS = ("parquet", "csv", "both")
ROW_GROUP_ROWS = 1_000_000  # ~10-20 MB compressed: readers can skip, writers stay small
DICTIONARY_COLUMNS = ["device_id", "sensor_id", "folder", "network_type", "vendor"]


class SightingWriter:
    def __init__(self, out_dir: Path, fmt: str = "parquet") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        if fmt in ("parquet", "both"):
            path = out_dir / "sightings.parquet"
            # zstd level 1 and dictionaries only for the string columns: lat/lon/ts are near-unique, and
            # trying dictionaries on them costs a third of the write time for nothing (measured).
            self._parquet = pq.ParquetWriter(path, SIGHTING_SCHEMA, compression="zstd", compression_level=1,
                                             use_dictionary=DICTIONARY_COLUMNS)
            self.paths.append(path)
        if fmt in ("csv", "both"):
            path = out_dir / "sightings.csv"
            self._csv = pacsv.CSVWriter(path, csv_schema())
            self.paths.append(path)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._parquet is not None:
            self._parquet.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if self._csv is not None:
            self._csv.write_table(to_csv_table(table))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()

    def __enter__(self) -> SightingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def csv_schema() -> pa.Schema:
    return SIGHTING_SCHEMA.set(0, pa.field("ts", pa.string(), nullable=False))


def to_csv_table(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 with milliseconds and a Z, which every parser reads as UTC."""
    ts = pc.strftime(table.column("ts"), format="%Y-%m-%dT%H:%M:%SZ")
    return table.set_column(0, pa.field("ts", pa.string(), nullable=False), ts)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]], *, append: bool = False) -> None:
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
