"""The four detectors across world families and the real captures (issue 11, item 7; issue 12).

One world per family (9 families, each with its own seed; none is 42, none was tuned on), plus the
lab captures in ../shared/data/lab-probes-2022-2023 when present. Each world is generated, ingested
into a fresh embedded store and detected once per local day in a worker process of its own (the ML
detector: one `detect --hours 72` run over the 3 anomaly days, and 72-hour runs over the clean days).

Usage: python benchmarks/evaluate_worlds.py [--scale 1.0] [--jobs 1] [--lab DIR] [--docs docs/evaluation]
             [--detectors density,night,stationary,ml] [--seeds S1,S2,...  (every family per seed)] [--zip]
Prints the table, writes benchmarks/results/evaluate_worlds.json and docs/evaluation/worlds.md + .json.
`santiway-anomaly evaluate --worlds` does the same with one seed list for every family.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results  # noqa: E402
from santiway_anomaly.catalog import DETECTOR_NAMES  # noqa: E402
from santiway_anomaly.evaluation.worlds import render_markdown, run_all, write_outputs  # noqa: E402
from santiway_anomaly.simulate.families import FAMILIES  # noqa: E402

# One seed per family, fixed so that every branch is judged on the same worlds.
SEEDS = {"outages": 311, "sessions": 523, "weekly_events": 719, "infrastructure": 907, "sticky_random": 1103,
         "patrols": 1301, "guarded": 1511, "small_site": 1709, "large_site": 1901,
         "weak_sensors": 2111}
LAB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lab-probes-2022-2023"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--jobs", type=int, default=1, help="worlds in parallel (the cores are shared: default 1)")
    ap.add_argument("--lab", type=Path, default=LAB)
    ap.add_argument("--no-lab", action="store_true")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--detectors", default=",".join(DETECTOR_NAMES))
    ap.add_argument("--seeds", default="", help="run every family with each of these seeds instead of SEEDS")
    ap.add_argument("--zip", action="store_true", help="with --seeds: the i-th family with the i-th seed only")
    ap.add_argument("--workdir", type=Path, default=None, help="where the worlds' stores are made (default: tmp)")
    ap.add_argument("--name", default="evaluate_worlds", help="results file name (benchmarks/results/NAME.json)")
    ap.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "evaluation")
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    if args.zip and len(seeds) != len(families):
        ap.error(f"--zip needs one seed per family ({len(families)})")
    tasks = (list(zip(families, seeds, strict=True)) if args.zip else [(f, s) for s in seeds for f in families]) \
        if seeds else [(f, SEEDS.get(f, 101)) for f in families]
    detectors = [d for d in args.detectors.split(",") if d]
    result = run_all(tasks, args.scale, detectors, lab=None if args.no_lab else args.lab, jobs=args.jobs,
                     workdir=args.workdir)
    lab_result = result["lab"]
    command = "python benchmarks/evaluate_worlds.py " + " ".join(sys.argv[1:])
    print(render_markdown(result, command))
    md, js = write_outputs(result, args.docs, command)
    figures = {"scale": args.scale, "seconds": result["seconds"], "tasks": [f"{f}-{s}" for f, s in tasks],
               "detectors": detectors,
               "summary": result["summary"],
               "worlds": [{k: w.get(k) for k in ("world", "devices", "macs", "sightings", "types", "all_types",
                                                 "hard_negative_hits", "false_alarms", "false_alarms_left_out",
                                                 "timings", "error")} for w in result["worlds"]],
               "lab": None if lab_result is None else {k: v for k, v in lab_result.items() if k != "alarms"},
               "lab_alarms": None if lab_result is None else len(lab_result["alarms"]), "docs": [str(md), str(js)]}
    print(f"results: {write_results(args.name, figures)}")


if __name__ == "__main__":
    main()
