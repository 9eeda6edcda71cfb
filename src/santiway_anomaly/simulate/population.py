"""Who is there: device roles, their identities, and their daily and weekly rhythms.

A population is a set of parallel numpy arrays indexed by device. `day_presences` turns one
day of it into *presences*: a device at a place from a start to an end time, with how it moves and
how often it transmits. The engine turns presences into sightings.

Roles (the hard negatives the detectors must not flag are here, not in anomalies.py):
fixtures on 24/7; employees with weekday rhythms, lunch breaks, meetings in other folders, one
early arrival / one late evening; night-shift staff legitimately active at night; visitors on one or
two days; commuters passing a bus stop every weekday; passers-by (mostly randomized MACs) seen
once; and a patrol crew phone that travels with each mobile sensor every day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.rf import F64, I64
from santiway_anomaly.simulate.world import Stops, World

ROLES: tuple[str, ...] = (
    "fixture", "employee", "night_shift", "visitor", "commuter", "passerby", "crew",
    "crowd", "intruder", "lingerer", "returner", "follower",
)
FIXTURE, EMPLOYEE, NIGHT_SHIFT, VISITOR, COMMUTER, PASSERBY, CREW = range(7)
CROWD, INTRUDER, LINGERER, RETURNER, FOLLOWER = range(7, 12)
FIRST_INJECTED_ROLE = CROWD

WEEKDAYS = 0b0011111  # Mon..Fri (bit 0 = Monday)
NEVER = 1 << 30

# Which folder kinds each role lives in (relative weights).
ROLE_KIND_WEIGHTS: dict[int, dict[str, float]] = {
    FIXTURE: {"office": 4, "warehouse": 2, "shop": 2, "lobby": 1, "datacenter": 4, "canteen": 1,
              "parking": 0.3, "bus-stop": 0.3},
    EMPLOYEE: {"office": 5, "warehouse": 3, "shop": 2, "lobby": 1, "datacenter": 1, "canteen": 1},
    NIGHT_SHIFT: {"warehouse": 3, "datacenter": 2, "lobby": 1},
    VISITOR: {"shop": 5, "office": 2, "lobby": 2, "canteen": 2, "warehouse": 0.5, "datacenter": 0.2},
    COMMUTER: {"bus-stop": 5, "parking": 2, "lobby": 1},
    PASSERBY: {"bus-stop": 4, "parking": 2, "shop": 2, "lobby": 2, "canteen": 1, "office": 1,
               "warehouse": 0.5, "datacenter": 0.3},
}
# Movement (lognormal sigma of distance per sighting), fast fading and shadowing (dB) per role.
MOTION: dict[str, tuple[float, float, float]] = {
    "fixed": (0.03, 1.5, 1.5),
    "desk": (0.35, 3.5, 3.0),
    "roaming": (0.5, 3.5, 3.0),
    "waiting": (0.2, 3.0, 3.0),
    "walking": (0.0, 3.5, 3.0),
    "steady": (0.08, 1.5, 1.0),
}

COLUMNS: dict[str, Any] = {
    "role": np.int8, "home": np.int64, "cls": np.int8, "randomized": np.bool_, "rot_s": np.float64,
    "phase_s": np.float64, "mac": np.int64, "vendor": np.int16, "rate": np.float64, "x": np.float64,
    "y": np.float64, "t_hour": np.float64, "dur_h": np.float64, "mask": np.int16, "day_a": np.int64,
    "day_b": np.int64, "early_day": np.int64, "late_day": np.int64, "change_day": np.int64,
    "unit": np.int64,
}
DEFAULTS: dict[str, float] = {"home": -1, "vendor": -1, "rate": 1.0, "day_a": -1, "day_b": -1,
                              "early_day": -1, "late_day": -1, "change_day": NEVER, "unit": -1}


class Population:
    """Parallel arrays, one entry per physical device (a randomized phone is one device, many MACs)."""

    def __init__(self, salt: int) -> None:
        self.salt = salt
        self.cols: dict[str, npt.NDArray[Any]] = {k: np.empty(0, dtype=t) for k, t in COLUMNS.items()}
        self._used_macs: set[int] = set()

    def __len__(self) -> int:
        return len(self.cols["role"])

    def __getattr__(self, name: str) -> npt.NDArray[Any]:
        cols = self.__dict__.get("cols")
        if cols is not None and name in cols:
            return cols[name]  # type: ignore[no-any-return]
        raise AttributeError(name)

    def append(self, n: int, rng: np.random.Generator, *, role: int, cls: npt.NDArray[Any] | int,
               randomized: npt.NDArray[Any] | bool, **values: Any) -> I64:
        """Add `n` devices, drawing identities (unique MACs, vendor reporting) for them."""
        start = len(self)
        new: dict[str, npt.NDArray[Any]] = {}
        for k, t in COLUMNS.items():
            default = DEFAULTS.get(k, 0)
            new[k] = np.full(n, default, dtype=t)
        new["role"][:] = role
        new["cls"][:] = cls
        new["randomized"][:] = randomized
        for k, v in values.items():
            new[k][:] = v
        rand = new["randomized"]
        new["rot_s"] = np.where(rand, rng.uniform(15, 30, n) * 60, 0.0)  # rotation every 15-30 min
        new["phase_s"] = rng.uniform(0, 1, n) * np.maximum(new["rot_s"], 1.0)
        new["mac"] = self._stable_macs(new["cls"], rng)
        new["mac"][rand] = 0
        # A fifth of the feeds that see a stable MAC also report its vendor; the rest leave it to the OUI.
        oui = (new["mac"] >> 24).astype(np.int64)
        vendor_of = {int(p): i for i, p in enumerate(rf.OUI_PREFIX)}
        reported = (~rand) & (rng.random(n) < 0.2)
        new["vendor"] = np.array([vendor_of.get(int(o), -1) if r else -1 for o, r in zip(oui, reported, strict=True)],
                                 dtype=np.int16)
        for k in COLUMNS:
            self.cols[k] = np.concatenate([self.cols[k], new[k]])
        return np.arange(start, start + n, dtype=np.int64)

    def _stable_macs(self, cls: npt.NDArray[Any], rng: np.random.Generator) -> I64:
        macs = np.zeros(len(cls), dtype=np.int64)
        for c, dc in enumerate(rf.CLASSES):
            idx = np.flatnonzero(cls == c)
            if len(idx) == 0:
                continue
            prefixes = rf.OUI_PREFIX[np.array(dc.ouis)][rng.integers(0, len(dc.ouis), len(idx))]
            macs[idx] = (prefixes << 24) | rng.integers(0, 1 << 24, len(idx))
        # Globally administered MACs are unique by construction in the real world: keep them so.
        for i in range(len(macs)):
            m = int(macs[i])
            while m in self._used_macs:
                m = (m & ~0xFFFFFF) | int(rng.integers(0, 1 << 24))
            macs[i] = m
            self._used_macs.add(m)
        return macs

    def role_counts(self) -> dict[str, int]:
        counts = np.bincount(self.cols["role"].astype(np.int64), minlength=len(ROLES))
        return {ROLES[i]: int(c) for i, c in enumerate(counts) if c}


def _folders_for(role: int, world: World, n: int, rng: np.random.Generator) -> I64:
    weights = np.array([ROLE_KIND_WEIGHTS[role].get(f.kind, 0.0) for f in world.folders])
    if weights.sum() == 0:  # a small world without the usual kinds: spread evenly
        weights = np.array([0.0 if f.kind == "bus-stop" and len(world.folders) > 1 else 1.0 for f in world.folders])
    return rng.choice(len(world.folders), size=n, p=weights / weights.sum()).astype(np.int64)


def _classes(n: int, probs: dict[str, float], rng: np.random.Generator) -> npt.NDArray[np.int8]:
    names = list(probs)
    p = np.array([probs[k] for k in names])
    picks = rng.choice(len(names), size=n, p=p / p.sum())
    return np.array([rf.CLASS_INDEX[names[i]] for i in picks], dtype=np.int8) if n else np.empty(0, np.int8)


def _disc(world: World, folders: I64, scale: float | F64, rng: np.random.Generator) -> tuple[F64, F64]:
    cx = np.array([f.x for f in world.folders])[folders]
    cy = np.array([f.y for f in world.folders])[folders]
    rad = np.array([f.radius_m for f in world.folders])[folders] * scale
    r = rad * np.sqrt(rng.random(len(folders)))
    a = rng.random(len(folders)) * 2 * np.pi
    return cx + r * np.cos(a), cy + r * np.sin(a)


def build_population(world: World, n: int, days: int, anomaly_days: int, seed: int) -> Population:
    """The normal population of `n` devices (crew phones included)."""
    rng = np.random.default_rng([seed, 2])
    pop = Population(salt=int(np.random.default_rng([seed, 3]).integers(1, 2**62)))
    n_crew = len(world.units)
    n_fix = max(min(len(world.folders), n // 10), round(0.03 * n))
    n_night = max(2, round(0.03 * n))
    n_emp = max(8, round(0.28 * n))
    n_vis = max(2, round(0.08 * n))
    n_comm = max(2, round(0.06 * n))
    n_pass = max(0, n - n_crew - n_fix - n_night - n_emp - n_vis - n_comm)

    # Fixtures: access points, printers, beacons, smart devices; always on, never move.
    home = _folders_for(FIXTURE, world, n_fix, rng)
    x, y = _disc(world, home, 0.9, rng)
    fixture_mix = {"ap": 0.45, "printer": 0.2, "beacon": 0.2, "iot": 0.15}
    pop.append(n_fix, rng, role=FIXTURE, cls=_classes(n_fix, fixture_mix, rng), randomized=False,
               home=home, x=x, y=y, rate=rng.uniform(1.0, 1.5, n_fix))

    # Staff: a personal arrival time and day length, and a weekly pattern.
    for role, count in ((EMPLOYEE, n_emp), (NIGHT_SHIFT, n_night)):
        home = _folders_for(role, world, count, rng)
        x, y = _disc(world, home, 0.85, rng)
        cls = _classes(count, {"phone": 0.55, "laptop": 0.30, "wearable": 0.15}, rng)
        rand = (cls == rf.CLASS_INDEX["phone"]) & (rng.random(count) < 0.45)
        u = rng.random(count)
        mask = np.where(u < 0.80, WEEKDAYS, np.where(u < 0.92, WEEKDAYS | 0b0100000, 0)).astype(np.int16)
        part = mask == 0
        for i in np.flatnonzero(part):  # part-timers: three fixed weekdays
            mask[i] = sum(1 << int(b) for b in rng.choice(5, 3, replace=False))
        if role == EMPLOYEE:
            kinds = np.array([world.folders[h].kind for h in home])
            arrive = np.clip(rng.normal(8.8, 0.6, count), 7.0, 10.5)
            arrive = np.where(kinds == "warehouse", arrive - 1.0, arrive)
            arrive = np.where(kinds == "shop", np.clip(rng.normal(9.6, 0.3, count), 9.0, 10.5), arrive)
            stay = np.clip(rng.normal(8.8, 0.6, count), 6.5, 10.5)
        else:
            # Night shifts: Sun-Thu nights or a fixed 4-of-7 rota.
            rota = np.array([sum(1 << int(b) for b in rng.choice(7, 4, replace=False)) for _ in range(count)])
            mask = np.where(rng.random(count) < 0.6, 0b1001111, rota).astype(np.int16)
            arrive = np.clip(rng.normal(22.0, 0.5, count), 20.5, 23.5)
            stay = np.clip(rng.normal(9.0, 0.5, count), 8.0, 10.5)
        pop.append(count, rng, role=role, cls=cls, randomized=rand, home=home, x=x, y=y, mask=mask,
                   t_hour=arrive, dur_h=stay, rate=rng.lognormal(0, 0.35, count))

    # Occasional visitors (customers, guests, contractors): one or two days in the period.
    home = _folders_for(VISITOR, world, n_vis, rng)
    cls = _classes(n_vis, {"phone": 0.75, "wearable": 0.25}, rng)
    rand = np.where(cls == rf.CLASS_INDEX["phone"], rng.random(n_vis) < 0.85, rng.random(n_vis) < 0.6)
    day_a = rng.integers(0, days, n_vis)
    second = rng.random(n_vis) < 0.35
    day_b = np.where(second, (day_a + rng.integers(1, max(2, days), n_vis)) % days, -1)
    day_b = np.where(day_b == day_a, -1, day_b)
    pop.append(n_vis, rng, role=VISITOR, cls=cls, randomized=rand, home=home, day_a=day_a, day_b=day_b,
               t_hour=rng.uniform(9.0, 17.0, n_vis), dur_h=rng.uniform(0.4, 2.0, n_vis),
               rate=rng.lognormal(0, 0.35, n_vis))

    # Commuters: pass the same bus stop / car park at the same time every weekday, for minutes.
    home = _folders_for(COMMUTER, world, n_comm, rng)
    cls = _classes(n_comm, {"phone": 0.8, "wearable": 0.2}, rng)
    rand = rng.random(n_comm) < 0.7
    t = np.where(rng.random(n_comm) < 0.5, rng.normal(8.1, 0.3, n_comm), rng.normal(18.2, 0.3, n_comm))
    pop.append(n_comm, rng, role=COMMUTER, cls=cls, randomized=rand, home=home, mask=WEEKDAYS,
               t_hour=t, dur_h=rng.uniform(2, 10, n_comm) / 60, rate=rng.lognormal(0, 0.35, n_comm))

    # Passers-by: seen once, for minutes; at a bus stop mostly in the rush hours.
    home = _folders_for(PASSERBY, world, n_pass, rng)
    cls = _classes(n_pass, {"phone": 0.75, "wearable": 0.25}, rng)
    rand = np.where(cls == rf.CLASS_INDEX["phone"], rng.random(n_pass) < 0.85, rng.random(n_pass) < 0.6)
    at_stop = np.array([world.folders[h].kind == "bus-stop" for h in home], dtype=bool)
    u = rng.random(n_pass)
    hour = np.where(u < 0.94, rng.uniform(7, 22, n_pass),
                    np.where(u < 0.97, rng.uniform(0.2, 5.8, n_pass), rng.uniform(22, 23.9, n_pass)))
    rush = np.where(rng.random(n_pass) < 0.5, rng.uniform(7.5, 9.0, n_pass), rng.uniform(17.5, 19.0, n_pass))
    hour = np.where(at_stop & (rng.random(n_pass) < 0.6), rush, hour)
    dur = np.where(at_stop, rng.uniform(2, 12, n_pass), rng.uniform(1, 4, n_pass)) / 60
    night = (hour < 6.0)
    # A stable MAC walking by at night is kept short and distant (weak) - a passer-by, not an intruder.
    dur = np.where(night, np.minimum(dur, 3 / 60), dur)
    pop.append(n_pass, rng, role=PASSERBY, cls=cls, randomized=rand, home=home,
               day_a=rng.integers(0, days, n_pass), t_hour=hour, dur_h=dur, rate=rng.lognormal(0, 0.35, n_pass))

    # Each patrol's crew phone rides with its mobile sensor every day.
    if n_crew:
        pop.append(n_crew, rng, role=CREW, cls=rf.CLASS_INDEX["phone"], randomized=False,
                   unit=np.arange(n_crew), rate=rng.lognormal(0, 0.2, n_crew))

    _mark_once_offs(pop, days, anomaly_days, rng)
    return pop


def _mark_once_offs(pop: Population, days: int, anomaly_days: int, rng: np.random.Generator) -> None:
    """Hard negatives: a regular employee who arrives early once, and one who stays late once."""
    regular = np.flatnonzero((pop.role == EMPLOYEE) & (~pop.randomized) & (pop.mask == WEEKDAYS))
    if len(regular) < 4:
        return
    k = max(2, len(regular) // 100)
    picks = rng.choice(regular, size=min(2 * k, len(regular)), replace=False)
    recent = max(anomaly_days, 1)
    def pick_days(m: int) -> I64:  # half of them inside the anomaly window, where detectors look
        early = rng.integers(0, days, m)
        late = rng.integers(max(0, days - recent), days, m)
        return np.where(rng.random(m) < 0.5, late, early).astype(np.int64)
    pop.cols["early_day"][picks[:k]] = pick_days(len(picks[:k]))
    pop.cols["late_day"][picks[k:]] = pick_days(len(picks[k:]))


@dataclass
class Presences:
    """A device at a place between two times (UTC epoch s); the unit the engine expands."""

    dev: I64
    folder: I64
    x: F64
    y: F64
    start: F64
    end: F64
    walking: npt.NDArray[np.bool_]
    sigma: F64  # lognormal sigma of distance per sighting (movement)
    fast_db: F64
    shadow_db: F64
    rate: F64  # sightings per hour at each sensor in range
    tag: I64  # index of the injected anomaly, -1 for normal behaviour

    @staticmethod
    def concat(parts: list[Presences]) -> Presences:
        parts = [p for p in parts if len(p.dev)]
        if not parts:
            return Presences.empty()
        return Presences(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in _FIELDS})

    @staticmethod
    def empty() -> Presences:
        return Presences(**{k: np.empty(0, dtype=t) for k, t in _FIELDS.items()})

    def __len__(self) -> int:
        return len(self.dev)

    def select(self, mask: npt.NDArray[np.bool_]) -> Presences:
        return Presences(**{k: getattr(self, k)[mask] for k in _FIELDS})


_FIELDS: dict[str, Any] = {"dev": np.int64, "folder": np.int64, "x": np.float64, "y": np.float64,
                           "start": np.float64, "end": np.float64, "walking": np.bool_, "sigma": np.float64,
                           "fast_db": np.float64, "shadow_db": np.float64, "rate": np.float64, "tag": np.int64}


def make_presences(pop: Population, base_rate: float, dev: I64, folder: I64, x: F64, y: F64,
                   start: F64, end: F64, motion: str, *, rate_factor: float | F64 = 1.0,
                   tag: int = -1) -> Presences:
    n = len(dev)
    sigma, fast, shadow = MOTION[motion]
    keep = end > start
    p = Presences(
        dev=dev.astype(np.int64), folder=np.broadcast_to(folder, n).astype(np.int64),
        x=np.broadcast_to(x, n).astype(np.float64), y=np.broadcast_to(y, n).astype(np.float64),
        start=start.astype(np.float64), end=end.astype(np.float64),
        walking=np.full(n, motion == "walking"), sigma=np.full(n, sigma), fast_db=np.full(n, fast),
        shadow_db=np.full(n, shadow),
        rate=(base_rate * pop.rate[dev] * rate_factor).astype(np.float64), tag=np.full(n, tag, dtype=np.int64))
    return p.select(keep)


def day_presences(pop: Population, world: World, d: int, lo: int, hi: int, stops: Stops,
                  base_rate: float, rng: np.random.Generator, *, previous_night: bool,
                  schedule_day: int | None = None) -> Presences:
    """Normal behaviour of devices [lo, hi) on local day `d` (presences may run past midnight).

    `schedule_day` is the day matched against the one-off schedules (visits, passers-by, early
    arrivals, behaviour changes); the live feed repeats a week of them.
    """
    ws = world.day_start(d)
    sd = d if schedule_day is None else schedule_day
    wd = world.weekday(d)
    role = pop.role[lo:hi]
    ids = np.arange(lo, hi, dtype=np.int64)
    parts: list[Presences] = []

    def of(r: int) -> I64:
        picked: I64 = ids[role == r]
        return picked

    # Fixtures: the whole day, every day.
    fx = of(FIXTURE)
    parts.append(make_presences(pop, base_rate, fx, pop.home[fx], pop.x[fx], pop.y[fx],
                                np.full(len(fx), ws), np.full(len(fx), ws + 86400.0), "fixed"))

    parts.extend(_staff_day(pop, world, of(EMPLOYEE), d, sd, base_rate, rng))
    ns = of(NIGHT_SHIFT)
    for nd in ((d - 1, d) if previous_night else (d,)):
        parts.append(_night_shift(pop, world, ns, nd, base_rate, rng))

    # Visitors on their day(s).
    vi = of(VISITOR)
    vi = vi[(pop.day_a[vi] == sd) | (pop.day_b[vi] == sd)]
    second = pop.day_b[vi] == sd
    t0 = pop.t_hour[vi] + np.where(second, rng.uniform(-2, 2, len(vi)), 0.0)
    t0 = np.clip(t0, 8.5, 18.0)
    x, y = _disc(world, pop.home[vi], 1.0, rng)
    parts.append(make_presences(pop, base_rate, vi, pop.home[vi], x, y, ws + t0 * 3600,
                                ws + (t0 + pop.dur_h[vi]) * 3600, "roaming"))

    # Commuters on weekdays, give or take a few minutes.
    co = of(COMMUTER)
    co = co[((pop.mask[co] >> wd) & 1).astype(bool) & (rng.random(len(co)) < 0.85)]
    t0 = pop.t_hour[co] + rng.normal(0, 0.08, len(co))
    x, y = _disc(world, pop.home[co], 1.2, rng)
    at_stop = np.array([world.folders[h].kind == "bus-stop" for h in pop.home[co]], dtype=bool)
    for sel, motion in ((at_stop, "waiting"), (~at_stop, "walking")):
        c = co[sel]
        parts.append(make_presences(pop, base_rate, c, pop.home[c], x[sel], y[sel], ws + t0[sel] * 3600,
                                    ws + (t0[sel] + pop.dur_h[c]) * 3600, motion))

    # Passers-by on their one day; they may pass anywhere near the folder, parked patrol car included.
    pb = of(PASSERBY)
    pb = pb[pop.day_a[pb] == sd]
    kinds_stop = np.array([world.folders[h].kind == "bus-stop" for h in pop.home[pb]], dtype=bool)
    radius = np.array([world.folders[h].radius_m for h in pop.home[pb]])
    x, y = _disc(world, pop.home[pb], np.maximum(1.5, 70.0 / np.maximum(radius, 1.0)), rng)
    t0 = pop.t_hour[pb]
    night = t0 < 6.0
    # At night a passer-by keeps to the street: push it out to >= 60 m from the folder centre.
    if night.any():
        cx = np.array([world.folders[h].x for h in pop.home[pb]])
        cy = np.array([world.folders[h].y for h in pop.home[pb]])
        ang = rng.random(len(pb)) * 2 * np.pi
        x = np.where(night, cx + 60 * np.cos(ang), x)
        y = np.where(night, cy + 60 * np.sin(ang), y)
    for sel, motion in ((kinds_stop & ~night, "waiting"), (~kinds_stop | night, "walking")):
        p = pb[sel]
        parts.append(make_presences(pop, base_rate, p, pop.home[p], x[sel], y[sel], ws + t0[sel] * 3600,
                                    ws + (t0[sel] + pop.dur_h[p]) * 3600, motion))

    # Crew phones: at every stop of their unit.
    for c in of(CREW):
        sel = stops.unit == pop.unit[c]
        k = int(sel.sum())
        parts.append(make_presences(pop, base_rate, np.full(k, c), stops.folder[sel],
                                    stops.x[sel] + rng.normal(0, 1.5, k), stops.y[sel] + rng.normal(0, 1.5, k),
                                    stops.start[sel], stops.end[sel], "steady"))
    return Presences.concat(parts)


def _staff_day(pop: Population, world: World, emp: I64, d: int, sd: int, base_rate: float,
               rng: np.random.Generator) -> list[Presences]:
    ws = world.day_start(d)
    wd = world.weekday(d)
    works = ((pop.mask[emp] >> wd) & 1).astype(bool) & (rng.random(len(emp)) > 0.04) & (pop.change_day[emp] > sd)
    e = emp[works]
    n = len(e)
    arrive = pop.t_hour[e] + rng.normal(0, 0.25, n)
    leave = arrive + pop.dur_h[e] + rng.normal(0, 0.35, n)
    arrive = np.where(pop.early_day[e] == sd, rng.uniform(6.1, 6.8, n), arrive)
    leave = np.where(pop.late_day[e] == sd, rng.uniform(22.4, 23.8, n), leave)
    # Regular staff never drift into the night window (00:00-06:00): that is the anomaly, not noise.
    arrive = np.clip(arrive, 6.1, 12.0)
    leave = np.clip(leave, arrive + 2.0, 23.9)
    u = rng.random(n)
    lunch = (u < 0.35)
    meeting = (u >= 0.35) & (u < 0.43)
    bs = np.where(lunch, rng.uniform(12.0, 13.5, n), rng.uniform(10.0, 15.5, n))
    be = bs + np.where(lunch, rng.uniform(0.5, 1.0, n), rng.uniform(0.75, 1.5, n))
    has_break = (lunch | meeting) & (bs > arrive + 0.25) & (be < leave - 0.25)
    dx, dy = rng.normal(0, 1.5, n), rng.normal(0, 1.5, n)
    x, y = pop.x[e] + dx, pop.y[e] + dy
    home = pop.home[e]
    parts = [
        make_presences(pop, base_rate, e, home, x, y, ws + arrive * 3600,
                       ws + np.where(has_break, bs, leave) * 3600, "desk"),
        make_presences(pop, base_rate, e[has_break], home[has_break], x[has_break], y[has_break],
                       ws + be[has_break] * 3600, ws + leave[has_break] * 3600, "desk"),
    ]
    m = has_break & meeting
    if m.any() and len(world.folders) > 1:
        other = (home[m] + rng.integers(1, len(world.folders), int(m.sum()))) % len(world.folders)
        mx, my = _disc(world, other, 1.0, rng)
        parts.append(make_presences(pop, base_rate, e[m], other, mx, my, ws + (bs[m] + 0.1) * 3600,
                                    ws + (be[m] - 0.1) * 3600, "roaming"))
    return parts


def _night_shift(pop: Population, world: World, ns: I64, d: int, base_rate: float,
                 rng: np.random.Generator) -> Presences:
    ws = world.day_start(d)
    wd = world.weekday(d)
    on = ns[((pop.mask[ns] >> wd) & 1).astype(bool) & (rng.random(len(ns)) > 0.04)]
    n = len(on)
    start = pop.t_hour[on] + rng.normal(0, 0.2, n)
    end = start + pop.dur_h[on] + rng.normal(0, 0.3, n)
    x, y = pop.x[on] + rng.normal(0, 2, n), pop.y[on] + rng.normal(0, 2, n)
    return make_presences(pop, base_rate, on, pop.home[on], x, y, ws + start * 3600, ws + end * 3600, "roaming")
