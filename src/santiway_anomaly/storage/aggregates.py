"""Do the hourly aggregates agree with the raw sightings? Check day by day, and rebuild the days that don't.

The aggregates (anomaly_ml.hourly_features, device_days, folder_5min, folder_hourly) are filled by
materialized views as santi.way_data is inserted into. ClickHouse does not make an insert and its views
one transaction: an insert that fails half way (a full disk, a killed process, a dropped connection, a view
that throws) can leave sightings stored that some aggregate never received, or the other way round. Raw
sightings are the source of truth; the check compares each aggregate's sighting count per UTC day with
the raw count, and the repair rebuilds a disagreeing day from the raw rows:

1. the day's rows are deleted from all four aggregate tables (a mutation, waited for with a time-out);
2. hourly_features and folder_5min are re-inserted from the day's raw rows with the same SELECT as their
   views (the chained views refill device_days and folder_hourly). Deduplication is off for this insert:
   an aggregate block equal to one inserted before would otherwise be dropped as a repeat.

A repair interrupted between 1 and 2 leaves the day disagreeing, and the next check finds it again, so
running the repair twice is safe. Nothing else may write the repaired days meanwhile (the ingest holds
its insert lock around a repair). Single-server stores only: on a cluster the tables are shards behind
Distributed tables and the repair refuses.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from loguru import logger

from santiway_anomaly.storage.names import identifier
from santiway_anomaly.storage.store import Store, StoreWriteError

# (table, SQL expression of a row's UTC day, SQL expression of the sightings the row counts)
AGGREGATES = (
    ("anomaly_ml.hourly_features", "toDate(hour)", "event_count"),
    ("anomaly_ml.device_days", "day", "sightings"),
    ("anomaly_ml.folder_5min", "toDate(slot)", "sightings"),
    ("anomaly_ml.folder_hourly", "toDate(hour)", "sightings"),
)
RAW = ("santi.way_data", "toDate(ts, 'UTC')", "1")

# The SELECTs of hourly_features_mv (migration 100) and folder_5min_mv (migration 120) over the chosen days.
# A test rebuilds a store's aggregates with these and compares them with what the views wrote, so a
# migration that changes a view and not this file fails it.
_REBUILD_HOURLY = """
INSERT INTO anomaly_ml.hourly_features
SELECT
    device_id,
    toStartOfHour(toDateTime(ts, 'UTC')) AS hour,
    count() AS event_count,
    sum(toFloat64(rssi)) AS rssi_sum,
    sum(toFloat64(rssi) * rssi) AS rssi_sq_sum,
    min(rssi) AS rssi_min,
    max(rssi) AS rssi_max,
    sum(lat) AS lat_sum,
    sum(lon) AS lon_sum,
    sum(lat * lat) AS lat_sq_sum,
    sum(lon * lon) AS lon_sq_sum,
    min(lat) AS lat_min,
    max(lat) AS lat_max,
    min(lon) AS lon_min,
    max(lon) AS lon_max,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    groupBitOr(bitShiftLeft(toUInt64(1), toMinute(toDateTime(ts, 'UTC')))) AS minute_mask,
    groupUniqArray(toString(folder)) AS folders,
    groupUniqArray(toString(sensor_id)) AS sensor_list,
    any(toString(network_type)) AS network_type,
    any(toString(vendor)) AS vendor,
    max(is_randomized) AS is_randomized
FROM santi.way_data
WHERE toDate(ts, 'UTC') IN (SELECT arrayJoin({days:Array(Date)}))
GROUP BY device_id, hour
SETTINGS insert_deduplicate = 0
"""

_REBUILD_FOLDER_5MIN = """
INSERT INTO anomaly_ml.folder_5min
    (folder, slot, sightings, stable_devices, randomized_devices, sensors, lat_sum, lon_sum, randomized_fingerprints)
SELECT
    folder,
    toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
    count() AS sightings,
    uniqExactStateIf(device_id, is_randomized = 0) AS stable_devices,
    uniqExactStateIf(device_id, is_randomized = 1) AS randomized_devices,
    groupUniqArray(toString(sensor_id)) AS sensors,
    sum(lat) AS lat_sum,
    sum(lon) AS lon_sum,
    uniqExactStateIf(if(ies = '', device_id, concat(ies, '|', ssid)), is_randomized = 1) AS randomized_fingerprints
FROM santi.way_data
WHERE toDate(ts, 'UTC') IN (SELECT arrayJoin({days:Array(Date)}))
GROUP BY folder, slot
SETTINGS insert_deduplicate = 0
"""

# Mutation ids go into KILL MUTATION as literals: file names (non-replicated) or numbers (replicated) only.
_MUTATION_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
# Days are repaired this many at a time: each round is one mutation per table and two inserts.
REPAIR_DAYS_PER_ROUND = 31


class RepairRefused(RuntimeError):
    """The store is of a kind the repair does not handle (a cluster)."""


@dataclass
class AgreementReport:
    """Sightings per UTC day in the raw table and in each aggregate; `disagreeing` lists the days that differ."""

    raw: dict[date, int] = field(default_factory=dict)
    aggregates: dict[str, dict[date, int]] = field(default_factory=dict)

    @property
    def disagreeing(self) -> list[date]:
        days = set(self.raw)
        for counts in self.aggregates.values():
            days |= set(counts)
        return sorted(d for d in days
                      if any(counts.get(d, 0) != self.raw.get(d, 0) for counts in self.aggregates.values()))

    @property
    def agree(self) -> bool:
        return not self.disagreeing

    def describe(self, day: date) -> str:
        parts = [f"raw {self.raw.get(day, 0):,}"]
        parts += [f"{table.split('.')[-1]} {counts.get(day, 0):,}" for table, counts in self.aggregates.items()]
        return f"{day.isoformat()}: " + ", ".join(parts)


def _counts(store: Store, table: str, day_sql: str, count_sql: str, days: list[date] | None) -> dict[date, int]:
    where = f"WHERE {day_sql} IN (SELECT arrayJoin({{days:Array(Date)}}))" if days is not None else ""
    rows = store.query_rows(
        f"SELECT {day_sql} AS d, sum({count_sql}) AS n FROM {table} {where} GROUP BY d",
        {"days": days or []})
    return {d: int(n) for d, n in rows if int(n)}


def check_agreement(store: Store, days: Iterable[date] | None = None) -> AgreementReport:
    """Per-day sighting counts of the raw table and every aggregate (only `days`, when given)."""
    chosen = sorted(set(days)) if days is not None else None
    report = AgreementReport(raw=_counts(store, *RAW, chosen))
    for table, day_sql, count_sql in AGGREGATES:
        report.aggregates[table] = _counts(store, table, day_sql, count_sql, chosen)
    return report


def rebuild_days(store: Store, days: Iterable[date]) -> int:
    """Rebuild every aggregate of `days` from the raw sightings; returns how many days were rebuilt."""
    if store.settings.clickhouse_cluster:
        raise RepairRefused("the aggregate repair runs on a single server or the embedded store, not on a cluster "
                            "(CLICKHOUSE_CLUSTER is set): rebuild the days on each shard by hand (docs/cluster.md)")
    chosen = sorted(set(days))
    for start in range(0, len(chosen), REPAIR_DAYS_PER_ROUND):
        part = chosen[start:start + REPAIR_DAYS_PER_ROUND]
        params = {"days": part}
        for table, day_sql, _ in AGGREGATES:
            _delete_days(store, table, day_sql, part)
        store.command(_REBUILD_HOURLY, params)
        store.command(_REBUILD_FOLDER_5MIN, params)
        logger.info("rebuilt the aggregates of {} day(s) from the raw sightings: {} .. {}",
                    len(part), part[0].isoformat(), part[-1].isoformat())
    return len(chosen)


def _unfinished_mutations(store: Store, table: str) -> dict[str, str]:
    database, name = identifier(table).split(".")
    rows = store.query_rows(
        "SELECT mutation_id, latest_fail_reason FROM system.mutations "
        "WHERE database = {db:String} AND table = {t:String} AND NOT is_done AND NOT is_killed",
        {"db": database, "t": name})
    return {str(m): str(reason) for m, reason in rows}


def _delete_days(store: Store, table: str, day_sql: str, days: list[date]) -> None:
    """Delete the days' rows, waiting at most AGGREGATE_REPAIR_TIMEOUT_S for the mutation.

    Not `mutations_sync`: on a full disk ClickHouse holds a mutation back without failing it, and the
    query would wait for ever (measured on chDB 26). A mutation that fails or outlasts the time-out is
    killed, and the repair ends with a `StoreWriteError` (the days still disagree; a later repair finds them).
    """
    before = set(_unfinished_mutations(store, table))
    store.command(f"ALTER TABLE {table} DELETE WHERE {day_sql} IN (SELECT arrayJoin({{days:Array(Date)}})) "
                  "SETTINGS mutations_sync = 0", {"days": days})
    timeout = store.settings.aggregate_repair_timeout_s
    deadline = time.monotonic() + timeout
    while True:
        mine = {m: r for m, r in _unfinished_mutations(store, table).items() if m not in before}
        if not mine:
            return
        failed = next((r for r in mine.values() if r), "")
        if failed or time.monotonic() > deadline:
            for mutation in mine:
                if _MUTATION_ID.fullmatch(mutation):
                    database, name = table.split(".")
                    store.command(f"KILL MUTATION WHERE database = '{database}' AND table = '{name}' "
                                  f"AND mutation_id = '{mutation}'")
            why = f"ClickHouse said: {failed[:200]}" if failed else (
                f"ClickHouse did not finish deleting them within {timeout:g} s (AGGREGATE_REPAIR_TIMEOUT_S); "
                "a full disk holds mutations back")
            raise StoreWriteError(f"the aggregates of {len(days)} day(s) in {table} could not be rebuilt: {why}. "
                                  "Free space if the disk is full, then run `santiway-anomaly schema repair`")
        time.sleep(0.1)


def repair_disagreeing(store: Store, days: Iterable[date] | None = None) -> tuple[AgreementReport, list[date]]:
    """Check (only `days`, when given), rebuild the days that disagree, check them again.

    Returns the report after the repair and the days that were rebuilt."""
    before = check_agreement(store, days)
    bad = before.disagreeing
    if not bad:
        return before, []
    for day in bad:
        logger.warning("aggregates disagree with the raw sightings on {}", before.describe(day))
    rebuild_days(store, bad)
    return check_agreement(store, days), bad


__all__ = ["AgreementReport", "RepairRefused", "check_agreement", "rebuild_days", "repair_disagreeing"]
