"""Simulator throughput: sightings/s generated and written for 100,000 devices x 1 day.

Usage: python benchmarks/simulate.py [--devices 100000] [--days 1] [--folders 40] [--format parquet]
Writes benchmarks/results/simulate.json. The target (issue 2): >= 10 M sightings in minutes.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402
from santiway_anomaly.simulate.options import SimOptions  # noqa: E402
from santiway_anomaly.simulate.run import run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--folders", type=int, default=40)
    ap.add_argument("--format", default="parquet")
    ap.add_argument("--keep", action="store_true", help="keep the output directory")
    args = ap.parse_args()
    out = scratch_dir("simulate")
    # A fixed Tuesday: a weekday, so the figure does not depend on the day the benchmark runs.
    opts = SimOptions(devices=args.devices, days=args.days, folders=args.folders, seed=1, start=date(2026, 11, 10))
    try:
        summary = run(opts, out, args.format)
        size = sum(p.stat().st_size for p in summary.files if p.exists())
        row_groups = pq.ParquetFile(out / "sightings.parquet").metadata.num_row_groups \
            if (out / "sightings.parquet").exists() else 0
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "devices": args.devices, "days": args.days, "folders": args.folders, "format": args.format,
        "sightings": summary.sightings, "seconds": round(summary.seconds, 1),
        "sightings_per_second": round(summary.rate), "peak_rss_mb": round(peak_mb),
        "output_mb": round(size / 1e6, 1), "parquet_row_groups": row_groups,
        "anomalies": summary.anomalies,
    }
    for k, v in figures.items():
        print(f"{k:>22}: {v}")
    print(f"results: {write_results('simulate', figures)}")


if __name__ == "__main__":
    main()
