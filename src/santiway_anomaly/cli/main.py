"""Entry point: `santiway-anomaly COMMAND --help`.

Command modules import heavy libraries (torch, pandas, FastAPI) inside their functions, so that
`--help` and the light commands start fast.
"""

from __future__ import annotations

import typer

from santiway_anomaly import __version__
from santiway_anomaly.cli import schema

app = typer.Typer(
    name="santiway-anomaly",
    help="SantiWay anomaly detection: ingest sightings, detect anomalies, serve the API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(schema.app, name="schema")

# Commands register below, one line per module (keep one line each: several people edit this list).
from santiway_anomaly.cli import ingest as _ingest  # noqa: E402

_ingest.register(app)


@app.command("version")
def version() -> None:
    """Print the package version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
