"""The schema for a ClickHouse cluster, derived from the single-node migration files (docs/cluster.md).

With `CLICKHOUSE_CLUSTER=name`, every single-node statement becomes its cluster form:
- a table `db.t` becomes `db.t_local`, a `Replicated*MergeTree` created `ON CLUSTER`, with `db.t`, a
  `Distributed` table of the same columns, in front of it: every query of the product keeps its table
  names and reads all shards;
- sharded by device (`cityHash64(device_id)`) when the sort key holds `device_id`, by folder when it holds
  `folder`, by anomaly when it holds `anomaly_id`, else by the first sort-key column (a ReplacingMergeTree
  must see every version of a key on one shard to collapse them);
- a materialized view is attached to the local source table (it sees the rows inserted on its shard) and
  writes to the local target when the target is sharded like the source, else to the Distributed target,
  which routes each aggregate row to the shard of its key;
- plain views, databases, drops and alters run `ON CLUSTER`; backfill `INSERT ... SELECT` statements
  run through the Distributed tables unchanged; `EXCHANGE TABLES` swaps the local tables (each
  Distributed table names its local table, so it then fronts the other's data);
- the migrations table is one replicated table shared by the whole cluster: migrations are recorded once.
The single-node files stay the source of truth; nothing here changes what a single server gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from santiway_anomaly.storage.migrations import Migration, split_statements
from santiway_anomaly.storage.names import identifier

# Replication paths: one ZooKeeper/Keeper path per shard and table; `{shard}` and `{replica}` are the
# server's macros (docs/cluster.md shows the config).
_SHARD_PATH = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
# The migrations table is not sharded: every server holds a replica of the one cluster-wide table.
_CLUSTER_WIDE_PATH = "'/clickhouse/tables/all/{database}/{table}', '{replica}'"

_NAME = r"([A-Za-z_]\w*\.[A-Za-z_]\w*)"
_CREATE_DB = re.compile(r"^(CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?\w+)(.*)$", re.I | re.S)
_CREATE_TABLE = re.compile(rf"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}(.*)$", re.I | re.S)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*)MergeTree(\s*\(([^)]*)\))?", re.I)
_ORDER_BY = re.compile(r"ORDER\s+BY\s+(\(([^)]*)\)|(\w+))", re.I)
_CREATE_MV = re.compile(
    rf"^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s+TO\s+{_NAME}(.*)$", re.I | re.S)
_FROM = re.compile(rf"\bFROM\s+{_NAME}", re.I)
_CREATE_VIEW = re.compile(rf"^CREATE\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}(.*)$", re.I | re.S)
_DROP = re.compile(rf"^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?{_NAME}\s*$", re.I)
_ALTER = re.compile(rf"^ALTER\s+TABLE\s+{_NAME}\s+(.*)$", re.I | re.S)
_EXCHANGE = re.compile(rf"^EXCHANGE\s+TABLES\s+{_NAME}\s+AND\s+{_NAME}\s*$", re.I)
_DEDUP_WINDOW = re.compile(r"\bnon_replicated_deduplication_window\b")


class ClusterSchemaError(ValueError):
    """A single-node statement this module does not know how to turn into its cluster form."""


@dataclass
class _Tables:
    """What the statements so far created: each table's sharding key."""

    keys: dict[str, str] = field(default_factory=dict)


def local_name(table: str) -> str:
    return f"{table}_local"


def sharding_key(order_by: list[str]) -> str:
    """Device tables by device, folder tables by folder, anomaly tables by anomaly (a time-first sort key
    would put a whole hour on one shard), others by their first sort-key column."""
    for column in ("device_id", "folder", "anomaly_id"):
        if column in order_by:
            return f"cityHash64({column})"
    return f"cityHash64({order_by[0]})"


def _order_by(body: str) -> list[str]:
    found = _ORDER_BY.search(body)
    if not found:
        raise ClusterSchemaError("a MergeTree table without ORDER BY")
    columns = found.group(2) if found.group(2) is not None else found.group(3)
    return [c.strip() for c in columns.split(",") if c.strip()]


def _replicated_engine(body: str, path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        args = (match.group(3) or "").strip()
        return f"ENGINE = Replicated{match.group(1)}MergeTree({path}{', ' + args if args else ''})"

    body, count = _ENGINE.subn(replace, body, count=1)
    if not count:
        raise ClusterSchemaError("a table that is not a MergeTree")
    # The non-replicated dedup window has a replicated twin: a re-sent batch stays a no-op.
    return _DEDUP_WINDOW.sub("replicated_deduplication_window", body)


def _on(cluster: str) -> str:
    return f" ON CLUSTER {cluster}"


def _table(match: re.Match[str], cluster: str, tables: _Tables) -> list[str]:
    if_not_exists, name, body = match.group(1) or "", match.group(2), match.group(3)
    key = sharding_key(_order_by(body))
    tables.keys[name] = key
    database, table = name.split(".")
    local = local_name(name)
    return [
        f"CREATE TABLE {if_not_exists}{local}{_on(cluster)}{_replicated_engine(body, _SHARD_PATH)}",
        f"CREATE TABLE {if_not_exists}{name}{_on(cluster)} AS {local}\n"
        f"ENGINE = Distributed({cluster}, {database}, {table}_local, {key})",
    ]


def _view(match: re.Match[str], cluster: str, tables: _Tables) -> list[str]:
    if_not_exists, name, target, body = match.group(1) or "", match.group(2), match.group(3), match.group(4)
    sources = _FROM.findall(body)
    if len(sources) != 1 or sources[0] not in tables.keys:
        raise ClusterSchemaError(f"materialized view {name}: expected one source table, found {sources}")
    source = sources[0]
    body = _FROM.sub(f"FROM {local_name(source)}", body, count=1)
    # Sharded alike: the aggregate of a shard's rows belongs on that shard. Otherwise route it.
    to = local_name(target) if tables.keys.get(target) == tables.keys[source] else target
    return [f"CREATE MATERIALIZED VIEW {if_not_exists}{name}{_on(cluster)}\nTO {to}{body}"]


def to_cluster(statement: str, cluster: str, tables: _Tables) -> list[str]:
    """The cluster form of one single-node statement (one or more statements)."""
    if match := _CREATE_DB.match(statement):
        return [f"{match.group(1)}{_on(cluster)}{match.group(2)}"]
    if match := _CREATE_TABLE.match(statement):
        return _table(match, cluster, tables)
    if match := _CREATE_MV.match(statement):
        return _view(match, cluster, tables)
    if match := _CREATE_VIEW.match(statement):
        return [f"CREATE VIEW {match.group(1) or ''}{match.group(2)}{_on(cluster)}{match.group(3)}"]
    if match := _DROP.match(statement):
        kind, if_exists, name = match.group(1).upper(), match.group(2) or "", match.group(3)
        dropped = [f"DROP {kind} {if_exists}{name}{_on(cluster)} SYNC"]
        # A table created here has a local table behind it; so may a leftover that a re-run after a
        # crash drops IF EXISTS before creating it again.
        if kind == "TABLE" and (name in tables.keys or if_exists):
            dropped.append(f"DROP TABLE {if_exists}{local_name(name)}{_on(cluster)} SYNC")
            tables.keys.pop(name, None)
        return dropped
    if match := _ALTER.match(statement):
        name, action = match.group(1), match.group(2)
        if name in tables.keys and action.upper().startswith("ADD COLUMN"):
            # A new column goes on the local table and on the Distributed table in front of it.
            return [f"ALTER TABLE {local_name(name)}{_on(cluster)} {action}",
                    f"ALTER TABLE {name}{_on(cluster)} {action}"]
        if name not in tables.keys or not action.upper().startswith("MODIFY SETTING"):
            raise ClusterSchemaError(f"no cluster form for: {statement[:80]}")
        action = _DEDUP_WINDOW.sub("replicated_deduplication_window", action)
        return [f"ALTER TABLE {local_name(name)}{_on(cluster)} {action}"]
    if match := _EXCHANGE.match(statement):
        first, second = match.group(1), match.group(2)
        if first not in tables.keys or second not in tables.keys or tables.keys[first] != tables.keys[second]:
            raise ClusterSchemaError(f"no cluster form for: {statement[:80]} (tables sharded differently)")
        return [f"EXCHANGE TABLES {local_name(first)} AND {local_name(second)}{_on(cluster)}"]
    if statement.upper().startswith("INSERT INTO"):
        return [statement]  # a backfill: reads and writes through the Distributed tables
    raise ClusterSchemaError(f"no cluster form for: {statement[:80]}")


def cluster_query_settings(cluster: str | None) -> dict[str, str]:
    """Settings of every query on a cluster (none on one server).

    The product's queries read the Distributed tables, and many filter or join by a subquery that reads
    another Distributed table (`device_id IN (SELECT ... FROM anomaly_ml.device_days ...)`). ClickHouse
    refuses such a double-distributed subquery by default (distributed_product_mode = 'deny'). 'global'
    runs the subquery once and ships its result to every shard (GLOBAL IN / GLOBAL JOIN): correct
    whatever the two tables' sharding keys, while the outer query still aggregates on each shard and
    merges the partial states on the initiator (docs/cluster.md).
    """
    return {"distributed_product_mode": "global"} if cluster else {}


def versions_ddl(cluster: str | None, database: str = "anomaly_ml") -> str:
    """The migrations table: local on one server, one cluster-wide replicated table on a cluster."""
    name = f"{identifier(database)}.schema_migrations"
    on = _on(identifier(cluster)) if cluster else ""
    engine = f"ReplicatedReplacingMergeTree({_CLUSTER_WIDE_PATH})" if cluster else "ReplacingMergeTree"
    return f"""CREATE TABLE IF NOT EXISTS {name}{on}
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {engine}
ORDER BY version"""


def statements(migrations: list[Migration], cluster: str | None = None) -> list[tuple[Migration, list[str]]]:
    """Each migration with the statements it runs: as written (one server) or in cluster form."""
    if not cluster:
        return [(m, split_statements(m.text)) for m in migrations]
    identifier(cluster)
    tables = _Tables()
    out: list[tuple[Migration, list[str]]] = []
    for migration in migrations:
        converted: list[str] = []
        for statement in split_statements(migration.text):
            converted.extend(to_cluster(statement, cluster, tables))
        out.append((migration, converted))
    return out
