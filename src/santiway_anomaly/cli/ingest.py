"""`santiway-anomaly ingest FILE...`: load sightings files into the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from santiway_anomaly.cli.common import EXIT_CONFIG, EXIT_STORE, open_store, settings_or_exit

if TYPE_CHECKING:  # the pipeline pulls in pyarrow; `--help` should not
    from santiway_anomaly.ingest.pipeline import IngestReport

EXIT_REJECTS = 1
SHOWN_REJECTS = 20


def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV, NDJSON (.jsonl/.ndjson), JSON array or Parquet files",
                                                exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[str | None, typer.Option("--format", help="csv | ndjson | json | parquet (default: from the "
                                                              "file extension)")] = None,
    maps: Annotated[list[str], typer.Option("--map", help="FIELD=COLUMN: take a sighting field from a column "
                                                          "with another name (repeat or comma-separate)")] = [],  # noqa: B006
    sets: Annotated[list[str], typer.Option("--set", help="FIELD=VALUE: a constant for every row, e.g. "
                                                          "--set folder=lab --set sensor_id=s1")] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Validate and store sightings. Good rows are stored, each bad row is reported with its line and
    reason and kept in anomaly_ml.ingest_rejects. Re-ingesting a file does not double the data.

    Exit code: 0 all rows accepted, 1 some rows rejected, 2 bad arguments/unreadable file, 3 store unavailable.
    """
    from tqdm import tqdm

    from santiway_anomaly.ingest.pipeline import ColumnMapping, MappingError, ingest_file
    from santiway_anomaly.ingest.readers import ReadError, detect_format
    from santiway_anomaly.storage import StoreError

    settings = settings_or_exit()
    try:
        mapping = ColumnMapping.parse(maps, sets)
    except MappingError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(EXIT_CONFIG) from None
    reports: list[IngestReport] = []
    with open_store(settings) as store:
        for path in files:
            try:
                # Progress counts what total_size() counts: rows for Parquet, bytes for text files.
                unit = "rows" if detect_format(path, fmt) == "parquet" else "B"
            except ReadError as exc:
                typer.secho(f"error: {path}: {exc}", err=True, fg=typer.colors.RED)
                raise typer.Exit(EXIT_CONFIG) from None
            bar = tqdm(total=0, unit=unit, unit_scale=True, desc=path.name, disable=not progress, leave=False)

            def update(done: int, total: int, bar: tqdm = bar) -> None:  # type: ignore[type-arg]
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                report = ingest_file(store, path, settings, fmt=fmt, mapping=mapping, progress=update)
            except (MappingError, ReadError) as exc:
                bar.close()
                typer.secho(f"error: {path}: {exc}", err=True, fg=typer.colors.RED)
                raise typer.Exit(EXIT_CONFIG) from None
            except StoreError as exc:
                # Batches stored before the fault stay stored; a re-run stores only the missing rows.
                bar.close()
                typer.secho(f"error: {path}: {exc}", err=True, fg=typer.colors.RED)
                raise typer.Exit(EXIT_STORE) from None
            except OSError as exc:
                bar.close()
                typer.secho(f"error: {path}: cannot read the file: {exc.strerror or exc}", err=True,
                            fg=typer.colors.RED)
                raise typer.Exit(EXIT_CONFIG) from None
            bar.close()
            reports.append(report)
            if not as_json:
                _print_report(report)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports] if len(reports) > 1 else reports[0].to_dict(),
                              ensure_ascii=False, indent=2))
    if any(r.rejected for r in reports):
        raise typer.Exit(EXIT_REJECTS)


def _print_report(report: IngestReport) -> None:
    for r in report.rejects[:SHOWN_REJECTS]:
        typer.secho(f"  line {r.line}: {r.reason}", err=True, fg=typer.colors.YELLOW)
    if report.rejected > SHOWN_REJECTS:
        typer.secho(f"  ... and {report.rejected - SHOWN_REJECTS} more rejected rows "
                    "(all kept in anomaly_ml.ingest_rejects; --json lists up to 1000)", err=True,
                    fg=typer.colors.YELLOW)
    line = (f"{report.source}: accepted {report.accepted:,}, rejected {report.rejected:,}"
            f"{f', already stored {report.already_stored:,}' if report.already_stored else ''}"
            f" in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s)")
    typer.secho(line, fg=typer.colors.GREEN if not report.rejected else typer.colors.YELLOW)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
