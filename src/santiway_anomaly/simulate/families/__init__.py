"""Families of worlds, generated independently of `simulate/population.py` from the detector
definitions in DESIGN.md, so that the detectors are judged on worlds nobody tuned them on (the
rule detectors' anomalies in inject.py, the ML detector's devices that changed in changes.py).

    from santiway_anomaly.simulate.families import FAMILIES, generate
    info = generate("sessions", seed=101, out=Path("/tmp/w"))   # sightings.parquet, truth.jsonl, world.json

`FAMILIES` (spec.py) is the one list of families; `generate` is deterministic for a seed and scale.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from loguru import logger

from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.families import changes as ch
from santiway_anomaly.simulate.families import inject as inj
from santiway_anomaly.simulate.families import life as lf
from santiway_anomaly.simulate.families.layout import STABLE, Devices, Presences, make_layout
from santiway_anomaly.simulate.families.probes import add_probe_fields, people_hours
from santiway_anomaly.simulate.families.radio import sightings, stable_macs
from santiway_anomaly.simulate.families.spec import ANOMALY_DAYS, FAMILIES, FamilySpec

__all__ = ["ANOMALY_DAYS", "FAMILIES", "FamilySpec", "WorldInfo", "generate"]


@dataclass
class WorldInfo:
    family: str
    seed: int
    scale: float
    timezone: str
    start: str  # UTC ISO of the first local midnight
    end: str
    anomaly_start: str
    local_days: list[str]
    clean_days: list[str]
    anomaly_days: list[str]
    devices: int
    macs: int
    sightings: int
    truth_events: int
    folders: list[str]
    sensors: list[str]
    seconds: float
    out: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def generate(family: str, seed: int, out: Path, scale: float = 1.0, probes: bool = False) -> WorldInfo:
    """Generate one world of `family` into `out` (sightings.parquet, truth.jsonl, world.json). With
    `probes`, sightings also carry seq / ies / ssid, phones of some models change MAC per probe burst,
    and `people.csv` holds the true number of people per folder and hour (probes.py)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    started = time.perf_counter()
    spec = FAMILIES[family]
    rng = np.random.default_rng([seed, zlib.crc32(family.encode())])
    layout = make_layout(spec, seed, scale, rng)
    devs, pres, life = Devices(), Presences(), lf.Life()
    lf.fixtures(layout, devs, pres, life, rng)
    budget = max(40, int(round(spec.devices * scale)))
    lf.night_staff(layout, devs, pres, life, rng)
    if spec.sessions:
        lf.sessions(layout, devs, pres, life, rng)
    rest = max(budget - devs.count, 30)  # fixtures, night staff and students are already counted
    lf.staff(layout, devs, pres, life, int(rest * 0.3), rng)
    lf.visitors(layout, devs, pres, life, int(rest * 0.2), rng)
    lf.passers(layout, devs, pres, rest - int(rest * 0.3) - int(rest * 0.2), rng)
    if spec.weekly_event:
        lf.weekly_event(layout, devs, pres, life, rng)
    lf.plan_rounds(layout, life, rng)
    injected = inj.inject(layout, devs, pres, life, rng)
    lf.patrols(layout, devs, pres, life, rng)  # after injection: the patrol hears crowds and strangers too
    if spec.outages:
        lf.outages(layout, life, rng)
    arrays = pres.arrays()
    dev_arrays = devs.arrays()
    table, tags, row_dev, row_mac = sightings(layout, arrays, dev_arrays, life.outages, rng)
    # Devices that changed (ml_behavior truth): planned from the finished ordinary life, on a random
    # stream of their own, so that every other sighting stays as it was without them.
    plans, changed = ch.plant(layout, pres, life, injected, seed)
    if plans:
        extra_rng = np.random.default_rng([seed, zlib.crc32(family.encode()), 0x5EE])
        extra = sightings(layout, changed.arrays(), dev_arrays, life.outages, extra_rng)
        table, tags, row_dev, row_mac = ch.replace_rows(table, tags, row_dev, row_mac, plans, layout, extra)
    # Late visitors' first visits in the warm-up (life.first_visits), on a random stream of their own too.
    first = Presences()
    lf.first_visits(layout, first, life, np.random.default_rng([seed, zlib.crc32(family.encode()), 0xF157]))
    if first.cols["dev"]:
        extra = sightings(layout, first.arrays(), dev_arrays, life.outages,
                          np.random.default_rng([seed, zlib.crc32(family.encode()), 0xF158]))
        table, tags, row_dev, row_mac = ch.replace_rows(table, tags, row_dev, row_mac, [], layout, extra)
    mode_of, _rot, oui_of, _net = dev_arrays
    out.mkdir(parents=True, exist_ok=True)
    if probes:
        table, row_mac = add_probe_fields(table, row_dev, row_mac, mode_of, devs, seed)
        with (out / "people.csv").open("w", encoding="utf-8") as fh:
            fh.write("hour,folder,people\n")
            fh.writelines(f"{r['hour']},{r['folder']},{r['people']}\n" for r in people_hours(layout, arrays, devs))
    pq.write_table(table, out / "sightings.parquet", compression="zstd", compression_level=1,
                   use_dictionary=["device_id", "sensor_id", "folder", "network_type", "vendor"])
    _write_devices(out / "devices.parquet", row_mac, row_dev, devs, mode_of)

    def mac(dev: int) -> str:
        if mode_of[dev] != STABLE:
            return ""
        return rf.mac_str(int(stable_macs(np.array([dev]), oui_of[[dev]], seed)[0]))

    ts = table.column("ts").cast("int64").to_numpy() / 1000.0
    truth = _truth(layout, injected, tags, ts, mac)
    with (out / "truth.jsonl").open("w", encoding="utf-8") as fh:
        for rec in truth:
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    a0 = layout.anomaly_first_day
    info = WorldInfo(
        family=family, seed=seed, scale=scale, timezone=spec.timezone, start=_iso(layout.day_start(0)),
        end=_iso(layout.day_start(spec.days)), anomaly_start=_iso(layout.day_start(a0)),
        local_days=[layout.local_date(d).isoformat() for d in range(spec.days)],
        clean_days=[layout.local_date(d).isoformat() for d in range(spec.warmup_days, a0)],
        anomaly_days=[layout.local_date(d).isoformat() for d in range(a0, spec.days)],
        devices=devs.count, macs=int(len(table.column("device_id").unique())), sightings=table.num_rows,
        truth_events=len(truth), folders=layout.folders, sensors=[s.sensor_id for s in layout.sensors],
        seconds=round(time.perf_counter() - started, 2), out=str(out))
    world = {
        **info.to_dict(), "notes": spec.notes, "warmup_days": spec.warmup_days,
        "spec": asdict(spec), "roles": devs.roles(),
        "folder_positions": _positions(layout),
        "outages": [{"sensor": layout.sensors[s].sensor_id, "start": _iso(a), "end": _iso(b), "kind": k}
                    for s, a, b, k in life.outages],
        "timetable": life.timetable, "weekly_events": life.events, "night_staff_folders":
            [layout.folders[f] for f in life.night_folders],
        "patrol_stops": len(life.stops),
        "hard_negatives": [{**{k: v for k, v in h.items() if k not in ("dev", "window")},
                            "device_id": mac(int(h["dev"])), "randomized": bool(mode_of[int(h["dev"])] != STABLE),
                            "window_start": _iso(h["window"][0]), "window_end": _iso(h["window"][1])}
                           for h in injected.hard_negatives],
    }
    (out / "world.json").write_text(json.dumps(world, indent=2, default=str), encoding="utf-8")
    logger.info("world {} seed {}: {:,} devices, {:,} MACs, {:,} sightings, {} truth events in {:.1f} s",
                family, seed, info.devices, info.macs, info.sightings, info.truth_events, info.seconds)
    return info


MODE_NAMES = ("stable", "rotating", "sticky_day", "per_presence")


def _write_devices(path: Path, row_mac: Any, row_dev: Any, devs: Devices, mode_of: Any) -> None:
    """Who is behind each MAC (role, MAC behaviour, device number): for reading a false alarm."""
    macs, first = np.unique(row_mac, return_index=True)
    dev = row_dev[first]
    roles = np.repeat(np.arange(len(devs.role)), devs.role_n)
    pq.write_table(pa.table({
        "device_id": rf.format_macs(macs), "device": pa.array(dev),
        "role": pa.array(devs.role, type=pa.string()).take(pa.array(roles[dev])),
        "mac_mode": pa.array(MODE_NAMES, type=pa.string()).take(pa.array(mode_of[dev])),
    }), path, compression="zstd")


def _positions(layout: Any) -> dict[str, dict[str, float]]:
    lat, lon = layout.to_latlon(layout.folder_xy[:, 0], layout.folder_xy[:, 1])
    return {name: {"lat": round(float(a), 6), "lon": round(float(b), 6)}
            for name, a, b in zip(layout.folders, lat, lon, strict=True)}


def _truth(layout: Any, injected: inj.Injected, tags: Any, ts: Any, mac: Any) -> list[dict[str, Any]]:
    """One line per injected anomaly that a sensor heard; device windows are what was heard."""
    sel = tags >= 0
    t, when = tags[sel], ts[sel]
    lo = np.full(len(injected.items), np.inf)
    hi = np.full(len(injected.items), -np.inf)
    n = np.bincount(t, minlength=len(injected.items))
    np.minimum.at(lo, t, when)
    np.maximum.at(hi, t, when)
    out = []
    for it in injected.items:
        if n[it.tag] == 0:
            continue  # never heard (an outage, or out of range): nothing to detect
        start, end = it.window if it.window is not None else (float(np.floor(lo[it.tag])), float(np.ceil(hi[it.tag])))
        device = mac(it.dev) if it.dev >= 0 else ""
        folder = layout.folders[it.folder]
        out.append({
            "anomaly_type": it.anomaly_type,
            "subject": device if it.anomaly_type != "density_spike" else f"folder:{folder}",
            "device_id": device, "folder": folder, "window_start": _iso(start), "window_end": _iso(end),
            "scenario": it.scenario, "details": {**it.details, "sightings": int(n[it.tag])},
        })
    out.sort(key=lambda r: (r["window_start"], r["anomaly_type"], r["subject"]))
    return out
