"""What ingest writes and reads: raw sightings, rejects, the per-file batch log (ingest/pipeline.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from santiway_anomaly.storage.store import Store

REJECT_COLUMNS = ["rejected_at", "source", "line", "field", "reason", "raw"]
BATCH_COLUMNS = ["source_hash", "batch_no", "source", "rows"]


def insert_sightings(store: Store, batch: pa.Table, dedup_token: str | None) -> None:
    """Validated sightings into the raw table; a batch re-sent with the same token is stored once."""
    store.insert_arrow("santi.way_data", batch, dedup_token=dedup_token)


def insert_rejects(store: Store, source: str, rejects: Sequence[Any]) -> None:
    """Rejected rows (objects with line, field, reason, raw), stamped now, so nothing is silently dropped."""
    if rejects:
        now = datetime.now(UTC)
        store.insert_rows("anomaly_ml.ingest_rejects", [[now, source, r.line, r.field, r.reason, r.raw]
                                                        for r in rejects], REJECT_COLUMNS)


def done_batches(store: Store, source_hash: str) -> dict[int, int]:
    """Batch number -> rows of the batches of one source (file and settings) already stored."""
    rows = store.query_rows(
        "SELECT batch_no, rows FROM anomaly_ml.ingest_batches FINAL WHERE source_hash = {h:String}",
        {"h": source_hash})
    return {int(b): int(r) for b, r in rows}


def record_batch(store: Store, source_hash: str, number: int, source: str, rows: int) -> None:
    record_batches(store, source_hash, source, [(number, rows)])


def record_batches(store: Store, source_hash: str, source: str, batches: list[tuple[int, int]]) -> None:
    """Log stored batches, (number, rows) each, of one source in one insert."""
    store.insert_rows("anomaly_ml.ingest_batches", [[source_hash, n, source, r] for n, r in batches], BATCH_COLUMNS)


def count_sightings(store: Store) -> int:
    return int(store.scalar("SELECT count() FROM santi.way_data") or 0)


def server_now_ms(store: Store) -> int:
    """The store's clock (epoch ms): what it stamps `ingested_at` with."""
    return int(store.scalar("SELECT toUnixTimestamp64Milli(now64(3))"))


def newest_sighting(store: Store) -> datetime | None:
    """The time of the newest stored sighting (UTC), None when there is none (a full scan of `ts`; the
    health check reads only the newest partition: storage/queries/health.py)."""
    newest = store.scalar("SELECT max(ts) FROM santi.way_data")
    if not isinstance(newest, datetime) or newest.year < 1971:
        return None
    return newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest


def stored_folders(store: Store) -> list[str]:
    return [str(r[0]) for r in store.query_rows("SELECT DISTINCT toString(folder) FROM santi.way_data")]
