"""Schema migrations: numbered SQL files applied in order, each recorded with its checksum.

Order: `schema.sql` (001), `views.sql` (002), then `migrations/NNN_name.sql` (003 and up).
An applied file whose text has changed since is refused: schema changes go in a new file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from santiway_anomaly.storage.store import Store

SQL_DIR = Path(str(resources.files("santiway_anomaly") / "storage" / "sql"))

_VERSIONS_DDL = """
CREATE TABLE IF NOT EXISTS anomaly_ml.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = [Migration(1, "schema.sql", sql_dir / "schema.sql"), Migration(2, "views.sql", sql_dir / "views.sql")]
    pattern = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
    for path in sorted((sql_dir / "migrations").glob("*.sql")):
        match = pattern.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} must be named NNN_lower_snake.sql")
        version = int(match.group(1))
        if version <= 2:
            raise MigrationError(f"{path.name}: versions 001 and 002 are schema.sql and views.sql")
        found.append(Migration(version, f"migrations/{path.name}", path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return found


def split_statements(text: str) -> list[str]:
    """Split a multi-statement file at semicolons that end a line (the files' convention)."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [s.strip() for s in statements if s.strip()]


def applied(store: Store) -> dict[int, tuple[str, str]]:
    rows = store.query_rows("SELECT version, name, checksum FROM anomaly_ml.schema_migrations FINAL")
    return {int(v): (str(n), str(c)) for v, n, c in rows}


def apply_migrations(store: Store, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """Apply every migration not yet applied; returns those applied now. Idempotent."""
    from santiway_anomaly.storage.cluster import statements, versions_ddl

    cluster = store.settings.clickhouse_cluster or None
    store.command("CREATE DATABASE IF NOT EXISTS anomaly_ml" + (f" ON CLUSTER {cluster}" if cluster else ""))
    store.command(versions_ddl(cluster) if cluster else _VERSIONS_DDL)
    done = applied(store)
    newly: list[Migration] = []
    # On a cluster every statement runs in its ON CLUSTER form (storage/cluster.py, docs/cluster.md).
    for migration, migration_statements in statements(discover(sql_dir), cluster):
        if migration.version in done:
            name, checksum = done[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:03d} ({name}) was applied with checksum {checksum[:12]} "
                    f"but the file now has {migration.checksum[:12]}: applied migrations must not change; "
                    "put the change in a new clickhouse/migrations/NNN_*.sql file"
                )
            continue
        for statement in migration_statements:
            store.command(statement)
        store.insert_rows(
            "anomaly_ml.schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            ["version", "name", "checksum"],
        )
        logger.info("Applied schema migration {:03d} ({})", migration.version, migration.name)
        newly.append(migration)
    return newly


def current_version(store: Store) -> int:
    done = applied(store)
    return max(done) if done else 0
