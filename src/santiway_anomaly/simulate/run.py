"""A whole batch run: world -> population -> injected anomalies -> sightings day by day -> files."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from loguru import logger

from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.anomalies import Injector
from santiway_anomaly.simulate.engine import Expander, HourlyCounter
from santiway_anomaly.simulate.options import SimOptions
from santiway_anomaly.simulate.population import (
    CREW,
    FIRST_INJECTED_ROLE,
    FIXTURE,
    NIGHT_SHIFT,
    ROLES,
    VISITOR,
    build_population,
    day_presences,
)
from santiway_anomaly.simulate.world import World
from santiway_anomaly.simulate.writer import SightingWriter, write_jsonl


@dataclass
class RunSummary:
    out_dir: Path
    files: list[Path]
    sightings: int
    seconds: float
    devices: int
    anomalies: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sightings / self.seconds if self.seconds > 0 else 0.0


class Simulation:
    def __init__(self, opts: SimOptions) -> None:
        self.opts = opts
        self.world = World(n_folders=opts.folders, n_mobile=opts.mobile_sensors, seed=opts.seed, zone=opts.zone,
                           start_date=opts.start_date, days=opts.days)
        self.pop = build_population(self.world, opts.devices, opts.days, opts.anomaly_days, opts.seed)
        self.n_normal = len(self.pop)
        self.injector = Injector(self.world, self.pop, opts)
        self.expander = Expander(self.world, self.pop)
        self.counter = HourlyCounter(len(self.world.folders), self.world.period_start, opts.days * 24)

    @property
    def steps(self) -> int:
        chunks = -(-self.n_normal // self.opts.chunk_devices)
        return self.opts.days * (chunks + 1)

    def tables(self, progress: Callable[[int], object] | None = None) -> Iterator[pa.Table]:
        """Sightings in batches (one device chunk of one day each), chronological by day."""
        w, o = self.world, self.opts
        for d in range(o.days):
            stops = w.itinerary(d)
            for c, lo in enumerate(range(0, self.n_normal, o.chunk_devices)):
                rng = np.random.default_rng([o.seed, 5, d, c])
                hi = min(lo + o.chunk_devices, self.n_normal)
                pres = day_presences(self.pop, w, d, lo, hi, stops, o.sightings_per_hour, rng,
                                     previous_night=(d == 0))
                yield self._emit(pres, stops, rng)
                if progress:
                    progress(1)
            rng = np.random.default_rng([o.seed, 6, d])
            pres = self.injector.presences(d, stops, self.counter, rng)
            yield self._emit(pres, stops, rng)
            if progress:
                progress(1)
        self.injector.finish(self.counter)

    def _emit(self, pres: Any, stops: Any, rng: np.random.Generator) -> pa.Table:
        pres = self.expander.clip(pres, self.world.period_start, self.world.period_end)
        batch = self.expander.expand(pres, stops, rng)
        self.counter.add(batch)
        self.injector.observe(batch)
        return self.expander.to_table(batch)

    # --- side files -----------------------------------------------------------------------
    def stable_macs(self) -> dict[int, str]:
        idx = np.flatnonzero(~self.pop.randomized)
        return {int(i): rf.mac_str(int(self.pop.mac[i])) for i in idx}

    def truth(self) -> list[dict[str, Any]]:
        macs = self.stable_macs()
        return self.injector.truth({d: macs.get(d, "") for d in self.injector.devices()})

    def describe(self) -> dict[str, Any]:
        pop = self.pop
        macs = self.stable_macs()

        def listing(role: int, limit: int = 200) -> list[dict[str, Any]]:
            idx = np.flatnonzero((pop.role == role) & ~pop.randomized)[:limit]
            return [{"device_id": macs[int(i)], "folder": self._folder(int(pop.home[i])),
                     "class": rf.CLASSES[int(pop.cls[i])].name} for i in idx]
        hard = {
            "night_shift": listing(NIGHT_SHIFT),
            "crew_phones": [{"device_id": macs[int(i)], "sensor_id":
                             self.world.sensors[self.world.units[int(pop.unit[i])].sensor].sensor_id}
                            for i in np.flatnonzero(pop.role == CREW)],
            "early_once": [{"device_id": macs[int(i)], "date": self._date(int(pop.early_day[i]))}
                           for i in np.flatnonzero(pop.early_day >= 0)],
            "late_once": [{"device_id": macs[int(i)], "date": self._date(int(pop.late_day[i]))}
                          for i in np.flatnonzero(pop.late_day >= 0)],
            "visitors_sample": listing(VISITOR, 50),
        }
        # Every day's rounds for runs up to a month; beyond that the anomaly days only (file size).
        last = range(0 if self.opts.days <= 31 else self.opts.days - max(self.opts.anomaly_days, 1), self.opts.days)
        return {
            "generator": "santiway-anomaly simulate",
            "options": {k: (str(v) if k in ("start",) else v) for k, v in self.opts.__dict__.items()
                        if k not in ("notes", "chunk_devices")} | {"start": self.opts.start_date.isoformat()},
            **self.world.describe(itinerary_days=last),
            "roles": pop.role_counts(),
            "randomized_devices": int(pop.randomized.sum()),
            "fixtures": listing(FIXTURE, 10_000),
            "hard_negatives": hard,
            "note": "mobile_sensors[].days: each day's rounds (the anomaly days only for runs over 31 days); "
                    "devices.csv lists every device, its role and (for stable MACs) its MAC.",
        }

    def _folder(self, f: int) -> str:
        return self.world.folders[f].name if f >= 0 else ""

    def _date(self, d: int) -> str:
        from datetime import timedelta

        return (self.world.start_date + timedelta(days=d)).isoformat()

    def write_devices(self, path: Path) -> None:
        pop = self.pop
        macs = self.stable_macs()
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["device_index", "device_id", "role", "randomized", "home_folder", "class", "network_type"])
            for i in range(len(pop)):
                cls = rf.CLASSES[int(pop.cls[i])]
                out.writerow([i, macs.get(i, ""), ROLES[int(pop.role[i])], int(pop.randomized[i]),
                              self._folder(int(pop.home[i])), cls.name, cls.network_type])


def run(opts: SimOptions, out_dir: Path, fmt: str = "parquet",
        progress: Callable[[int], object] | None = None, sim: Simulation | None = None) -> RunSummary:
    t0 = time.perf_counter()
    sim = sim or Simulation(opts)
    logger.info("simulating {} devices x {} days in {} folders ({} sensors, {} mobile) from {}",
                opts.devices, opts.days, len(sim.world.folders), len(sim.world.sensors), len(sim.world.units),
                opts.start_date.isoformat())
    # Compression runs in a second thread (pyarrow releases the GIL) while the next batch is drawn;
    # at most two batches are alive at once, so memory stays bounded.
    with SightingWriter(out_dir, fmt) as writer, ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[None] | None = None
        for table in sim.tables(progress):
            if pending is not None:
                pending.result()
            pending = pool.submit(writer.write, table)
        if pending is not None:
            pending.result()
    truth = sim.truth()
    write_jsonl(out_dir / "truth.jsonl", truth)
    (out_dir / "world.json").write_text(json.dumps(sim.describe(), indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    sim.write_devices(out_dir / "devices.csv")
    counts: dict[str, int] = {}
    for rec in truth:
        counts[rec["anomaly_type"]] = counts.get(rec["anomaly_type"], 0) + 1
    injected = int((sim.pop.role >= FIRST_INJECTED_ROLE).sum())
    return RunSummary(out_dir, [*writer.paths, out_dir / "truth.jsonl", out_dir / "world.json",
                                out_dir / "devices.csv"], writer.rows, time.perf_counter() - t0,
                      len(sim.pop) - injected, counts)
