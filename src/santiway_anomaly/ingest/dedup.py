"""Idempotent by content: a sighting already stored, or repeated within the input, is stored once.

Three checks per batch, right before its insert (`Deduper.fresh`):
1. repeats inside the batch: a 64-bit mix of the key columns (numbers' bits, codes of texts) is
   sorted and scanned for equal neighbours; only when some exist is the exact group-by run (rare);
2. rows stored before this run: the stored keys in the batch's time span are fetched (none, on new
   data: one `count()` over the daily partitions) and the batch is anti-joined against them;
3. rows stored by earlier batches of this run (a file's batches overlap in time when it is not
   sorted): their 64-bit content hashes are kept (`HashRuns`), and only a batch row whose device was
   in an earlier batch and whose hash matches one is checked exactly against the store. Fetching the
   run's own rows instead tripled the ingest time.
Check 2 is skipped for a batch outside the time span stored before the run (one query at its start).
Check and insert run under one lock, so two ingests in this process cannot both store a row.
Two runs over the same rows at the same instant in two processes are not covered (the embedded
store has one process; on a server, run one ingest per source).
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from santiway_anomaly.storage.queries.ingest import server_now_ms
from santiway_anomaly.storage.sightings import SIGHTING_KEY, TEXT_FIELDS, stored_keys_between, stored_span
from santiway_anomaly.storage.store import Store

INSERT_LOCK = threading.Lock()
_ROW = "__row"
_ODD = np.uint64(0x9E3779B97F4A7C15)


def _key_table(table: pa.Table) -> pa.Table:
    """The key columns as plain types: joins and group-bys compare values, and a dictionary column
    (how `validate` stores text) would be compared by code."""
    def plain(name: str) -> pa.ChunkedArray:
        col = table.column(name)
        if name == "ts":
            return col.cast(pa.int64())
        return col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col

    return pa.table({name: plain(name) for name in SIGHTING_KEY})


def _as_u64(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    values: np.ndarray = np.asarray(arr.to_numpy(zero_copy_only=False))
    if values.dtype == np.float64:
        out: np.ndarray = values.view(np.uint64)
    else:
        out = values.astype(np.int64).view(np.uint64)
    return out


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


class RowHasher:
    """64-bit content hashes of rows, stable across the batches hashed by one instance (texts get
    codes from one table of values). Equal rows hash equal; a collision only costs an exact check."""

    # A subset of the key: rows differing only in sensor (a sensor's place is in lat/lon), folder,
    # network or vendor collide, and the exact check sorts them out. Each text column costs a
    # dictionary encoding (~15 ms per 500k rows); the numbers cost next to nothing.
    HASHED = ("ts", "device_id", "rssi", "lat", "lon")

    def __init__(self) -> None:
        self._codes: dict[str, dict[str, int]] = {name: {} for name in self.HASHED if name in TEXT_FIELDS}
        # Each row's device as a code stable across the batches of this instance (set by `__call__`).
        self.device_codes = np.empty(0, dtype=np.int64)

    def __call__(self, table: pa.Table) -> np.ndarray:
        h = np.zeros(table.num_rows, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for name in self.HASHED:
                col = table.column(name).combine_chunks()
                if name in self._codes:
                    # One code per distinct value (a dictionary column, as `validate` gives, is one already).
                    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
                    codes = self._codes[name]
                    lut = np.array([codes.setdefault(v, len(codes)) for v in enc.dictionary.to_pylist()] or [0],
                                   dtype=np.int64)
                    coded = lut[enc.indices.to_numpy(zero_copy_only=False)]
                    if name == "device_id":
                        self.device_codes = coded
                    values = coded.view(np.uint64)
                else:
                    values = _as_u64(col.cast(pa.int64()) if name == "ts" else col)
                h = (h ^ values) * _ODD
                h ^= h >> np.uint64(29)
        return _splitmix(h)


class HashRuns:
    """The hashes of rows stored earlier in a run, as a few sorted runs merged like a binary counter:
    adding a batch costs O(n log(total / n)) and a lookup one binary search per run (at most about
    log2(batches) runs). Re-sorting one growing array per batch instead cost O(total) per batch."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def add(self, sorted_hashes: np.ndarray) -> None:
        self._runs.append(sorted_hashes)
        while len(self._runs) > 1 and self._runs[-2].size <= self._runs[-1].size:
            newer, older = self._runs.pop(), self._runs.pop()
            # Two sorted runs: the stable sort (timsort) merges them in linear time.
            self._runs.append(np.sort(np.concatenate([older, newer]), kind="stable"))

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Mask: which of `hashes` (any order) were added before."""
        found = np.zeros(hashes.size, dtype=bool)
        if not hashes.size:
            return found
        order = np.argsort(hashes)
        queries = hashes[order]  # sorted queries into sorted runs: cache-friendly
        for run in self._runs:
            pos = np.minimum(np.searchsorted(run, queries), run.size - 1)
            found[order] |= run[pos] == queries
        return found


def _repeats(table: pa.Table, hashes: np.ndarray, sorted_hashes: np.ndarray) -> np.ndarray:
    """Mask of rows equal to an earlier row of the same batch (exact; hashes only pick candidates)."""
    repeated = np.zeros(table.num_rows, dtype=bool)
    same = sorted_hashes[1:] == sorted_hashes[:-1]
    if not same.any():
        return repeated
    candidates = np.flatnonzero(np.isin(hashes, sorted_hashes[1:][same]))
    keys = _key_table(table.take(pa.array(candidates))).append_column(_ROW, pa.array(candidates))
    first = keys.group_by(list(SIGHTING_KEY), use_threads=False).aggregate([(_ROW, "min")])
    repeated[candidates] = True
    repeated[first.column(f"{_ROW}_min").to_numpy()] = False
    return repeated


def drop_repeats(table: pa.Table) -> pa.Table:
    """The batch without rows equal to an earlier row in it (the first one is kept)."""
    if table.num_rows < 2:
        return table
    hashes = RowHasher()(table)
    repeated = _repeats(table, hashes, np.sort(hashes))
    return table.filter(pa.array(~repeated)) if repeated.any() else table


def _stored_mask(store: Store, table: pa.Table, before_ms: int | None) -> np.ndarray:
    """Which rows of `table` are stored already (among rows ingested before `before_ms`, if given)."""
    found = np.zeros(table.num_rows, dtype=bool)
    if table.num_rows == 0:
        return found
    lo, hi = pc.min_max(table.column("ts").cast(pa.int64())).values()
    stored = stored_keys_between(store, int(lo.as_py()), int(hi.as_py()), before_ms, table.column("device_id"))
    if stored is None:
        return found
    keys = _key_table(table).append_column(_ROW, pa.array(np.arange(table.num_rows)))
    hits = keys.join(stored, keys=list(SIGHTING_KEY), join_type="left semi", use_threads=False)
    found[hits.column(_ROW).to_numpy()] = True
    return found


class Deduper:
    """Content dedup for one run (a file, or one API batch); see the module docstring."""

    def __init__(self, store: Store, *, across_batches: bool) -> None:
        # The store's clock: rows it stamped before this instant were stored before the run.
        self.since_ms: int | None = (
            server_now_ms(store) if across_batches else None)
        # The time span of what was stored before the run (None: nothing): a batch outside it cannot
        # repeat a stored row, so the usual ingest of new days asks the store nothing per batch.
        self._stored_span = stored_span(store) if across_batches else None
        self._hash = RowHasher()
        self._seen = HashRuns()
        self._devices_seen = np.zeros(0, dtype=bool)

    def fresh(self, store: Store, table: pa.Table) -> pa.Table:
        """The rows of the batch that are not stored yet (repeats inside it dropped too)."""
        if table.num_rows == 0:
            return table
        hashes = self._hash(table)
        devices = self._hash.device_codes
        sorted_hashes = np.sort(hashes)
        drop = _repeats(table, hashes, sorted_hashes)
        if self.since_ms is None or self._may_be_stored(table):
            drop |= _stored_mask(store, table, self.since_ms)
        # Only a row whose device was in an earlier batch can repeat one of its rows.
        earlier = np.flatnonzero(self._device_seen(devices) & ~drop)
        if earlier.size:
            suspect = earlier[self._seen.contains(hashes[earlier])]
            if suspect.size:  # hash seen in an earlier batch of this run: is that row really stored?
                drop[suspect] |= _stored_mask(store, table.take(pa.array(suspect)), None)
        if self.since_ms is not None:
            self._seen.add(sorted_hashes)
            if devices.size:
                grown = np.zeros(max(self._devices_seen.size, int(devices.max()) + 1), dtype=bool)
                grown[:self._devices_seen.size] = self._devices_seen
                grown[devices] = True
                self._devices_seen = grown
        return table.filter(pa.array(~drop)) if drop.any() else table

    def _device_seen(self, devices: np.ndarray) -> np.ndarray:
        known = devices < self._devices_seen.size
        seen = np.zeros(devices.size, dtype=bool)
        seen[known] = self._devices_seen[devices[known]]
        return seen

    def _may_be_stored(self, table: pa.Table) -> bool:
        if self._stored_span is None:
            return False
        lo, hi = pc.min_max(table.column("ts").cast(pa.int64())).values()
        return bool(lo.as_py() <= self._stored_span[1] and hi.as_py() >= self._stored_span[0])


def split_by_days(table: pa.Table, max_days: int) -> list[pa.Table]:
    """Parts with at most `max_days` distinct UTC days each (ClickHouse refuses an insert touching more
    than max_partitions_per_insert_block = 100 daily partitions: TOO_MANY_PARTS)."""
    if table.num_rows == 0:
        return []
    days = table.column("ts").cast(pa.int64()).to_numpy() // 86_400_000
    if int(days.max()) - int(days.min()) < max_days:  # the usual case, without sorting anything
        return [table]
    distinct, group = np.unique(days, return_inverse=True)
    if len(distinct) <= max_days:
        return [table]
    part = group // max_days
    return [table.filter(pa.array(part == p)) for p in range(int(part.max()) + 1)]
