"""Where detection spends its time: every query of one run, timed and attributed to the code that asked
for it, next to the Python that is not waiting on the store (issue 17 item 2: profile first).

Runs one detector (or `all`, as `detect` runs the four) over the detected day of the store that
`benchmarks/detect.py --data-dir DIR --keep` made, in this process, and prints

- per query site (the detector function that sent it): calls, wall seconds, process CPU seconds (chDB runs
  in this process, so its threads are counted) and rows returned, heaviest first;
- the run's totals: wall, CPU, the share spent in queries, and the scan baseline of detect.py (a real scan of
  the window's columns) with the CPU ratio to it;
- with --cprofile N: the N functions of our own code with the most cumulative time (cProfile inflates
  call-heavy Python about 2x: read it for the ranking, not for seconds).

    .venv/bin/python benchmarks/detect.py --data-dir DIR --keep            # once: the 100k store
    .venv/bin/python benchmarks/detect_profile.py --data-dir DIR [--detector all] [--cprofile 30]

Nothing is stored (save=False), so runs can be repeated on the same store. The figures move with the load of
a shared machine: compare CPU seconds, and runs made back to back.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from santiway_anomaly.config import load_settings
from santiway_anomaly.detectors.base import Window, build
from santiway_anomaly.detectors.runner import load_detectors, run_detection
from santiway_anomaly.storage import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect import DAY0, DETECTORS, SCAN  # noqa: E402

PACKAGE = "santiway_anomaly"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def caller() -> str:
    """The innermost frame of our own code outside the storage layer's plumbing: who asked."""
    frames = [f for f in traceback.extract_stack()[:-3]
              if PACKAGE in f.filename and not f.filename.endswith(("storage/store.py",))]
    if not frames:
        return "?"
    inner = frames[-1]
    outer = frames[-2] if len(frames) > 1 else None
    where = f"{Path(inner.filename).stem}.{inner.name}"
    return where + (f" <- {Path(outer.filename).stem}.{outer.name}" if outer else "")


class TimedStore(Store):
    """The store, with every query timed (wall, process CPU, rows) per query site."""

    sites: dict[str, dict[str, float]]

    def _timed(self, method: Any, sql: str, params: Mapping[str, Any] | None) -> Any:
        if not hasattr(self, "sites"):
            self.sites = defaultdict(lambda: {"calls": 0, "wall": 0.0, "cpu": 0.0, "rows": 0})
        site = caller()
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = method(sql, params)
        entry = self.sites[site]
        entry["calls"] += 1
        entry["wall"] += time.perf_counter() - wall
        entry["cpu"] += cpu_seconds() - cpu
        entry["rows"] += len(result) if isinstance(result, list | pd.DataFrame) else (
            result.num_rows if isinstance(result, pa.Table) else 0)
        return result

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return self._timed(super().query_df, sql, params)  # type: ignore[no-any-return]

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self._timed(super().query_arrow, sql, params)  # type: ignore[no-any-return]

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._timed(super().query_rows, sql, params)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="the store detect.py --keep made")
    parser.add_argument("--detector", default="all", choices=[*DETECTORS, "all"])
    parser.add_argument("--history-days", type=int, default=14, help="as given to detect.py")
    parser.add_argument("--cprofile", type=int, default=0, help="also list the N heaviest functions of our code")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    start = DAY0 + timedelta(days=args.history_days)
    end = start + timedelta(days=1)
    settings = load_settings(data_dir=args.data_dir, _env_file=None, log_level="WARNING")
    load_detectors()
    profiler = cProfile.Profile() if args.cprofile else None
    with TimedStore.open(settings) as store:
        cpu0 = cpu_seconds()
        store.query_rows(SCAN, {"start": start, "end": end})  # warm the window's columns like the detectors
        scan_cpu = cpu_seconds() - cpu0
        store.sites = defaultdict(lambda: {"calls": 0, "wall": 0.0, "cpu": 0.0, "rows": 0})
        wall, cpu0 = time.perf_counter(), cpu_seconds()
        if profiler:
            profiler.enable()
        if args.detector == "all":
            run = run_detection(store, settings, hours=24, until=end, detectors=list(DETECTORS), save=False)
            found, timings = len(run.anomalies), run.timings
        else:
            found, timings = len(build(args.detector, settings=settings).detect(store, Window(start, end))), {}
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu0
        sites = dict(store.sites)
    q_wall, q_cpu = sum(s["wall"] for s in sites.values()), sum(s["cpu"] for s in sites.values())
    print(f"{args.detector}: {found} anomalies, {wall:.2f} s wall, {cpu:.2f} s CPU; queries {q_wall:.2f} s wall "
          f"({q_wall / wall:.0%}), {q_cpu:.2f} s CPU; scan of the window {scan_cpu:.2f} s CPU "
          f"(CPU x{cpu / max(scan_cpu, 1e-6):.1f} scan)" + (f"; per detector {timings}" if timings else ""))
    print(f"{'wall s':>7} {'CPU s':>7} {'calls':>5} {'rows':>9}  query site")
    for site, s in sorted(sites.items(), key=lambda kv: -kv[1]["cpu"]):
        print(f"{s['wall']:7.2f} {s['cpu']:7.2f} {int(s['calls']):5d} {int(s['rows']):9d}  {site}")
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(PACKAGE, args.cprofile)
        print(text.getvalue())
    if args.out:
        args.out.write_text(json.dumps({"detector": args.detector, "anomalies": found, "wall_seconds": round(wall, 3),
                                        "cpu_seconds": round(cpu, 3), "scan_cpu_seconds": round(scan_cpu, 3),
                                        "timings": timings, "sites": sites}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
