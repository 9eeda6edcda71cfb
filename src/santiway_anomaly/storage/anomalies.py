"""Reading and writing `anomaly_ml.anomalies`, idempotently."""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from santiway_anomaly.anomaly import ROW_COLUMNS, Anomaly
from santiway_anomaly.storage.idsets import in_ids
from santiway_anomaly.storage.store import Store

# Serialises "which ids exist? then insert the rest" within this process, so two concurrent
# detection runs cannot both decide that the same anomaly is new.
_SAVE_LOCK = threading.Lock()

# Bumped whenever this process stores anomalies: readers (the API's answer cache) key on it, so a
# save is visible at once without re-querying the store on every request.
_generation = 0


def generation() -> int:
    """How many saves of new anomalies this process has made (a cache-invalidation token)."""
    return _generation


def save_anomalies(store: Store, anomalies: Sequence[Anomaly]) -> list[Anomaly]:
    """Store anomalies not stored before; return exactly those (the ones to notify)."""
    if not anomalies:
        return []
    unique: dict[str, Anomaly] = {}
    for anomaly in anomalies:
        unique.setdefault(anomaly.anomaly_id, anomaly)
    with _SAVE_LOCK:
        existing = {
            row[0]
            for row in store.query_rows(
                f"SELECT anomaly_id FROM anomaly_ml.anomalies WHERE {in_ids('anomaly_id', 'ids')}",
                {"ids": list(unique)},
            )
        }
        new = [a for a in unique.values() if a.anomaly_id not in existing]
        if new:
            store.insert_rows("anomaly_ml.anomalies", [a.to_row() for a in new], ROW_COLUMNS)
            global _generation
            _generation += 1
    return new


@dataclass(frozen=True)
class AnomalyFilter:
    anomaly_type: str | None = None
    severity: str | None = None
    device_id: str | None = None
    folder: str | None = None
    min_score: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for column, value, sql_type in (
            ("anomaly_type", self.anomaly_type, "String"),
            ("severity", self.severity, "String"),
            ("device_id", self.device_id, "String"),
            ("folder", self.folder, "String"),
        ):
            if value is not None:
                clauses.append(f"{column} = {{{column}:{sql_type}}}")
                params[column] = value
        if self.min_score is not None:
            clauses.append("score >= {min_score:Float64}")
            params["min_score"] = self.min_score
        # A time filter selects anomalies whose window overlaps [since, until).
        if self.since is not None:
            clauses.append("window_end > {since:DateTime64(3, 'UTC')}")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("window_start < {until:DateTime64(3, 'UTC')}")
            params["until"] = self.until
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


# Newest window first: `window_start DESC` is the table's sort key read backwards (migration 140), so a
# page reads the last granules of the key and stops; score and id only order rows of one window.
_PAGE_ORDER = " ORDER BY window_start DESC, score DESC, anomaly_id LIMIT {limit:UInt32} OFFSET {offset:UInt64}"
# Copies of one anomaly share its window, hence its partition: FINAL may merge each partition alone
# (about half the CPU of a whole-table FINAL, measured at 500k rows).
_FINAL_PER_PARTITION = " SETTINGS do_not_merge_across_partitions_select_final = 1"


# Per open embedded store: True once it was found holding no two rows of one anomaly_id.
_COPY_FREE: weakref.WeakKeyDictionary[Store, bool] = weakref.WeakKeyDictionary()


def _final(store: Store) -> str:
    """" FINAL" where two copies of one anomaly may be stored, else "" (the listing's FINAL was about a
    fifth of a cache miss's CPU, benchmarks/api.py).

    Copies arise only from writers racing: `save_anomalies` skips stored ids under a process-wide lock,
    so one process never stores an anomaly twice. An embedded store has exactly one writing process, the
    one holding it (DESIGN.md); copies left by an earlier run (a version without the lock, a crash
    mid-migration) are looked for once per opened store. A ClickHouse server may have several writers
    (the service, a CLI detection run, a second API process), so it keeps FINAL."""
    if not store.settings.embedded:
        return " FINAL"
    copy_free = _COPY_FREE.get(store)
    if copy_free is None:
        rows, ids = store.query_rows("SELECT count(), uniqExact(anomaly_id) FROM anomaly_ml.anomalies")[0]
        copy_free = _COPY_FREE[store] = int(rows) == int(ids)
    return "" if copy_free else " FINAL"


def list_anomalies(store: Store, flt: AnomalyFilter) -> list[dict[str, Any]]:
    """Anomalies matching the filter, newest window first, as DESIGN.md contract dicts."""
    where, params = flt.where()
    params = {**params, "limit": flt.limit, "offset": flt.offset}
    rows = store.query_dicts(
        f"SELECT {', '.join(ROW_COLUMNS)} FROM anomaly_ml.anomalies{_final(store)}{where}{_PAGE_ORDER}"
        f"{_FINAL_PER_PARTITION}",
        params,
    )
    return [_public(row) for row in rows]


def page_anomalies(store: Store, flt: AnomalyFilter) -> tuple[list[dict[str, Any]], int]:
    """`list_anomalies` plus the total number of matches, in one query (the API's pages)."""
    where, params = flt.where()
    params = {**params, "limit": flt.limit, "offset": flt.offset}
    # The total as a scalar subquery, not `count() OVER ()`: a window over every match made the engine
    # materialise and sort all of them, where the page alone stops after `limit` rows (3.6x the CPU at
    # 50k anomalies, benchmarks/api.py).
    final = _final(store)
    total_sql = f"(SELECT count() FROM anomaly_ml.anomalies{final}{where}{_FINAL_PER_PARTITION})"
    rows = store.query_dicts(
        f"SELECT {', '.join(ROW_COLUMNS)}, {total_sql} AS total_ FROM anomaly_ml.anomalies{final}{where}"
        f"{_PAGE_ORDER}{_FINAL_PER_PARTITION}",
        params,
    )
    if not rows:  # past the last page (or nothing matches): no row carries the total
        return [], count_anomalies(store, flt) if flt.offset else 0
    total = int(rows[0]["total_"])
    for row in rows:
        del row["total_"]
    return [_public(row) for row in rows], total


def get_anomaly(store: Store, anomaly_id: str) -> dict[str, Any] | None:
    """One anomaly by its id (what a `?anomaly=ID` link opens), or None."""
    rows = store.query_dicts(
        f"SELECT {', '.join(ROW_COLUMNS)} FROM anomaly_ml.anomalies FINAL WHERE anomaly_id = {{id:String}} LIMIT 1",
        {"id": anomaly_id},
    )
    return _public(rows[0]) if rows else None


def count_anomalies(store: Store, flt: AnomalyFilter) -> int:
    where, params = flt.where()
    sql = f"SELECT count() FROM anomaly_ml.anomalies{_final(store)}{where}{_FINAL_PER_PARTITION}"
    return int(store.scalar(sql, params) or 0)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["details"] = json.loads(row["details"]) if row["details"] else {}
    for key in ("detected_at", "window_start", "window_end"):
        value = out[key]
        if isinstance(value, datetime) and value.tzinfo is None:
            from datetime import UTC

            out[key] = value.replace(tzinfo=UTC)
    return out


def stored_windows(store: Store, since: datetime | None, until: datetime | None,
                   min_score: float) -> list[tuple[Any, ...]]:
    """(anomaly_id, anomaly_type, device_id, folder, window_start, window_end, score, severity) of the
    stored anomalies (every type) scoring at least `min_score` whose window overlaps [since, until)."""
    clauses = ["score >= {min_score:Float64}"]
    params: dict[str, Any] = {"min_score": min_score}
    if since is not None:
        clauses.append("window_end > {since:DateTime64(3, 'UTC')}")
        params["since"] = since
    if until is not None:
        clauses.append("window_start < {until:DateTime64(3, 'UTC')}")
        params["until"] = until
    return store.query_rows(
        "SELECT anomaly_id, anomaly_type, device_id, folder, window_start, window_end, score, severity "
        f"FROM anomaly_ml.anomalies FINAL WHERE {' AND '.join(clauses)} ORDER BY window_start, anomaly_id", params)


def anomaly_breakdown(store: Store, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
    """(g, anomaly_type, severity, folder, device_id, hour, count, max score) of the anomalies whose window
    overlaps [since, until), grouped by each of type, severity, folder, device, hour (of window_start) and
    all: `g` is grouping() of (anomaly_type, severity, folder, device_id, hour), one bit per column
    aggregated away (anomaly_type = 16 ... hour = 1)."""
    # One pass over the window's rows (FINAL: a re-detected anomaly counts once); the breakdowns are
    # GROUPING SETS of that pass, told apart by grouping().
    return store.query_rows(
        "SELECT grouping(anomaly_type, severity, folder, device_id, hour) AS g, anomaly_type, severity, "
        "folder, device_id, hour, count() AS n, max(score) AS s "
        "FROM (SELECT anomaly_type, severity, folder, device_id, toStartOfHour(window_start) AS hour, score "
        "      FROM anomaly_ml.anomalies FINAL "
        "      WHERE window_end > {since:DateTime64(3, 'UTC')} AND window_start < {until:DateTime64(3, 'UTC')}) "
        "GROUP BY GROUPING SETS ((anomaly_type), (severity), (folder), (device_id), (hour), ()) "
        # Copies of one anomaly share its window, hence its partition: FINAL per partition is enough.
        "SETTINGS do_not_merge_across_partitions_select_final = 1",
        {"since": since, "until": until},
    )
