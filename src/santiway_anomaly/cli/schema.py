"""`santiway-anomaly schema ...`: apply and inspect the ClickHouse schema."""

from __future__ import annotations

from datetime import date
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


EXIT_DISAGREE = 1


def _parse_days(days: list[str]) -> list[date] | None:
    if not days:
        return None
    try:
        return [date.fromisoformat(d) for d in days]
    except ValueError as exc:
        typer.secho(f"error: --day: {exc} (expected YYYY-MM-DD)", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG) from None


_DAY_HELP = "Only this UTC day, YYYY-MM-DD (repeat for several); default: every day stored"


@app.command("check")
def check(days: Annotated[list[str], typer.Option("--day", help=_DAY_HELP)] = []) -> None:  # noqa: B006
    """Compare the hourly aggregates the detectors read with the raw sightings, day by day (sightings per
    UTC day in santi.way_data against hourly_features, device_days, folder_5min and folder_hourly).

    Exit code: 0 they agree, 1 some days disagree (run `schema repair`), 2 bad arguments, 3 store unavailable.
    """
    from santiway_anomaly.storage.aggregates import check_agreement

    chosen = _parse_days(days)
    settings = settings_or_exit()
    with open_store(settings) as store:
        report = check_agreement(store, chosen)
    bad = report.disagreeing
    for day in bad:
        typer.echo(f"disagree  {report.describe(day)}")
    typer.echo(f"{len(report.raw)} day(s) with sightings checked, {len(bad)} disagree"
               + ("; run `santiway-anomaly schema repair`" if bad else ""))
    if bad:
        raise typer.Exit(EXIT_DISAGREE)


@app.command("repair")
def repair(days: Annotated[list[str], typer.Option("--day", help=_DAY_HELP)] = []) -> None:  # noqa: B006
    """Rebuild the aggregates of every day on which they disagree with the raw sightings, from the raw
    sightings (the source of truth). Safe to run again after an interruption; the service repairs by
    itself after a failed insert, this is for a store left behind by a killed process.

    Exit code: 0 all days agree afterwards, 1 some still disagree, 2 bad arguments, 3 store unavailable.
    """
    from santiway_anomaly.storage.aggregates import RepairRefused, repair_disagreeing

    chosen = _parse_days(days)
    settings = settings_or_exit()
    with open_store(settings) as store:
        try:
            after, rebuilt = repair_disagreeing(store, chosen)
        except RepairRefused as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(EXIT_CONFIG) from None
    for day in rebuilt:
        typer.echo(f"rebuilt   {day.isoformat()}")
    for day in after.disagreeing:
        typer.echo(f"disagree  {after.describe(day)}")
    typer.echo(f"{len(rebuilt)} day(s) rebuilt; {len(after.disagreeing)} still disagree")
    if not after.agree:
        raise typer.Exit(EXIT_DISAGREE)
