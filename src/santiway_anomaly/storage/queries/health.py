"""What the health check reads: is the store answering, and when was the newest sighting."""

from __future__ import annotations

from datetime import UTC, datetime

from santiway_anomaly.storage.names import identifier
from santiway_anomaly.storage.store import Store

# max(ts) over the newest daily partition only (system.parts knows which one that is). The database is
# a value here (a system.parts filter), so it is bound, not rewritten (storage/databases.py). On a cluster
# the parts are those of `way_data_local` on the server asked (every shard receives every day's sightings).
_NEWEST = (
    "SELECT max(ts) FROM santi.way_data WHERE toDate(ts) >= (SELECT max(max_date) FROM system.parts "
    "WHERE database = {raw:String} AND table IN ('way_data', 'way_data_local') AND active)"
)


def ping(store: Store) -> None:
    """Raise (StoreError and kin) unless the store answers a trivial query."""
    store.scalar("SELECT 1")


def newest_sighting(store: Store) -> datetime | None:
    """The time of the newest stored sighting (UTC), None when there is none."""
    latest = store.scalar(_NEWEST, {"raw": store.databases.raw})
    if not isinstance(latest, datetime):
        return None
    latest = latest.replace(tzinfo=UTC) if latest.tzinfo is None else latest
    return None if latest.year <= 1970 else latest  # max() of nothing


# The tables `schema status` shows, canonical names (storage/databases.py maps them).
STATUS_TABLES = ("santi.way_data", "anomaly_ml.hourly_features_v", "anomaly_ml.folder_hourly_v",
                 "anomaly_ml.anomalies", "anomaly_ml.ingest_rejects")


def row_counts(store: Store, tables: tuple[str, ...] = STATUS_TABLES) -> list[tuple[str, int]]:
    """(configured table name, rows) of each table."""
    return [(store.databases.table(t), int(store.scalar(f"SELECT count() FROM {identifier(t)}") or 0))
            for t in tables]
