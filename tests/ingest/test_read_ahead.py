"""Reading and validating ahead of storing (issue 17): bounded, errors reach the caller, an early stop
ends the reader; and the ingest's coalesced inserts keep their bookkeeping (every batch logged, a re-run
skips them all, a damaged file stores what came before the damage)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.ingest.pipeline import ingest_file
from santiway_anomaly.ingest.read_ahead import read_ahead
from santiway_anomaly.ingest.readers import ReadError
from santiway_anomaly.storage import Store
from tests.ingest.helpers import random_sightings


def test_the_reader_runs_at_most_depth_items_ahead() -> None:
    produced: list[int] = []
    gaps: list[int] = []

    def items() -> Iterator[int]:
        for i in range(50):
            produced.append(i)
            yield i

    with read_ahead(items(), depth=2) as ahead:
        for i in ahead:
            gaps.append(len(produced) - i - 1)
    assert sorted(set(range(50))) == produced
    assert max(gaps) <= 3  # the queue's 2, plus the one being put


def test_a_reader_error_reaches_the_consumer_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ReadError("damaged")

    seen: list[int] = []
    with pytest.raises(ReadError, match="damaged"), read_ahead(items()) as ahead:
        for i in ahead:
            seen.append(i)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_ends_the_reader() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    with pytest.raises(RuntimeError), read_ahead(items()) as ahead:
        for i in ahead:
            if i == 3:
                raise RuntimeError("store failed")
    assert closed.is_set()


def _parquet(path: Path, rows: int, row_group: int) -> pa.Table:
    table = pa.Table.from_pandas(random_sightings(rows, devices=300), preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group)
    return table


def test_coalesced_inserts_log_every_batch_and_a_rerun_skips_them(empty_store: Store, settings: Settings,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    _parquet(path, 9000, 1000)
    small = settings.model_copy(update={"ingest_batch_rows": 1000, "ingest_insert_rows": 2500})
    first = ingest_file(empty_store, path, small)
    assert first.accepted + first.duplicates == 9000 and first.batches == 9
    logged = empty_store.query_rows("SELECT batch_no, rows FROM anomaly_ml.ingest_batches FINAL ORDER BY batch_no")
    assert [(int(b), int(r)) for b, r in logged] == [(b, 1000) for b in range(9)]
    again = ingest_file(empty_store, path, small)
    assert again.already_stored == 9000 and again.accepted == 0
    assert empty_store.scalar("SELECT count() FROM santi.way_data") == first.accepted
    assert empty_store.scalar("SELECT sum(event_count) FROM anomaly_ml.hourly_features") == first.accepted


def test_batches_with_and_without_probe_fields_go_in_separate_inserts(empty_store: Store, settings: Settings,
                                                                     tmp_path: Path) -> None:
    lines = []
    for i in range(3000):
        probe = f', "seq": {i % 4096}, "ssid": "net"' if 1000 <= i < 2000 else ""
        ts = f"2026-11-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z"
        mac = f"3C:22:FB:00:{i // 256:02X}:{i % 256:02X}"
        lines.append(f'{{"ts": "{ts}", "device_id": "{mac}", "sensor_id": "s", "folder": "f", "rssi": -60, '
                     f'"lat": 1, "lon": 2{probe}}}')
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_file(empty_store, path, settings.model_copy(update={"ingest_batch_rows": 1000,
                                                                        "ingest_insert_rows": 5000}))
    assert report.accepted == 3000 and report.rejected == 0
    counts = dict(empty_store.query_rows("SELECT ssid, count() FROM santi.way_data GROUP BY ssid"))
    assert counts == {"": 2000, "net": 1000}
    assert empty_store.scalar("SELECT countIf(seq = -1) FROM santi.way_data") == 2000


def test_rows_before_a_damaged_row_group_are_stored(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "damaged.parquet"
    _parquet(path, 4000, 1000)
    meta = pq.ParquetFile(path).metadata
    last = meta.row_group(3).column(0)
    data = bytearray(path.read_bytes())
    start = last.data_page_offset
    data[start:start + 64] = b"\xff" * 64  # the last row group's first data page is garbage
    path.write_bytes(bytes(data))
    small = settings.model_copy(update={"ingest_batch_rows": 1000, "ingest_insert_rows": 10_000})
    with pytest.raises(ReadError, match="cannot read rows after row 3,000"):
        ingest_file(empty_store, path, small)
    assert empty_store.scalar("SELECT count() FROM santi.way_data") > 0
    assert empty_store.scalar("SELECT count() FROM anomaly_ml.ingest_batches") == 3
