"""One ingest run in a fresh store, in a process of its own (so each run's peak memory is its own).

`python benchmarks/_ingest_runs.py ours|engine|engine-views PARQUET DATA_DIR` prints one JSON line:
rows stored, seconds, CPU seconds of the process (chDB's threads included) and peak RSS.
- ours: `ingest_file` (read, validate, dedup, store with the views attached);
- engine: chDB's own `INSERT ... SELECT * FROM file(PARQUET)` into a MergeTree with the same columns,
  partitioning and sort key as `santi.way_data` (created `AS santi.way_data`, so no views): the baseline;
- engine-views: the same statement into `santi.way_data` itself, its materialized views attached.
The timed part is the ingest alone; opening the store and creating the schema are not timed.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from santiway_anomaly.config import load_settings
from santiway_anomaly.ingest.pipeline import ingest_file
from santiway_anomaly.storage import Store

KINDS = ("ours", "engine", "engine-views")


def run(kind: str, parquet: Path, data_dir: Path) -> dict[str, float]:
    settings = load_settings(data_dir=data_dir, _env_file=None)
    with Store.open(settings) as store:
        columns = ", ".join(pq.ParquetFile(parquet).schema_arrow.names)
        target = "santi.way_data"
        if kind == "engine":
            store.command("CREATE TABLE santi.engine_baseline AS santi.way_data")
            target = "santi.engine_baseline"
        started, cpu = time.perf_counter(), time.process_time()
        if kind == "ours":
            report = ingest_file(store, parquet, settings)
            assert not report.rejected, report.to_dict()
        else:
            store.command(f"INSERT INTO {target} ({columns}) SELECT * FROM file('{parquet}', Parquet)")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = int(store.scalar(f"SELECT count() FROM {target}"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_mb}


def run_in_child(kind: str, parquet: Path, data_dir: Path, source: Path | None = None) -> dict[str, float]:
    """`run` in a child process; with `source`, the package is imported from that `src` directory
    (another version of the code, e.g. `git archive <commit> src`) instead of this checkout's."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run([sys.executable, __file__, kind, str(parquet), str(data_dir)], check=True,
                         capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def simulated_parquet(out: Path, devices: int, sightings_per_hour: float = 40.0) -> Path:
    """A day of the simulator's feed (20 folders, seed 3), reused when it is already there."""
    path = out / "sightings.parquet"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "santiway_anomaly", "simulate", "--devices", str(devices),
                        "--days", "1", "--folders", "20", "--seed", "3", "--sightings-per-hour",
                        str(sightings_per_hour), "--out", str(out), "--no-progress"],
                       check=True, capture_output=True)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in KINDS:
        raise SystemExit(__doc__)
    print(json.dumps(run(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))  # noqa: T201 - the child's answer
