"""Operator feedback on anomalies (`anomaly_ml.anomaly_feedback`): its SQL (notify/feedback.py is the logic)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from santiway_anomaly.storage.store import Store

COLUMNS = ["anomaly_id", "verdict", "note", "added_by", "added_at", "device_id", "anomaly_type"]


def anomaly_subject(store: Store, anomaly_id: str) -> tuple[str, str] | None:
    """(device_id, anomaly_type) of a stored anomaly, None when there is none with that id."""
    rows = store.query_rows(
        "SELECT device_id, anomaly_type FROM anomaly_ml.anomalies WHERE anomaly_id = {id:String} LIMIT 1",
        {"id": anomaly_id},
    )
    return (str(rows[0][0]), str(rows[0][1])) if rows else None


def insert_feedback(store: Store, row: Sequence[Any]) -> None:
    """One verdict, its values in COLUMNS order (the latest per anomaly wins)."""
    store.insert_rows("anomaly_ml.anomaly_feedback", [list(row)], COLUMNS)


def feedback_rows(store: Store, *, anomaly_id: str | None, verdict: str | None,
                  limit: int) -> list[tuple[str, str, str, str, datetime, str, str]]:
    """Feedback rows (COLUMNS order), newest first, optionally of one anomaly and/or one verdict."""
    clauses: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    if anomaly_id is not None:
        clauses.append("anomaly_id = {anomaly_id:String}")
        params["anomaly_id"] = anomaly_id
    if verdict is not None:
        clauses.append("verdict = {verdict:String}")
        params["verdict"] = verdict
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = store.query_rows(
        f"SELECT {', '.join(COLUMNS)} FROM anomaly_ml.anomaly_feedback FINAL{where} "
        "ORDER BY added_at DESC LIMIT {limit:UInt32}",
        params,
    )
    return [(str(a), str(v), str(n), str(b), t, str(d), str(k)) for a, v, n, b, t, d, k in rows]
