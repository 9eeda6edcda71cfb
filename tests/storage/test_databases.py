"""The one rewrite of canonical database names (storage/databases.py): what it touches and what it must not."""

from __future__ import annotations

import pytest

from santiway_anomaly.storage.cluster import statements
from santiway_anomaly.storage.databases import Databases
from santiway_anomaly.storage.migrations import discover, split_statements

MOVED = Databases("x_product", "x_host")


def test_default_names_leave_the_text_as_it_is() -> None:
    sql = "SELECT count() FROM santi.way_data JOIN anomaly_ml.anomalies USING (device_id)"
    assert Databases().sql(sql) is sql


def test_table_names_move_to_the_configured_databases() -> None:
    sql = "INSERT INTO anomaly_ml.hourly_features SELECT * FROM santi.way_data WHERE x IN (SELECT 1 FROM santi.y)"
    assert MOVED.sql(sql) == ("INSERT INTO x_product.hourly_features SELECT * FROM x_host.way_data "
                              "WHERE x IN (SELECT 1 FROM x_host.y)")
    assert MOVED.sql("CREATE DATABASE IF NOT EXISTS anomaly_ml ON CLUSTER c") == \
        "CREATE DATABASE IF NOT EXISTS x_product ON CLUSTER c"
    # The cluster DDL names the database as an engine argument, not only as a prefix.
    assert MOVED.sql("ENGINE = Distributed(c, anomaly_ml, anomalies_local, cityHash64(device_id))") == \
        "ENGINE = Distributed(c, x_product, anomalies_local, cityHash64(device_id))"


def test_literals_quoted_names_comments_and_longer_words_are_untouched() -> None:
    sql = ("SELECT 'anomaly_ml.anomalies', 'it''s santi', 'a\\'santi.b' AS s, \"santi\", `anomaly_ml` -- santi.x\n"
           "/* anomaly_ml.y */ FROM santiway.t, anomaly_ml_x.t, my_santi.t WHERE database = 'santi'")
    assert MOVED.sql(sql) == sql


def test_a_configured_name_equal_to_the_other_canonical_one_is_not_replaced_twice() -> None:
    swapped = Databases("santi", "anomaly_ml")
    assert swapped.sql("SELECT * FROM anomaly_ml.a, santi.way_data") == "SELECT * FROM santi.a, anomaly_ml.way_data"


def test_insert_targets() -> None:
    assert MOVED.table("santi.way_data") == "x_host.way_data"
    assert MOVED.table("anomaly_ml.anomalies") == "x_product.anomalies"
    with pytest.raises(ValueError):
        MOVED.table("anomalies")
    with pytest.raises(ValueError):
        MOVED.table("anomaly_ml.a; DROP TABLE x")
    with pytest.raises(ValueError):
        Databases("x; DROP", "santi")


@pytest.mark.parametrize("cluster", [None, "c"])
def test_every_migration_statement_keeps_no_canonical_name_once_moved(cluster: str | None) -> None:
    for _, migration_statements in statements(discover(), cluster):
        for statement in migration_statements:
            moved = MOVED.sql(statement)
            # Outside comments and literals no canonical database name is left.
            code = Databases("zz_a", "zz_b").sql(moved)
            assert code == moved
            assert "x_product" in moved or "x_host" in moved, statement[:80]
    assert all(split_statements(m.text) for m in discover())
