"""Ingest throughput: sightings/s from a Parquet file into the embedded store with the views attached.

Data: a day of the simulator's feed (`--shape simulated`, default: ~40 sightings per device-hour, as
sensors report), or uniform random sightings (`--shape uniform`: ~2 per device-hour, the worst case
for the per device-hour view). Baseline in the same run: a plain `insert` of Python rows
(clickhouse-connect's row path) of the same sightings into the same table. The ingest runs `--repeat`
times, each into a fresh store, and the median is reported: the two cores are shared.
Usage: python benchmarks/ingest.py [--shape simulated|uniform] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402
from santiway_anomaly.config import load_settings  # noqa: E402
from santiway_anomaly.ingest.pipeline import ingest_file  # noqa: E402
from santiway_anomaly.sightings import STORED_COLUMNS  # noqa: E402
from santiway_anomaly.storage import Store  # noqa: E402


def make_parquet(path: Path, rows: int, seed: int = 7) -> None:
    """A day of sightings: 20k devices (a fifth randomized), 200 sensors in 40 folders."""
    rng = np.random.default_rng(seed)
    devices = rng.integers(0, 2**48, size=20_000, dtype=np.int64)
    devices[:4000] = (devices[:4000] & ~(0xFF << 40)) | (0xDA << 40)  # locally administered
    hexes = np.array([f"{d:012X}" for d in devices])
    macs = np.array([":".join(h[i:i + 2] for i in range(0, 12, 2)) for h in hexes])
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    ts = np.sort(rng.integers(0, 86_400_000, size=rows)) + int(start.timestamp() * 1000)
    sensor = rng.integers(0, 200, size=rows)
    table = pa.table({
        "ts": pa.array(ts, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "device_id": pa.array(macs[rng.integers(0, len(macs), size=rows)]),
        "sensor_id": pa.array(np.char.add("sensor-", sensor.astype(str))),
        "folder": pa.array(np.char.add("folder-", (sensor // 5).astype(str))),
        "network_type": pa.array(np.where(rng.random(rows) < 0.7, "wifi", "ble")),
        "rssi": pa.array(rng.integers(-100, -30, size=rows), type=pa.int16()),
        "lat": pa.array(55.75 + rng.normal(0, 0.01, size=rows)),
        "lon": pa.array(37.61 + rng.normal(0, 0.01, size=rows)),
        "vendor": pa.array([""] * rows),
    })
    pq.write_table(table, path, row_group_size=200_000)


def simulated_parquet(work: Path, devices: int) -> Path:
    out = work / "sim"
    subprocess.run([sys.executable, "-m", "santiway_anomaly.cli.main", "simulate", "--devices", str(devices),
                    "--days", "1", "--folders", "20", "--seed", "3", "--out", str(out), "--no-progress"],
                   check=True, capture_output=True)
    return out / "sightings.parquet"


def ingest_once(parquet: Path, data_dir: Path) -> tuple[float, dict[str, int], int]:
    """One ingest into a fresh store: (seconds, rows written per aggregate table, rows stored)."""
    settings = load_settings(data_dir=data_dir, _env_file=None)
    with Store.open(settings) as store:
        started = time.perf_counter()
        report = ingest_file(store, parquet, settings)
        seconds = time.perf_counter() - started
        stored = int(store.scalar("SELECT count() FROM santi.way_data"))
        assert report.accepted == stored, report.to_dict()
        views = {str(t): int(n) for t, n in store.query_rows(
            "SELECT table, sum(rows) FROM system.parts WHERE active AND database = 'anomaly_ml' "
            "AND table IN ('hourly_features', 'folder_5min', 'folder_hourly', 'device_days') GROUP BY table")}
    return seconds, views, stored


def baseline_python_rows(data_dir: Path, rows_wanted: int) -> tuple[float, int]:
    """clickhouse-connect's row path: the same (already validated) sightings as Python rows."""
    settings = load_settings(data_dir=data_dir, _env_file=None)
    with Store.open(settings) as store:
        sample = store.query_arrow(
            f"SELECT {', '.join(STORED_COLUMNS)} FROM santi.way_data LIMIT {{n:UInt64}}", {"n": rows_wanted})
        rows = [list(r.values()) for r in sample.to_pylist()]
        store.command("TRUNCATE TABLE santi.way_data")
        started = time.perf_counter()
        store.insert_rows("santi.way_data", rows, STORED_COLUMNS)
        return time.perf_counter() - started, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", choices=["simulated", "uniform"], default="simulated")
    parser.add_argument("--devices", type=int, default=4000, help="simulated devices (~330 sightings each)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the uniform shape")
    parser.add_argument("--baseline-rows", type=int, default=200_000,
                        help="rows for the Python-rows baseline (it is slow; rate is per row)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="ingest runs, each into a fresh store; the median is reported (the cores are shared)")
    args = parser.parse_args()

    work = scratch_dir("ingest")
    try:
        if args.shape == "simulated":
            parquet = simulated_parquet(work, args.devices)
        else:
            parquet = work / "sightings.parquet"
            make_parquet(parquet, args.rows)
        rows_in_file = pq.ParquetFile(parquet).metadata.num_rows
        runs: list[float] = []
        views: dict[str, int] = {}
        for i in range(args.repeat):
            seconds, views, stored = ingest_once(parquet, work / f"data{i}")
            assert stored == rows_in_file
            runs.append(seconds)
            print(f"run {i + 1}: {rows_in_file:,} rows in {seconds:.2f}s = {rows_in_file / seconds:,.0f} sightings/s")
            if i < args.repeat - 1:
                shutil.rmtree(work / f"data{i}", ignore_errors=True)
        base_seconds, base_rows = baseline_python_rows(work / f"data{args.repeat - 1}", args.baseline_rows)
        median = statistics.median(runs)
        ours_rate, best_rate = rows_in_file / median, rows_in_file / min(runs)
        base_rate = base_rows / base_seconds
        print(f"ingest_file (Parquet -> validate -> store, views attached): median of {len(runs)} runs "
              f"{median:.2f}s = {ours_rate:,.0f} sightings/s (best {best_rate:,.0f}/s)")
        print(f"baseline plain insert of Python rows:                      {base_rows:,} rows in "
              f"{base_seconds:.2f}s = {base_rate:,.0f} sightings/s")
        print(f"ratio: {ours_rate / base_rate:.1f}x the baseline")
        path = write_results("ingest", {
            "shape": args.shape,
            "rows": rows_in_file,
            "view_rows_written": views,
            "ingest_file_seconds_runs": [round(r, 3) for r in runs],
            "ingest_file_seconds_median": round(median, 3),
            "ingest_file_rows_per_s": round(ours_rate),
            "ingest_file_rows_per_s_best": round(best_rate),
            "baseline_python_rows": base_rows,
            "baseline_rows_per_s": round(base_rate),
            "ratio_vs_baseline": round(ours_rate / base_rate, 2),
            "target_rows_per_s": 1_000_000,
        })
        print(f"results: {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
