"""Detection cost per device as the world grows (issue 17, point 5: each detector and memory).

For each size in `--devices` (default 10k, 30k, 100k, 300k devices) `benchmarks/detect.py` builds its
store (a detected day plus `--history-days` of history, generated inside ClickHouse) and times each
detector in a process of its own, next to a full scan of the window's columns, over `--runs`
interleaved rounds (medians). At `--per-device` 20 sightings per device and day and 10 per history day
(a fifth and a third of detect.py's defaults, the same per-row work) 300k devices stay 6 M rows a day and
48 M in all on two shared cores. Reported per size:
seconds per detector, milliseconds per 1,000 devices, the ratio to the scan of the same store, and each
detector's peak resident memory; then, per detector, the cost per device at the largest size over the
smallest (flat or falling: <= about 1).

    python benchmarks/detect_scaling.py [--devices 10000 30000 100000 300000] [--per-device 20]
                                        [--history-days 14] [--history-per-device 10] [--runs 3] [--work DIR]

Writes benchmarks/results/detect_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch_dir, write_results  # noqa: E402

DETECT = Path(__file__).resolve().parent / "detect.py"


def measure(devices: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One size: detect.py's medians over its interleaved rounds, read back from its results file."""
    out = work / f"detect-{devices}.json"
    data = work / f"store-{devices}"
    cmd = [sys.executable, str(DETECT), "--devices", str(devices), "--per-device", str(args.per_device),
           "--history-days", str(args.history_days),
           "--history-per-device", str(args.history_per_device), "--runs", str(args.runs), "--folders",
           str(max(10, devices // 500)), "--data-dir", str(data), "--out", str(out)]
    subprocess.run(cmd, check=True)
    shutil.rmtree(data, ignore_errors=True)
    r = json.loads(out.read_text(encoding="utf-8"))
    seconds: dict[str, float] = r["detector_seconds"]
    return {
        "devices": devices, "window_rows": r["window_rows"], "stored_rows": r["stored_rows"],
        "scan_seconds": r["scan_seconds"], "seconds": seconds,
        "ms_per_1000_devices": {k: round(1000 * v / (devices / 1000), 2) for k, v in seconds.items()},
        "ratio_to_scan": {k: round(v / r["scan_seconds"], 1) for k, v in seconds.items()},
        "peak_mb": r["peak_mb"], "load_average": r["load_average"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000])
    parser.add_argument("--per-device", type=int, default=20, help="sightings per device per day")
    parser.add_argument("--history-days", type=int, default=14, help="as detect.py: returning needs 14")
    parser.add_argument("--history-per-device", type=int, default=10, help="sightings per device per history day")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds per size (medians)")
    parser.add_argument("--work", type=Path, help="where the stores go (default: a temporary directory)")
    args = parser.parse_args()
    if any(n < 1000 for n in args.devices):
        parser.error("--devices: each size must be at least 1000 devices")
    work = args.work or scratch_dir("detect-scaling")
    work.mkdir(parents=True, exist_ok=True)
    sizes = [measure(n, args, work) for n in sorted(args.devices)]
    small, large = sizes[0], sizes[-1]
    growth = {k: round(large["ms_per_1000_devices"][k] / small["ms_per_1000_devices"][k], 2)
              for k in large["ms_per_1000_devices"] if small["ms_per_1000_devices"].get(k)}
    for s in sizes:
        per = ", ".join(f"{k} {v:g}" for k, v in s["ms_per_1000_devices"].items())
        mem = ", ".join(f"{k} {v:.0f}" for k, v in s["peak_mb"].items())
        print(f"{s['devices']:>7,} devices, {s['window_rows']:>10,} rows: ms per 1,000 devices: {per}; "
              f"peak MB: {mem}")
    print(f"cost per device, {large['devices']:,} over {small['devices']:,} devices: {growth}")
    path = write_results("detect_scaling", {
        "per_device": args.per_device, "history_days": args.history_days,
        "history_per_device": args.history_per_device, "runs": args.runs,
        "sizes": sizes, "per_device_cost_largest_over_smallest": growth,
    })
    print(f"results: {path}")


if __name__ == "__main__":
    main()
