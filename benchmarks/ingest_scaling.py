"""Ingest cost per sighting and per device as the world grows (issue 17, point 5: ingest and memory).

For each size in `--devices` (default 10k, 30k, 100k, 300k devices) a day of the simulator's feed is
written once under `--work` with `--sightings-per-hour` (default 4, a tenth of the default density,
so that 300k devices stay a ~10 M-row file on two shared cores: fewer sightings per device, the
same per-row work). Then `--repeat` interleaved rounds, each run in a fresh store and a process of its
own (`_ingest_runs.py`): `ingest_file`; chDB's own `INSERT ... SELECT * FROM file(...)` into a
MergeTree with the same columns and sort key (the baseline); and the same statement into
`santi.way_data` with its views (the reference: at a few sightings per device-hour the per device-hour
view writes about a row per two sightings, the worst case for any ingest into this schema). Reported
per size (medians): seconds, wall and CPU microseconds per sighting, milliseconds per 1,000 devices,
the ratios to the baseline and the reference, and the peak resident memory of the ingest process.
Usage: python benchmarks/ingest_scaling.py [--devices 10000 30000 100000 300000] [--repeat 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402
from _ingest_runs import run_in_child, simulated_parquet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000])
    parser.add_argument("--sightings-per-hour", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, help="where the Parquet files and the stores go (default: a temp dir)")
    args = parser.parse_args()

    work = args.work or scratch_dir("ingest-scaling")
    work.mkdir(parents=True, exist_ok=True)
    sizes: list[dict[str, float]] = []
    try:
        files = {n: simulated_parquet(work / f"sim-{n}-{args.sightings_per_hour:g}", n, args.sightings_per_hour)
                 for n in args.devices}
        kinds = ("ours", "engine", "engine-views")
        runs: dict[int, dict[str, list[dict[str, float]]]] = {n: {k: [] for k in kinds} for n in args.devices}
        for i in range(args.repeat):
            for n in args.devices:  # interleaved: every size once per round, ours then the baselines
                for kind in kinds:
                    data = work / f"store-{kind}"
                    shutil.rmtree(data, ignore_errors=True)
                    result = run_in_child(kind, files[n], data)
                    shutil.rmtree(data, ignore_errors=True)
                    runs[n][kind].append(result)
                    print(f"round {i + 1} {n:>7,} devices {kind:12s}: {result['rows']:,.0f} rows in "
                          f"{result['seconds']:.2f}s, CPU {result['cpu_seconds']:.2f}s, "
                          f"peak {result['peak_rss_mb']:.0f} MB")
        for n in args.devices:
            ours, engine, reference = runs[n]["ours"], runs[n]["engine"], runs[n]["engine-views"]
            rows = ours[0]["rows"]
            seconds = statistics.median(r["seconds"] for r in ours)
            size = {
                "devices": n,
                "rows": int(rows),
                "seconds_median": round(seconds, 2),
                "us_per_sighting": round(seconds / rows * 1e6, 3),
                "cpu_us_per_sighting": round(statistics.median(r["cpu_seconds"] for r in ours) / rows * 1e6, 3),
                "ms_per_1000_devices": round(seconds / n * 1e6, 1),
                "baseline_us_per_sighting": round(statistics.median(r["seconds"] for r in engine) / rows * 1e6, 3),
                "reference_us_per_sighting": round(statistics.median(r["seconds"] for r in reference) / rows * 1e6, 3),
                "ratio_vs_baseline": round(statistics.median(
                    e["seconds"] / o["seconds"] for o, e in zip(ours, engine, strict=True)), 3),
                "ratio_vs_reference": round(statistics.median(
                    e["seconds"] / o["seconds"] for o, e in zip(ours, reference, strict=True)), 3),
                "cpu_ratio_vs_reference": round(statistics.median(
                    e["cpu_seconds"] / o["cpu_seconds"] for o, e in zip(ours, reference, strict=True)), 3),
                "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in ours)),
                "baseline_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in engine)),
            }
            sizes.append(size)
        print(f"{'devices':>8} {'rows':>11} {'s':>7} {'us/sighting':>12} {'CPU us':>7} {'ms/1k dev':>10} "
              f"{'baseline us':>12} {'ref. us':>8} {'vs base':>8} {'vs ref':>7} {'peak MB':>8}")
        for s in sizes:
            print(f"{s['devices']:>8,} {s['rows']:>11,} {s['seconds_median']:>7.2f} {s['us_per_sighting']:>12.3f} "
                  f"{s['cpu_us_per_sighting']:>7.2f} {s['ms_per_1000_devices']:>10.1f} "
                  f"{s['baseline_us_per_sighting']:>12.3f} {s['reference_us_per_sighting']:>8.3f} "
                  f"{s['ratio_vs_baseline']:>8.2f} {s['ratio_vs_reference']:>7.2f} {s['peak_rss_mb']:>8}")
        growth = sizes[-1]["us_per_sighting"] / sizes[0]["us_per_sighting"]
        cpu_growth = sizes[-1]["cpu_us_per_sighting"] / sizes[0]["cpu_us_per_sighting"]
        print(f"cost per sighting at {sizes[-1]['devices']:,} devices / at {sizes[0]['devices']:,}: "
              f"wall {growth:.2f}x, CPU {cpu_growth:.2f}x (<= 1: flat or falling)")
        path = write_results("ingest_scaling", {"sightings_per_hour": args.sightings_per_hour, "repeat": args.repeat,
                                                "sizes": sizes, "per_sighting_cost_growth": round(growth, 3),
                                                "per_sighting_cpu_growth": round(cpu_growth, 3)})
        print(f"results: {path}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
