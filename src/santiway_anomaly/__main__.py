"""`python -m santiway_anomaly ...` runs the same CLI as the `santiway-anomaly` script."""

from santiway_anomaly.cli.main import app

if __name__ == "__main__":
    app(prog_name="santiway-anomaly")
