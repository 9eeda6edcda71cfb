"""Bulk inserts into the embedded store through chDB's in-process Arrow path.

clickhouse-connect's chDB backend serialises an Arrow table to ClickHouse's Native format in Python,
writes it to a temporary file and runs `INSERT ... FROM INFILE`. chDB's `Python()` table function
reads the Arrow table in place instead, which made a sightings insert about 1.4x faster here
(benchmarks/ingest.py). chDB documents that any number of connections may be open on one path in a
process, each with its own session, so this path has a connection of its own and never interleaves
with the client's queries on the same connection.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import chdb

from santiway_anomaly.storage.names import identifier

if TYPE_CHECKING:
    import pyarrow as pa

# Setting values go into SQL text (a SETTINGS clause takes no bound parameters): allow only what our
# own settings use, numbers and tokens made of hashes, digits and separators.
_SETTING_VALUE = re.compile(r"^[A-Za-z0-9:_.\-]{1,256}$")


class ChdbBulkInserter:
    """One chDB connection used only for Arrow inserts; thread-safe (one insert at a time)."""

    def __init__(self, path: Path) -> None:
        self._conn: Any = chdb.connect(str(path))  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()

    def insert(self, table: str, data: pa.Table, settings: Mapping[str, int | str]) -> None:
        if data.num_rows == 0:
            return
        columns = ", ".join(identifier(name) for name in data.column_names)
        clause = ", ".join(f"{identifier(key)} = {_setting_literal(value)}" for key, value in settings.items())
        sql = (f"INSERT INTO {identifier(table)} ({columns}) SELECT {columns} FROM Python(arrow_batch)"
               + (f" SETTINGS {clause}" if clause else ""))
        arrow_batch = data  # noqa: F841 - chDB's Python() table function looks this local up by name
        with self._lock:
            self._conn.query(sql, "TabSeparated")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _setting_literal(value: int | str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"unsupported setting value {value!r}")
    if isinstance(value, int):
        return str(value)
    if not _SETTING_VALUE.fullmatch(value):
        raise ValueError(f"setting value {value!r} has characters other than letters, digits and :_.-")
    return f"'{value}'"
