"""The one way to filter by a set of ids (devices, anomalies, sensors, folders) of any size.

`col IN {ids:Array(String)}` makes chDB build a literal set from the array while it analyses the
query, and that falls off a cliff past ~50k ids (60k ids: minutes). Built from a subquery,
`col IN (SELECT arrayJoin({ids:Array(String)}))`, the set is filled while the query runs, linear in
the ids (benchmarks/idsets.py, docs/storage.md). The ids still travel as one bound parameter:
clickhouse-connect moves a large one into the request body (form field) on a server.
"""

from __future__ import annotations

from santiway_anomaly.storage.names import identifier


def in_ids(column: str, param: str, *, negate: bool = False, type_: str = "String") -> str:
    """SQL `column [NOT] IN <the ids bound as {param:Array(type_)}>`, fast at any size."""
    if not type_.isidentifier():
        raise ValueError(f"not a plain ClickHouse type name: {type_!r}")
    op = "NOT IN" if negate else "IN"
    return f"{_column(column)} {op} (SELECT arrayJoin({{{identifier(param)}:Array({type_})}}))"


def _column(expr: str) -> str:
    # A column, optionally table-qualified (`h.device_id`): the same check as a table name.
    return identifier(expr)
