"""Entry point: `santiway-anomaly COMMAND --help`.

Command modules import heavy libraries (torch, pandas, FastAPI) inside their functions, so that
`--help` and the light commands start fast.
"""

from __future__ import annotations

import typer

from santiway_anomaly import __version__
from santiway_anomaly.cli import config_cmd, schema

app = typer.Typer(
    name="santiway-anomaly",
    help="SantiWay anomaly detection: ingest sightings, detect anomalies, serve the API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(schema.app, name="schema")
app.add_typer(config_cmd.app, name="config")

# Commands register below, one line per module (keep one line each: several people edit this list).
from santiway_anomaly.cli import demo as _demo  # noqa: E402

_demo.register(app)
from santiway_anomaly.cli import detect as _detect  # noqa: E402

_detect.register(app)
from santiway_anomaly.cli import dashboard as _dashboard  # noqa: E402

_dashboard.register(app)
from santiway_anomaly.cli import evaluate as _evaluate  # noqa: E402

_evaluate.register(app)
from santiway_anomaly.cli import ingest as _ingest  # noqa: E402

_ingest.register(app)
from santiway_anomaly.cli import notify as _notify  # noqa: E402
from santiway_anomaly.cli import operator as _operator  # noqa: E402

app.add_typer(_operator.app, name="operator")

_notify.register(app)
from santiway_anomaly.cli import occupancy as _occupancy  # noqa: E402

_occupancy.register(app)
from santiway_anomaly.cli import serve as _serve  # noqa: E402

_serve.register(app)

from santiway_anomaly.cli import simulate as _simulate  # noqa: E402

_simulate.register(app)
from santiway_anomaly.cli import train as _train  # noqa: E402

_train.register(app)


@app.command("version")
def version() -> None:
    """Print the package version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
