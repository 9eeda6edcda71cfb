"""Injected anomalies and their ground truth.

Each scenario follows the detector definitions (DESIGN.md's detector table), not a quirk of this
simulator, and is kept clear of the other types so that one truth line means one anomaly:

density_spike / crowd            many extra distinct devices in a folder for 1-3 whole hours in the
                                 day, sized against that folder's own p95 for the same hour of day
                                 (some moderate, ~2x; some large, 3-5x); the crowd moves about.
night_activity / night_intruder  a never-seen device, 20-120 min between 00:00 and 06:00 local, in a
                                 folder that has no night staff.
night_activity / staff_at_night  a daytime employee (history of weekday days) back at night.
stationary / lingering           a never-seen device 3.5-6 h within metres of one sensor of a folder
                                 it does not belong to, steady strong signal (>= -65 dBm).
stationary / returning           a never-seen device back at the same spot on >= 3 different days,
                                 20-75 min each, strong signal.
stationary / following           a never-seen device at >= 4 consecutive stops of one mobile sensor
                                 (places >= 150 m apart) over >= 2 h.
ml_behavior / behaviour_change   a regular employee whose days change in the last days: other hours,
                                 a fragmented day across folders, signal or transmit rate - all in
                                 daytime hours and at its own folder, so no rule detector is meant
                                 to fire on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.engine import Batch, HourlyCounter
from santiway_anomaly.simulate.options import SimOptions
from santiway_anomaly.simulate.population import (
    CROWD,
    EMPLOYEE,
    FOLLOWER,
    INTRUDER,
    LINGERER,
    NIGHT_SHIFT,
    RETURNER,
    WEEKDAYS,
    Population,
    Presences,
    make_presences,
)
from santiway_anomaly.simulate.world import Stops, World

# Distinct MACs one crowd member adds to an hour, counted low on purpose (measured ~1.9 with 60 %
# randomized phones rotating every 15-30 min): sizing with a low figure errs towards a clear crowd.
CROWD_MACS_PER_MEMBER = 1.7
CROWD_MIN_EXTRA = 20  # a crowd is at least this many devices over the p95, even in a quiet folder
NIGHT_END_H = 5.85  # night anomalies end before 06:00 local


@dataclass
class Injected:
    index: int
    anomaly_type: str
    scenario: str
    days: tuple[int, ...]
    folder: int = -1
    device: int = -1
    params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    window: tuple[float, float] | None = None  # fixed windows (crowd, behaviour change)
    seen_min: float = math.inf
    seen_max: float = -math.inf
    sightings: int = 0
    rssi_sum: float = 0.0
    rssi_sq: float = 0.0


class Injector:
    def __init__(self, world: World, pop: Population, opts: SimOptions) -> None:
        self.world = world
        self.pop = pop
        self.opts = opts
        self.base_rate = opts.sightings_per_hour
        self.items: list[Injected] = []
        self.first_day = opts.days - opts.anomaly_days
        rng = np.random.default_rng([opts.seed, 9])
        if opts.anomaly_days > 0:
            self._plan(rng)

    # --- planning -------------------------------------------------------------------------
    def _add(self, anomaly_type: str, scenario: str, days: tuple[int, ...], **kw: Any) -> Injected:
        item = Injected(len(self.items), anomaly_type, scenario, days, **kw)
        self.items.append(item)
        return item

    def _new_device(self, role: int, rng: np.random.Generator, cls: str = "phone") -> int:
        return int(self.pop.append(1, rng, role=role, cls=rf.CLASS_INDEX[cls], randomized=False)[0])

    def _plan(self, rng: np.random.Generator) -> None:
        w, pop, per = self.world, self.pop, self.opts.per_day
        days = list(range(self.first_day, self.opts.days))
        night_staffed = set(pop.home[pop.role == NIGHT_SHIFT].tolist())
        quiet = [f.index for f in w.folders if f.index not in night_staffed and f.kind not in ("bus-stop", "parking")]
        quiet = quiet or [f.index for f in w.folders if f.index not in night_staffed] or [0]
        staffed_places = [f.index for f in w.folders if f.kind != "bus-stop"] or [0]
        used_staff: set[int] = set()
        regular = np.flatnonzero((pop.role == EMPLOYEE) & (~pop.randomized) & (pop.early_day < 0)
                                 & (pop.late_day < 0) & ((pop.mask & WEEKDAYS) == WEEKDAYS))
        rng.shuffle(regular)
        pool = iter(regular.tolist())

        def take_staff() -> int | None:
            for e in pool:
                if e not in used_staff:
                    used_staff.add(e)
                    return int(e)
            return None

        crowd_slots: set[tuple[int, int]] = set()
        crowd_folder_uses = np.zeros(len(w.folders), dtype=np.int64)
        for d in days:
            for k in range(per):
                # Crowds: a folder not yet crowded if possible, never the same folder and hour twice.
                for _ in range(50):
                    f = int(np.argmin(crowd_folder_uses + rng.random(len(w.folders))))
                    h0 = int(rng.integers(9, 20))
                    dur = int(rng.integers(1, 4))
                    dur = min(dur, 22 - h0)
                    if all((f, h) not in crowd_slots for h in range(h0 - 1, h0 + dur + 1)):
                        break
                crowd_slots.update((f, h) for h in range(h0, h0 + dur))
                crowd_folder_uses[f] += 1
                factor = float(rng.uniform(3.0, 5.0) if k % 2 == 0 else rng.uniform(1.8, 2.4))
                ws = w.day_start(d)
                self._add("density_spike", "crowd", (d,), folder=f,
                          params={"h0": h0, "dur": dur, "factor": factor},
                          window=(ws + h0 * 3600.0, ws + (h0 + dur) * 3600.0))

                f = int(rng.choice(quiet))
                start = float(rng.uniform(0.5, 4.0))
                end = min(start + rng.uniform(20, 120) / 60, NIGHT_END_H)
                self._add("night_activity", "night_intruder", (d,), folder=f,
                          device=self._new_device(INTRUDER, rng, "phone" if rng.random() < 0.7 else "laptop"),
                          params={"start_h": start, "end_h": end})

                e = take_staff()
                if e is not None:
                    start = float(rng.uniform(1.0, 4.0))
                    end = min(start + rng.uniform(30, 150) / 60, NIGHT_END_H)
                    self._add("night_activity", "staff_at_night", (d,), folder=int(pop.home[e]), device=e,
                              params={"start_h": start, "end_h": end})

                f = int(rng.choice(staffed_places))
                spot = self._spot_near_sensor(f, rng, 2.0, 6.0, outward=True)
                start = float(rng.uniform(8.0, 12.5))
                self._add("stationary_surveillance", "lingering", (d,), folder=f,
                          device=self._new_device(LINGERER, rng, "phone" if rng.random() < 0.6 else "laptop"),
                          params={"start_h": start, "end_h": start + float(rng.uniform(3.5, 6.0)), "spot": spot})

                if w.units:
                    self._plan_following(d, rng)

        if len(days) >= 3:
            for _ in range(per):
                visit_days = tuple(sorted(rng.choice(days, size=min(len(days), int(rng.integers(3, 5))),
                                                     replace=False).tolist()))
                f = int(rng.choice(staffed_places))
                self._add("stationary_surveillance", "returning", visit_days, folder=f,
                          device=self._new_device(RETURNER, rng),
                          params={"hour": float(rng.uniform(9.0, 16.5)),
                                  "spot": self._spot_near_sensor(f, rng, 2.0, 6.0)})

        for _ in range(self.opts.n_behaviour_changes):
            e = take_staff()
            if e is None:
                break
            kinds = [str(rng.choice(["shift", "fragment"]))]
            kinds.append(str(rng.choice([k for k in ("shift", "fragment", "signal", "rate") if k != kinds[0]])))
            pop.cols["change_day"][e] = self.first_day
            self._add("ml_behavior", "behaviour_change", tuple(days), folder=int(pop.home[e]), device=e,
                      params={"kinds": kinds, "signal": str(rng.choice(["strong", "weak"])),
                              "rate_factor": float(rng.choice([4.0, 0.2]))},
                      window=(w.day_start(self.first_day), w.period_end))

    def _spot_near_sensor(self, f: int, rng: np.random.Generator, lo: float, hi: float,
                          *, outward: bool = False) -> tuple[float, float]:
        """A point `lo`-`hi` m from one of the folder's sensors; `outward`: on the far side of the
        sensor from the folder centre (a car at the kerb, a device left by the entrance)."""
        sensors = [s for s in self.world.sensors[: self.world.n_fixed_sensors] if s.folder == f]
        s = sensors[int(rng.integers(len(sensors)))]
        r, a = float(rng.uniform(lo, hi)), float(rng.random() * 2 * math.pi)
        if outward:
            folder = self.world.folders[f]
            a = math.atan2(s.y - folder.y, s.x - folder.x) + float(rng.uniform(-0.6, 0.6))
        return s.x + r * math.cos(a), s.y + r * math.sin(a)

    def _plan_following(self, d: int, rng: np.random.Generator) -> None:
        stops = self.world.itinerary(d)
        unit = int(rng.integers(len(self.world.units)))
        idx = np.flatnonzero(stops.unit == unit)
        length = int(rng.integers(4, 7))
        starts = [i for i in range(len(idx) - length + 1)
                  if stops.end[idx[i + length - 1]] - stops.start[idx[i]] >= 2 * 3600]
        if not starts:
            return
        first = starts[int(rng.integers(len(starts)))]
        chosen = idx[first: first + length]
        self._add("stationary_surveillance", "following", (d,), folder=int(stops.folder[chosen[0]]),
                  device=self._new_device(FOLLOWER, rng, "phone" if rng.random() < 0.7 else "wearable"),
                  params={"unit": unit, "stops": chosen.tolist()})

    # --- generation -----------------------------------------------------------------------
    def presences(self, d: int, stops: Stops, counter: HourlyCounter, rng: np.random.Generator) -> Presences:
        parts: list[Presences] = []
        ws = self.world.day_start(d)
        for it in self.items:
            if d not in it.days:
                continue
            make = getattr(self, f"_{it.scenario}")
            parts.append(make(it, d, ws, stops, counter, rng))
        return Presences.concat(parts)

    def _one(self, it: Injected, x: float, y: float, t0: float, t1: float, motion: str,
             rate_factor: float = 1.0, folder: int | None = None) -> Presences:
        dev = np.array([it.device], dtype=np.int64)
        return make_presences(self.pop, self.base_rate, dev, np.array([it.folder if folder is None else folder]),
                              np.array([x]), np.array([y]), np.array([t0]), np.array([t1]), motion,
                              rate_factor=rate_factor, tag=it.index)

    def _crowd(self, it: Injected, d: int, ws: float, stops: Stops, counter: HourlyCounter,
               rng: np.random.Generator) -> Presences:
        f, h0, dur, factor = it.folder, it.params["h0"], it.params["dur"], it.params["factor"]
        day_hours = 24
        hist_days = list(range(0, self.first_day)) or list(range(0, d + 1))
        p95s, meds, needs = [], [], []
        for h in range(h0, h0 + dur):
            cols = [dd * day_hours + h for dd in hist_days if dd * day_hours + h < counter.hours]
            vals = counter.counts[f, cols] if cols else np.zeros(1)
            p95, med = float(np.percentile(vals, 95)), float(np.median(vals))
            today = float(counter.counts[f, d * day_hours + h]) if d * day_hours + h < counter.hours else med
            # The hour must end up at `factor` x the folder's p95 for that hour, and at least
            # CROWD_MIN_EXTRA devices over it, on top of what the folder holds today anyway.
            target = max(factor * max(p95, 5.0), p95 + CROWD_MIN_EXTRA)
            p95s.append(p95)
            meds.append(med)
            needs.append(target - today)
        members = max(10, math.ceil(max(needs) / CROWD_MACS_PER_MEMBER))
        cls = np.where(rng.random(members) < 0.8, rf.CLASS_INDEX["phone"], rf.CLASS_INDEX["wearable"])
        devs = self.pop.append(members, rng, role=CROWD, cls=cls, randomized=rng.random(members) < 0.6,
                               rate=rng.lognormal(0, 0.35, members))
        folder = self.world.folders[f]
        r = folder.radius_m * np.sqrt(rng.random(members))
        a = rng.random(members) * 2 * np.pi
        t0 = ws + h0 * 3600 + rng.uniform(0, 8 * 60, members)
        t1 = ws + (h0 + dur) * 3600 - rng.uniform(0, 8 * 60, members)
        it.details.update({"members": int(members), "factor": round(factor, 2),
                           "p95_baseline": round(max(p95s), 1), "median_baseline": round(max(meds), 1),
                           "hours": int(dur)})
        return make_presences(self.pop, self.base_rate, devs, np.array([f]), folder.x + r * np.cos(a),
                              folder.y + r * np.sin(a), t0, t1, "roaming", tag=it.index)

    def _position(self, f: int, rng: np.random.Generator, scale: float = 0.8) -> tuple[float, float]:
        folder = self.world.folders[f]
        r, a = folder.radius_m * scale * math.sqrt(rng.random()), rng.random() * 2 * math.pi
        return folder.x + r * math.cos(a), folder.y + r * math.sin(a)

    def _night_intruder(self, it: Injected, d: int, ws: float, stops: Stops, counter: HourlyCounter,
                        rng: np.random.Generator) -> Presences:
        x, y = self._position(it.folder, rng)
        return self._one(it, x, y, ws + it.params["start_h"] * 3600, ws + it.params["end_h"] * 3600, "roaming")

    def _staff_at_night(self, it: Injected, d: int, ws: float, stops: Stops, counter: HourlyCounter,
                        rng: np.random.Generator) -> Presences:
        e = it.device
        return self._one(it, float(self.pop.x[e]), float(self.pop.y[e]), ws + it.params["start_h"] * 3600,
                         ws + it.params["end_h"] * 3600, "desk")

    def _lingering(self, it: Injected, d: int, ws: float, stops: Stops, counter: HourlyCounter,
                   rng: np.random.Generator) -> Presences:
        x, y = it.params["spot"]
        return self._one(it, x, y, ws + it.params["start_h"] * 3600, ws + it.params["end_h"] * 3600, "steady")

    def _returning(self, it: Injected, d: int, ws: float, stops: Stops, counter: HourlyCounter,
                   rng: np.random.Generator) -> Presences:
        x, y = it.params["spot"]
        t0 = ws + (it.params["hour"] + rng.uniform(-0.7, 0.7)) * 3600
        return self._one(it, x + rng.normal(0, 0.5), y + rng.normal(0, 0.5), t0, t0 + rng.uniform(20, 75) * 60,
                         "steady")

    def _following(self, it: Injected, d: int, ws: float, stops: Stops, counter: HourlyCounter,
                   rng: np.random.Generator) -> Presences:
        parts = []
        for k in it.params["stops"]:
            r, a = rng.uniform(3, 10), rng.random() * 2 * math.pi
            parts.append(self._one(it, stops.x[k] + r * math.cos(a), stops.y[k] + r * math.sin(a),
                                   stops.start[k] + rng.uniform(0, 4 * 60), stops.end[k] - rng.uniform(0, 4 * 60),
                                   "desk", folder=int(stops.folder[k])))
        sel = np.array(it.params["stops"])
        xy = np.stack([stops.x[sel], stops.y[sel]], axis=1)
        gaps = [math.dist(xy[i], xy[j]) for i in range(len(xy)) for j in range(i + 1, len(xy))]
        it.details.update({"places": len(sel), "min_separation_m": round(min(gaps), 1),
                           "sensor_id": self.world.sensors[int(stops.sensor[sel[0]])].sensor_id,
                           "span_hours": round(float(stops.end[sel[-1]] - stops.start[sel[0]]) / 3600, 2)})
        return Presences.concat(parts)

    def _behaviour_change(self, it: Injected, d: int, ws: float, stops: Stops, counter: HourlyCounter,
                          rng: np.random.Generator) -> Presences:
        e, pop, kinds = it.device, self.pop, it.params["kinds"]
        x, y = float(pop.x[e]), float(pop.y[e])
        if "signal" in kinds:
            if it.params["signal"] == "strong":
                x, y = self._spot_near_sensor(it.folder, rng, 1.0, 2.5)
            else:
                home = self.world.folders[it.folder]
                a = rng.random() * 2 * math.pi
                x, y = home.x + 45 * math.cos(a), home.y + 45 * math.sin(a)
        rate = it.params["rate_factor"] if "rate" in kinds else 1.0
        arrive = float(pop.t_hour[e] + rng.normal(0, 0.25))
        leave = arrive + float(pop.dur_h[e])
        if "shift" in kinds:
            arrive = float(rng.uniform(13.0, 15.0))
            leave = min(arrive + float(pop.dur_h[e]), 23.6)
        if "fragment" not in kinds:
            return self._one(it, x, y, ws + arrive * 3600, ws + leave * 3600, "desk", rate)
        # A fragmented day: short visits from early to late, and two brief stops elsewhere - other
        # folders each day, kept short and at the folder's edge, so it is never "lingering" or
        # "returning" anywhere; only the shape of the day changes.
        parts, t = [], max(6.5, arrive - 2.0)
        n_f = len(self.world.folders)
        others = [f for f in ((it.folder + 1 + (d * 2 + k) % max(1, n_f - 1)) % n_f for k in (0, 1))
                  if f != it.folder]
        visit = 0
        while t < min(23.0, leave + 3.0):
            length = float(rng.uniform(15, 40)) / 60
            if visit in (2, 5) and others:
                f = others[0 if visit == 2 else -1]
                folder = self.world.folders[f]
                a = rng.random() * 2 * math.pi
                ox, oy = folder.x + 1.2 * folder.radius_m * math.cos(a), folder.y + 1.2 * folder.radius_m * math.sin(a)
                parts.append(self._one(it, ox, oy, ws + t * 3600, ws + (t + min(length, 0.4)) * 3600,
                                       "roaming", rate, folder=f))
            else:
                parts.append(self._one(it, x, y, ws + t * 3600, ws + (t + length) * 3600, "desk", rate))
            t += length + float(rng.uniform(20, 70)) / 60
            visit += 1
        return Presences.concat(parts)

    # --- bookkeeping ----------------------------------------------------------------------
    def observe(self, b: Batch) -> None:
        sel = b.tag >= 0
        if not sel.any():
            return
        tags, ts, rssi = b.tag[sel], b.ts_ms[sel] / 1000.0, b.rssi[sel].astype(np.float64)
        order = np.argsort(tags, kind="stable")
        tags, ts, rssi = tags[order], ts[order], rssi[order]
        uniq, first, counts = np.unique(tags, return_index=True, return_counts=True)
        lows, highs = np.minimum.reduceat(ts, first), np.maximum.reduceat(ts, first)
        sums, squares = np.add.reduceat(rssi, first), np.add.reduceat(rssi * rssi, first)
        for t, lo, hi, n, s1, s2 in zip(uniq.tolist(), lows.tolist(), highs.tolist(), counts.tolist(),
                                        sums.tolist(), squares.tolist(), strict=True):
            it = self.items[t]
            it.seen_min = min(it.seen_min, lo)
            it.seen_max = max(it.seen_max, hi)
            it.sightings += n
            it.rssi_sum += s1
            it.rssi_sq += s2

    def finish(self, counter: HourlyCounter) -> None:
        for it in self.items:
            if it.scenario == "crowd" and it.window is not None:
                h = int(round((it.window[0] - counter.start) / 3600))
                vals = counter.counts[it.folder, h: h + int(it.params["dur"])]
                it.details["unique_devices_min"] = int(vals.min())
                it.details["unique_devices_max"] = int(vals.max())

    def truth(self, mac_of: dict[int, str]) -> list[dict[str, Any]]:
        out = []
        for it in self.items:
            if it.window is not None:
                start, end = it.window
            elif it.sightings:
                start, end = math.floor(it.seen_min), math.ceil(it.seen_max)
            else:
                continue  # never heard by any sensor: nothing to detect
            mac = mac_of.get(it.device, "") if it.device >= 0 else ""
            folder = self.world.folders[it.folder].name if it.folder >= 0 else ""
            details = {**it.details, "sightings": it.sightings, "hours": round((end - start) / 3600, 2)}
            if it.sightings and it.anomaly_type != "density_spike":
                mean = it.rssi_sum / it.sightings
                details["rssi_mean"] = round(mean, 1)
                details["rssi_std"] = round(math.sqrt(max(0.0, it.rssi_sq / it.sightings - mean * mean)), 1)
            if it.scenario == "returning":
                details["days"] = len(it.days)
            if "kinds" in it.params:
                details["changes"] = it.params["kinds"]
            out.append({
                "anomaly_type": it.anomaly_type,
                "subject": mac if it.anomaly_type != "density_spike" else f"folder:{folder}",
                "device_id": mac,
                "folder": folder,
                "window_start": _iso(start),
                "window_end": _iso(end),
                "scenario": it.scenario,
                "details": details,
            })
        out.sort(key=lambda r: (r["window_start"], r["anomaly_type"], r["subject"]))
        return out

    def devices(self) -> set[int]:
        return {it.device for it in self.items if it.device >= 0}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
