"""Cluster mode by configuration (issue 15): the ON CLUSTER DDL parses, and one server's DDL is unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from santiway_anomaly.cli.main import app
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.cluster import statements, versions_ddl
from santiway_anomaly.storage.databases import Databases
from santiway_anomaly.storage.migrations import _VERSIONS_DDL, discover, split_statements


def _all(cluster: str | None) -> list[str]:
    return [s for _, group in statements(discover(), cluster) for s in group]


def test_single_node_ddl_is_the_files_unchanged() -> None:
    assert _all(None) == [s for m in discover() for s in split_statements(m.text)]
    assert versions_ddl(None).split() == _VERSIONS_DDL.split()


@pytest.mark.parametrize("databases", [Databases(), Databases("x_product", "x_host")], ids=["default", "moved"])
def test_every_cluster_statement_parses(store: Store, databases: Databases) -> None:
    for statement in [versions_ddl("c1"), *_all("c1")]:
        formatted = store.scalar("SELECT formatQuery({q:String})", {"q": databases.sql(statement)})
        assert formatted, statement


def test_cluster_tables_are_replicated_local_with_distributed_in_front() -> None:
    ddl = _all("c1")
    for statement in ddl:
        if statement.startswith(("CREATE", "DROP", "ALTER")):
            assert " ON CLUSTER c1" in statement, statement
    text = "\n".join(ddl)
    assert "ENGINE = MergeTree" not in text and "AggregatingMergeTree\n" not in text
    assert "non_replicated_deduplication_window" not in text
    distributed = dict(re.findall(r"Distributed\(c1, \w+, (\w+)_local, (cityHash64\(\w+\))\)", text))
    assert distributed["way_data"] == "cityHash64(device_id)"
    assert distributed["hourly_features"] == "cityHash64(device_id)"
    assert distributed["device_days"] == "cityHash64(device_id)"
    assert distributed["folder_hourly"] == "cityHash64(folder)"
    assert distributed["folder_5min"] == "cityHash64(folder)"
    assert distributed["anomalies"] == "cityHash64(anomaly_id)"  # every version of an id on one shard


def test_materialized_views_sit_on_the_local_tables() -> None:
    views = [s for s in _all("c1") if s.startswith("CREATE MATERIALIZED VIEW")]
    assert views
    for view in views:
        assert re.search(r"\bFROM \w+\.\w+_local\b", view), view
    latest = {re.search(r"VIEW (?:IF NOT EXISTS )?(\S+)", v).group(1): v for v in views}  # type: ignore[union-attr]
    # Device aggregates stay on the raw row's shard; folder aggregates are routed to the folder's shard.
    assert "TO anomaly_ml.hourly_features_local" in latest["anomaly_ml.hourly_features_mv"]
    assert "TO anomaly_ml.folder_5min\n" in latest["anomaly_ml.folder_5min_mv"]
    assert "TO anomaly_ml.folder_hourly_local" in latest["anomaly_ml.folder_hourly_mv"]


def test_schema_show_prints_cluster_ddl() -> None:
    result = CliRunner().invoke(app, ["schema", "show", "--cluster", "prod"])
    assert result.exit_code == 0, result.output
    assert "ENGINE = Distributed(prod, santi, way_data_local, cityHash64(device_id))" in result.output
    single = CliRunner().invoke(app, ["schema", "show", "--cluster", ""])
    assert single.exit_code == 0 and "ON CLUSTER" not in single.output


@pytest.mark.parametrize("bad", ["a;b", "x y"])
def test_a_bad_cluster_name_is_refused(bad: str) -> None:
    result = CliRunner().invoke(app, ["schema", "show", "--cluster", bad])
    assert result.exit_code == 2


def test_schema_show_follows_clickhouse_cluster() -> None:
    result = CliRunner().invoke(app, ["schema", "show"], env={"CLICKHOUSE_CLUSTER": "c9"})
    assert result.exit_code == 0, result.output
    assert "CREATE DATABASE IF NOT EXISTS santi ON CLUSTER c9;" in result.output


def _cluster_objects(cluster: str) -> tuple[set[str], set[str]]:
    """(tables and views a query can name, of them the Distributed ones) after every cluster migration."""
    exists: set[str] = set()
    distributed: set[str] = set()
    for statement in _all(cluster):
        if found := re.match(r"CREATE (?:TABLE|VIEW|MATERIALIZED VIEW) (?:IF NOT EXISTS )?(\S+)", statement):
            exists.add(found.group(1))
            if "ENGINE = Distributed(" in statement:
                distributed.add(found.group(1))
        elif found := re.match(r"DROP (?:TABLE|VIEW) (?:IF EXISTS )?(\S+)", statement):
            exists.discard(found.group(1))
            distributed.discard(found.group(1))
    return exists, distributed


def test_every_table_the_product_queries_exists_on_a_cluster() -> None:
    """The detectors', API's and notifications' queries (storage/) name the Distributed tables and the
    views over them, never a local table (except the outbox prune, a DELETE on every shard's local rows)."""
    import santiway_anomaly.storage as storage_pkg

    exists, distributed = _cluster_objects("c1")
    root = Path(storage_pkg.__file__).parent
    named: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        if path.name == "databases.py":  # the rewrite itself: its examples are not queries
            continue
        for name in re.findall(r"\b((?:anomaly_ml|santi)\.\w+)", path.read_text(encoding="utf-8")):
            named.setdefault(name, set()).add(path.name)
    queried = {n for n in named if not n.endswith(("_mv", "schema_migrations"))}
    assert queried, named
    missing = sorted(n for n in queried if n not in exists)
    assert missing == [], f"queried but not created in cluster mode: {missing}"
    local = {n for n in queried if n.endswith("_local")}
    assert local == {"anomaly_ml.notify_outbox_local"} and named["anomaly_ml.notify_outbox_local"] == {
        "notifications.py"}
    # The raw table and every aggregate the detectors read are Distributed on a cluster.
    assert {"santi.way_data", "anomaly_ml.hourly_features", "anomaly_ml.folder_5min", "anomaly_ml.folder_hourly",
            "anomaly_ml.device_days", "anomaly_ml.anomalies"} <= distributed
