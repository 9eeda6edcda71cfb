"""`santiway-anomaly schema ...`: apply and inspect the ClickHouse schema."""

from __future__ import annotations

from typing import Annotated

import typer

from santiway_anomaly.cli.common import EXIT_CONFIG, open_store, settings_or_exit

app = typer.Typer(help="Create or upgrade the ClickHouse schema (tables, materialized views).", no_args_is_help=True)


@app.command("apply")
def apply() -> None:
    """Apply every migration not yet applied (idempotent; also done automatically on first use)."""
    from santiway_anomaly.storage.migrations import applied, apply_migrations

    settings = settings_or_exit()
    # Not applied on opening here, so that the listing can tell what this run applied.
    with open_store(settings, apply_schema=False) as store:
        newly = apply_migrations(store)
        done = applied(store)
    for version, (name, checksum) in sorted(done.items()):
        state = "applied now" if any(m.version == version for m in newly) else "already applied"
        typer.echo(f"{version:03d}  {name:<40} {checksum[:12]}  {state}")
    typer.echo(f"schema at version {max(done):03d} in {store.target}")


@app.command("status")
def status() -> None:
    """Show applied migrations and row counts of the main tables. While the service owns the embedded
    store, shows the schema version the service reports (its /health)."""
    from santiway_anomaly.cli.service import store_or_service
    from santiway_anomaly.storage import Store

    settings = settings_or_exit()
    with store_or_service(settings) as store:
        if not isinstance(store, Store):
            info = store.health().store  # None when the service answered without the key's details
            if info is None:
                typer.echo("schema version unknown: the service shows store details only with a valid API key "
                           "(set VALID_API_KEYS / DASHBOARD_API_KEY)")
                return
            version = info.schema_version
            typer.echo(f"schema at version {version:03d} in {info.target}" if version is not None
                       else f"schema version unknown: {info.error or 'the service cannot read the store'}")
            typer.echo("(row counts and the list of migrations need the store: stop the service to see them)")
            return
        from santiway_anomaly.storage.migrations import applied
        from santiway_anomaly.storage.queries.health import row_counts

        for version, (name, checksum) in sorted(applied(store).items()):
            typer.echo(f"{version:03d}  {name:<40} {checksum[:12]}")
        for table, rows in row_counts(store):
            typer.echo(f"{table:<32} {rows:>12,}")


@app.command("show")
def show(
    cluster: Annotated[str | None, typer.Option(
        help="Print the cluster form (ON CLUSTER, Replicated*MergeTree + Distributed); "
             "default: CLICKHOUSE_CLUSTER, empty = one server")] = None,
) -> None:
    """Print the DDL that `schema apply` runs, migration by migration (no store needed)."""
    from santiway_anomaly.storage.cluster import ClusterSchemaError, statements, versions_ddl
    from santiway_anomaly.storage.databases import Databases
    from santiway_anomaly.storage.migrations import discover

    settings = settings_or_exit()
    name = settings.clickhouse_cluster if cluster is None else cluster
    try:
        per_migration = statements(discover(), name or None)
    except (ClusterSchemaError, ValueError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG) from None
    # The configured databases, as `schema apply` would create them (storage/databases.py).
    databases = Databases.from_settings(settings)
    target = f"cluster {name}" if name else "one server"
    typer.echo(f"-- SantiWay anomaly detection schema for {target}")
    typer.echo(databases.sql("CREATE DATABASE IF NOT EXISTS anomaly_ml" + (f" ON CLUSTER {name}" if name else ""))
               + ";\n")
    typer.echo(f"{databases.sql(versions_ddl(name or None))};\n")
    for migration, migration_statements in per_migration:
        typer.echo(f"-- {migration.version:03d} {migration.name}")
        for statement in migration_statements:
            typer.echo(f"{databases.sql(statement)};\n")
