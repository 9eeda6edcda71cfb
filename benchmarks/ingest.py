"""Ingest throughput against chDB's own insert of the same Parquet file (issue 17).

Data: a day of the simulator's feed (`--devices 33000`: ~10.7 M sightings, the 10 M-row class;
`--devices 4000`: ~1.33 M, the feed of issues 13 and 16). The file is written once under `--work`
(reused on later runs; never commit it).

Each round runs, each in a fresh store and a process of its own (`_ingest_runs.py`), interleaved:
- ours: `ingest_file` (read, validate every row, normalise, dedup, store with the 4 views attached);
- baseline: chDB's own `INSERT ... SELECT * FROM file(...)` of the same file into a MergeTree with the
  same columns, partitioning and sort key as `santi.way_data` (no views);
- reference: the same statement into `santi.way_data` itself, its views attached (what the engine
  alone needs for our schema: the floor of any ingest into it).
- before (with `--before SRC`): `ingest_file` of another version of the code, e.g. the commit before
  a change (`git archive <commit> src | tar -x -C DIR`, then `--before DIR/src`).
The figures are medians over `--repeat` rounds (>= 3); the ratio is the median of the per-round
ratios (each round's runs are back to back, so a busy minute on the shared cores hits both).
Usage: python benchmarks/ingest.py [--devices 33000] [--repeat 3] [--work DIR] [--before SRC]
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

ROLES = {"ours": "ours", "baseline": "engine", "reference": "engine-views"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=33_000, help="simulated devices (~325 sightings each)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (>= 3); medians are reported")
    parser.add_argument("--work", type=Path, help="where the Parquet file and the stores go (default: a temp dir)")
    parser.add_argument("--results", default="ingest", help="name of the results file")
    parser.add_argument("--before", type=Path, help="src directory of another version to run in each round too")
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (medians of >= 3 interleaved runs)")

    work = args.work or scratch_dir("ingest")
    work.mkdir(parents=True, exist_ok=True)
    try:
        parquet = simulated_parquet(work / f"sim-{args.devices}", args.devices)
        roles = {**ROLES, **({"before": "ours"} if args.before else {})}
        runs: dict[str, list[dict[str, float]]] = {role: [] for role in roles}
        for i in range(args.repeat):
            for role, kind in roles.items():
                data = work / f"store-{role}"
                shutil.rmtree(data, ignore_errors=True)
                result = run_in_child(kind, parquet, data, args.before if role == "before" else None)
                shutil.rmtree(data, ignore_errors=True)
                runs[role].append(result)
                print(f"round {i + 1} {role:9s}: {result['rows']:,.0f} rows in {result['seconds']:.2f}s = "
                      f"{result['rows'] / result['seconds']:,.0f}/s, CPU {result['cpu_seconds']:.1f}s, "
                      f"peak {result['peak_rss_mb']:.0f} MB")
        rows = runs["ours"][0]["rows"]
        assert all(r["rows"] == rows for rs in runs.values() for r in rs), "every run stores every row"

        def rate(role: str) -> float:
            return rows / statistics.median(r["seconds"] for r in runs[role])

        def ratio(role: str, versus: str, key: str = "seconds") -> float:
            return statistics.median(b[key] / a[key] for a, b in zip(runs[role], runs[versus], strict=True))

        figures = {
            "rows": int(rows),
            "devices": args.devices,
            **{f"{role}_rows_per_s_median": round(rate(role)) for role in roles},
            **{f"{role}_seconds_runs": [round(r["seconds"], 2) for r in runs[role]] for role in roles},
            **{f"{role}_cpu_seconds_runs": [round(r["cpu_seconds"], 2) for r in runs[role]] for role in roles},
            **{f"{role}_peak_rss_mb_median": round(statistics.median(r["peak_rss_mb"] for r in runs[role]))
               for role in roles},
            "ratio_vs_baseline": round(ratio("ours", "baseline"), 3),
            "ratio_vs_reference": round(ratio("ours", "reference"), 3),
            "reference_ratio_vs_baseline": round(ratio("reference", "baseline"), 3),
            "cpu_per_row_vs_baseline": round(1 / ratio("ours", "baseline", "cpu_seconds"), 2),
            "target_ratio_vs_baseline": 0.65,
        }
        if args.before:
            figures["before_source"] = str(args.before)
            figures["speedup_vs_before"] = round(ratio("ours", "before"), 3)
            figures["before_ratio_vs_baseline"] = round(ratio("before", "baseline"), 3)
        print(f"ours (validated, deduplicated, 4 views):  median {rate('ours'):,.0f} sightings/s")
        print(f"baseline: chDB INSERT SELECT FROM file(), same columns and sort key, no views: "
              f"median {rate('baseline'):,.0f}/s")
        print(f"reference: the same INSERT into santi.way_data with its views: median {rate('reference'):,.0f}/s")
        print(f"ratio ours / baseline {figures['ratio_vs_baseline']}x (target >= 0.65x), "
              f"ours / reference {figures['ratio_vs_reference']}x, reference / baseline "
              f"{figures['reference_ratio_vs_baseline']}x; CPU per row {figures['cpu_per_row_vs_baseline']}x "
              "the baseline's (medians of per-round ratios)")
        if args.before:
            print(f"before ({args.before}): median {rate('before'):,.0f}/s, {figures['before_ratio_vs_baseline']}x "
                  f"the baseline; ours is {figures['speedup_vs_before']}x its speed")
        print(f"results: {write_results(args.results, figures)}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
