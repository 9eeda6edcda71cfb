"""Generate `docs/features.md` from the catalog: `python -m santiway_anomaly.features.docs [PATH]`."""

from __future__ import annotations

import sys
from pathlib import Path

from santiway_anomaly.features.catalog import FEATURES, GROUP_SIZES

DEFAULT_PATH = Path("docs/features.md")

_INTRO = """# The 98 features

Generated from `src/santiway_anomaly/features/catalog.py` by
`python -m santiway_anomaly.features.docs`; do not edit by hand.

One row of features per device per hour; the ML model reads a 24-hour window of them.
Conventions:

- an hour without sightings is a real zero for every per-hour measurement, not a missing row;
- *signal* is RSSI + 120 dB, so 0 means "not heard" and a stronger signal is a larger number;
- trailing windows ("last 6 hours") include the current hour and count silent hours as zeros;
- *history* and *previous days* are the device's own data in the `FEATURE_HISTORY_HOURS`
  (default 168 = 7 days) before the hour; the hour of day and "night" (00:00-06:00) are local
  time in `TIMEZONE`.

The 20 basic features are the `--basic-features` model's input; all 98 are the default.
"""


def render() -> str:
    lines = [_INTRO]
    for group, size in GROUP_SIZES.items():
        lines.append(f"\n## {group.capitalize()} ({size})\n")
        lines.append("| # | name | family | definition | unit |")
        lines.append("| --- | --- | --- | --- | --- |")
        for i, f in enumerate(FEATURES, start=1):
            if f.group == group:
                definition = f.definition.replace("|", "\\|")
                lines.append(f"| {i} | `{f.name}` | {f.family} | {definition} | {f.unit} |")
    return "\n".join(lines) + "\n"


def write(path: Path = DEFAULT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    target = write(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH)
    sys.stdout.write(f"wrote {target}\n")
