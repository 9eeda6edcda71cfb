"""`simulate --live`: the same world streamed in (optionally accelerated) real time, with anomalies
injected every few seconds and their truth appended as they start.

Sinks: the store (through the ingest pipeline, the way the product stores any feed) or a running
service (`POST /ingest` with NDJSON, for when the service owns the embedded store).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from loguru import logger

from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.anomalies import CROWD_MIN_EXTRA, NIGHT_END_H
from santiway_anomaly.simulate.engine import Expander
from santiway_anomaly.simulate.options import SimOptions
from santiway_anomaly.simulate.population import (
    CROWD,
    FOLLOWER,
    INTRUDER,
    LINGERER,
    NIGHT_SHIFT,
    Presences,
    build_population,
    day_presences,
    make_presences,
)
from santiway_anomaly.simulate.world import Stops, World
from santiway_anomaly.simulate.writer import to_csv_table, write_jsonl

SCHEDULE_CYCLE_DAYS = 7  # visitors and passers-by are drawn for a week and the week repeats
LIVE_SCENARIOS = ("crowd", "lingering", "following", "night_intruder")
# A live crowd is sized like the history's (simulate/anomalies.py): CROWD_FACTOR times the devices the
# folder usually holds in this hour, and at least CROWD_MIN_EXTRA more, so that the crowd alone clears
# the density line (1.5 x p95 and +10) even early in a clock hour, when the hour holds few of its usual
# devices yet. A crowd sized against the devices present at one moment (a folder's hourly count is
# several times that) could stay under the line for most of the hour, or for all of it.
CROWD_FACTOR = (2.0, 4.0)
# A crowd arrives together (a bus, the end of a meeting), and a phone that reaches a new place scans
# actively for known networks: a probe burst on every channel. So the sensors hear each member within
# ARRIVAL_S of its arrival (ARRIVAL_SIGHTINGS expected per member and sensor), and a crowd is detectable
# at the next detection run, not only after every member's next routine probe (1.5 min on average).
ARRIVAL_S = 10.0
ARRIVAL_SIGHTINGS = 3.0


class Sink(Protocol):
    def send(self, table: pa.Table) -> int: ...
    def close(self) -> None: ...


class StoreSink:
    """Into the store via the ingest pipeline (validation, MAC normalisation, vendor from OUI)."""

    def __init__(self, store: Any, settings: Any) -> None:
        self.store = store
        self.settings = settings

    def send(self, table: pa.Table) -> int:
        from santiway_anomaly.ingest.pipeline import ingest_table

        if table.num_rows == 0:
            return 0
        report = ingest_table(self.store, table, "simulate-live", self.settings)
        if report.rejected:
            logger.warning("live feed: {} sightings rejected by validation", report.rejected)
        return int(report.accepted)

    def close(self) -> None:
        return None


class ApiSink:
    """NDJSON batches to `POST {url}/ingest` with X-API-Key; retried with back-off, kept until sent."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0, max_pending: int = 500) -> None:
        import httpx

        self.url = url.rstrip("/") + "/ingest"
        headers = {"Content-Type": "application/x-ndjson"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.client = httpx.Client(headers=headers, timeout=timeout)
        self.pending: list[bytes] = []
        self.max_pending = max_pending
        self._backoff_until = 0.0
        self._failures = 0

    def send(self, table: pa.Table) -> int:
        if table.num_rows:
            self.pending.append(ndjson(table))
        if len(self.pending) > self.max_pending:
            dropped = len(self.pending) - self.max_pending
            logger.error("live feed: the service has not accepted data for a while; dropping the {} oldest "
                         "batches (kept {})", dropped, self.max_pending)
            del self.pending[:dropped]
        if time.monotonic() < self._backoff_until:
            return 0
        sent = 0
        while self.pending:
            body = self.pending[0]
            try:
                resp = self.client.post(self.url, content=body)
            except Exception as exc:  # connection refused, timeouts: retry later
                self._fail(f"{type(exc).__name__}: {exc}")
                break
            if resp.status_code in (401, 403):
                raise PermissionError(f"{self.url} refused the API key ({resp.status_code}): set --api-key "
                                      "or SIMULATE_API_KEY to one of the service's VALID_API_KEYS")
            if resp.status_code == 429 or resp.status_code >= 500:
                self._fail(f"HTTP {resp.status_code}")
                break
            self.pending.pop(0)
            self._failures = 0
            if resp.status_code >= 400:
                logger.error("live feed: {} rejected a batch: HTTP {} {}", self.url, resp.status_code, resp.text[:300])
                continue
            sent += int(resp.json().get("accepted", 0)) if resp.headers.get("content-type", "").startswith(
                "application/json") else 0
        return sent

    def _fail(self, reason: str) -> None:
        self._failures += 1
        wait = min(30.0, 2.0 ** min(self._failures, 5))
        self._backoff_until = time.monotonic() + wait
        logger.warning("live feed: POST {} failed ({}); {} batch(es) kept, retrying in {:.0f}s",
                       self.url, reason, len(self.pending), wait)

    def close(self) -> None:
        if self.pending:
            self._backoff_until = 0.0
            self.send(pa.table({}))
        self.client.close()


def ndjson(table: pa.Table) -> bytes:
    rows = to_csv_table(table).to_pylist()
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode("utf-8")


class LiveFeed:
    """Generates the world's sightings for consecutive slices of (simulated) time."""

    def __init__(self, opts: SimOptions, *, now: float | None = None, crowd_rest_hours: float = 3.0) -> None:
        """`crowd_rest_hours`: after a crowd ends, its folder gets no new crowd for this long, the density
        detector's DENSITY_COOLDOWN_HOURS: within it a new crowd continues the old alarm's episode and is
        rightly not alarmed again, so the truth would list a crowd no detector reports."""
        self.now0 = time.time() if now is None else now
        self.crowd_rest_s = crowd_rest_hours * 3600.0
        today = datetime.fromtimestamp(self.now0, opts.zone).date()
        # A world that starts yesterday (local) and runs for years: day indices grow as time passes.
        self.opts = replace(opts, start=today, anomaly_days=0)
        self.world = World(n_folders=opts.folders, n_mobile=opts.mobile_sensors, seed=opts.seed, zone=opts.zone,
                           start_date=today, days=3650)
        self.pop = build_population(self.world, opts.devices, SCHEDULE_CYCLE_DAYS, 0, opts.seed)
        self.expander = Expander(self.world, self.pop)
        self.rate = opts.sightings_per_hour
        self._days: dict[int, tuple[Presences, Stops]] = {}
        self.injected: list[Presences] = []
        self._crowd_until: dict[int, float] = {}  # folder -> end of its last injected crowd's window
        self._usual: dict[tuple[int, float], npt.NDArray[np.int64]] = {}  # (day, hour start) -> per folder
        self._tick = 0
        self._scenario = 0

    def day_of(self, t: float) -> int:
        d = int((t - self.world.day_start(0)) // 86400)
        while self.world.day_start(d + 1) <= t:
            d += 1
        while self.world.day_start(d) > t:
            d -= 1
        return d

    def _day(self, d: int) -> tuple[Presences, Stops]:
        if d not in self._days:
            for old in [k for k in self._days if k < d - 1]:
                del self._days[old]
            self._days[d] = self._make_day(d)
        return self._days[d]

    def _make_day(self, d: int) -> tuple[Presences, Stops]:
        stops = self.world.itinerary(d)
        rng = np.random.default_rng([self.opts.seed, 5, d + 10_000])
        pres = day_presences(self.pop, self.world, d, 0, len(self.pop), stops, self.rate, rng,
                             previous_night=False, schedule_day=d % SCHEDULE_CYCLE_DAYS)
        return pres, stops

    def usual_devices(self, t: float) -> npt.NDArray[np.int64]:
        """Per folder: the most distinct devices it held in the clock hour of `t` on the schedule week's
        other days (the same hour of each day), a stand-in for the detector's p95 of that hour."""
        d = self.day_of(t)
        hour0 = math.floor(t / 3600) * 3600.0
        key = (d, hour0)
        if key not in self._usual:
            counts = np.zeros(len(self.world.folders), dtype=np.int64)
            for back in range(1, SCHEDULE_CYCLE_DAYS):
                dd = d - back
                start = hour0 - (self.world.day_start(d) - self.world.day_start(dd))
                pres = self._days[dd][0] if dd in self._days else self._make_day(dd)[0]
                pres = pres.select((pres.start < start + 3600) & (pres.end > start))
                pairs = np.unique(np.stack([pres.folder, pres.dev]), axis=1)
                counts = np.maximum(counts, np.bincount(pairs[0], minlength=len(counts)))
            self._usual = {key: counts}  # only the current hour is ever asked for
        return self._usual[key]

    def slice(self, t0: float, t1: float) -> pa.Table:
        """Sightings with t0 <= ts < t1, time-ordered."""
        self._tick += 1
        rng = np.random.default_rng([self.opts.seed, 8, self._tick])
        d = self.day_of(t0)
        tables = []
        for dd in (d - 1, d):
            pres, stops = self._day(dd)
            parts = [pres] + ([Presences.concat(self.injected)] if dd == d and self.injected else [])
            p = Presences.concat(parts)
            p = p.select((p.start < t1) & (p.end > t0))
            if not len(p):
                continue
            p = self.expander.clip(p, t0, t1 - 0.001)
            st = stops.select_overlap(t0, t1) if len(stops) else stops
            tables.append(self.expander.to_table(self.expander.expand(p, st, rng)))
        self.injected = [p for p in self.injected if len(p) and float(p.end.max()) > t1]
        if not tables:
            return self.expander.to_table(self.expander.expand(Presences.empty(), self.world.itinerary(d), rng))
        table = pa.concat_tables(tables)
        return table.take(pc.sort_indices(table, sort_keys=[("ts", "ascending")]))

    # --- injections -----------------------------------------------------------------------
    def inject(self, t: float) -> dict[str, Any] | None:
        """Start the next feasible scenario at simulated time `t`; returns its truth record."""
        rng = np.random.default_rng([self.opts.seed, 12, self._scenario])
        for _ in range(len(LIVE_SCENARIOS)):
            name = LIVE_SCENARIOS[self._scenario % len(LIVE_SCENARIOS)]
            self._scenario += 1
            rec: dict[str, Any] | None = getattr(self, f"_inject_{name}")(t, rng)
            if rec is not None:
                # When it started (a crowd's window is whole hours): what a latency is measured from.
                rec["injected_at"] = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
                return rec
        return None

    def _new(self, role: int, rng: np.random.Generator, n: int = 1, randomized: Any = False) -> Any:
        return self.pop.append(n, rng, role=role, cls=rf.CLASS_INDEX["phone"], randomized=randomized)

    def _record(self, atype: str, scenario: str, subject: str, device: str, folder: int, t0: float, t1: float,
                **details: Any) -> dict[str, Any]:
        return {"anomaly_type": atype, "subject": subject, "device_id": device,
                "folder": self.world.folders[folder].name if folder >= 0 else "",
                "window_start": _iso(math.floor(t0)), "window_end": _iso(math.ceil(t1)),
                "scenario": scenario, "details": details}

    def _local_hour(self, t: float) -> float:
        local = datetime.fromtimestamp(t, self.world.zone)
        return local.hour + local.minute / 60

    def _inject_crowd(self, t: float, rng: np.random.Generator) -> dict[str, Any] | None:
        if not 7.0 <= self._local_hour(t) < 20.5:  # a daytime crowd: at night it would also be night activity
            return None
        hour0 = math.floor(t / 3600) * 3600
        free = [f.index for f in self.world.folders if self._crowd_folder_free(f.index, hour0)]
        if not free:
            return None
        f = int(rng.choice(free))
        pres, _ = self._day(self.day_of(t))
        here = int(((pres.folder == f) & (pres.start <= t) & (pres.end > t)).sum())
        usual = int(self.usual_devices(t)[f])
        factor = float(rng.uniform(*CROWD_FACTOR))
        members = math.ceil(max(factor * max(usual, 5), usual + CROWD_MIN_EXTRA))
        devs = self._new(CROWD, rng, members, rng.random(members) < 0.6)
        folder = self.world.folders[f]
        r, a = folder.radius_m * np.sqrt(rng.random(members)), rng.random(members) * 2 * np.pi
        x, y = folder.x + r * np.cos(a), folder.y + r * np.sin(a)
        # Whole clock hours, as the density detector counts; a late start runs into the next hour too.
        t1 = hour0 + 3600 * (int(rng.integers(1, 3)) + (1 if t - hour0 > 1200 else 0))
        arrival = ARRIVAL_SIGHTINGS / (self.rate * ARRIVAL_S / 3600.0)
        self.injected.append(Presences.concat([
            make_presences(self.pop, self.rate, devs, np.array([f]), x, y, np.full(members, t),
                           np.full(members, t1 - 60.0), "roaming"),
            make_presences(self.pop, self.rate, devs, np.array([f]), x, y, np.full(members, t),
                           np.full(members, t + ARRIVAL_S), "roaming", rate_factor=arrival)]))
        self._crowd_until[f] = t1
        return self._record("density_spike", "crowd", f"folder:{folder.name}", "", f, hour0, t1,
                            members=members, present_before=here, usual_devices=usual, factor=round(factor, 2))

    def _crowd_folder_free(self, f: int, hour0: float) -> bool:
        """Whether a crowd starting in the clock hour `hour0` would be a new alarm in folder `f`. The density
        detector suppresses a crowd whose window starts within its cooldown of the last one's end (the same
        episode), and a second crowd in one folder-hour is the same anomaly."""
        until = self._crowd_until.get(f)
        if until is None:
            return True
        return hour0 > until + self.crowd_rest_s if self.crowd_rest_s > 0 else hour0 >= until

    def _inject_lingering(self, t: float, rng: np.random.Generator) -> dict[str, Any] | None:
        if not 6.5 <= self._local_hour(t) < 18.0:  # must end before midnight: kept apart from night activity
            return None
        f = int(rng.integers(len(self.world.folders)))
        sensors = [s for s in self.world.sensors[: self.world.n_fixed_sensors] if s.folder == f]
        s = sensors[int(rng.integers(len(sensors)))]
        dev = self._new(LINGERER, rng)
        r, a = rng.uniform(2, 5), rng.random() * 2 * math.pi
        t1 = t + rng.uniform(3.5, 5.0) * 3600
        self.injected.append(make_presences(self.pop, self.rate, dev, np.array([f]),
                                            np.array([s.x + r * math.cos(a)]), np.array([s.y + r * math.sin(a)]),
                                            np.array([t]), np.array([t1]), "steady"))
        mac = rf.mac_str(int(self.pop.mac[dev[0]]))
        return self._record("stationary_surveillance", "lingering", mac, mac, f, t, t1, sensor_id=s.sensor_id)

    def _inject_following(self, t: float, rng: np.random.Generator) -> dict[str, Any] | None:
        _, stops = self._day(self.day_of(t))
        for u in rng.permutation(len(self.world.units)):
            idx = np.flatnonzero((stops.unit == u) & (stops.end > t))[:5]
            if len(idx) < 4 or stops.start[idx[0]] > t + 1800:  # only while the patrol is out
                continue
            dev = self._new(FOLLOWER, rng)
            k = len(idx)
            start = np.maximum(stops.start[idx], t)
            self.injected.append(make_presences(self.pop, self.rate, np.repeat(dev, k), stops.folder[idx],
                                                stops.x[idx] + rng.normal(0, 4, k), stops.y[idx] + rng.normal(0, 4, k),
                                                start, stops.end[idx], "desk"))
            mac = rf.mac_str(int(self.pop.mac[dev[0]]))
            return self._record("stationary_surveillance", "following", mac, mac, int(stops.folder[idx[0]]),
                                float(start[0]), float(stops.end[idx[-1]]), places=k,
                                sensor_id=self.world.sensors[int(stops.sensor[idx[0]])].sensor_id)
        return None

    def _inject_night_intruder(self, t: float, rng: np.random.Generator) -> dict[str, Any] | None:
        hour = self._local_hour(t)
        if hour >= NIGHT_END_H - 0.3:
            return None
        staffed = set(self.pop.home[self.pop.role == NIGHT_SHIFT].tolist())
        quiet = [f.index for f in self.world.folders if f.index not in staffed] or [0]
        f = int(rng.choice(quiet))
        dev = self._new(INTRUDER, rng)
        t1 = min(t + rng.uniform(20, 90) * 60, t + (NIGHT_END_H - hour) * 3600)
        folder = self.world.folders[f]
        self.injected.append(make_presences(self.pop, self.rate, dev, np.array([f]), np.array([folder.x]),
                                            np.array([folder.y]), np.array([t]), np.array([t1]), "roaming"))
        mac = rf.mac_str(int(self.pop.mac[dev[0]]))
        return self._record("night_activity", "night_intruder", mac, mac, f, t, t1)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def run_live(feed: LiveFeed, sink: Sink, truth_path: Path | None, *, speed: float = 1.0,
             inject_every: float = 300.0, batch_seconds: float = 2.0, duration: float | None = None,
             on_batch: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Stream until Ctrl-C (or `duration` wall seconds). Returns totals."""
    wall0 = time.monotonic()
    sim_prev = feed.now0
    next_inject = wall0 + min(inject_every, 10.0)  # a first anomaly soon, then every `inject_every`
    totals = {"sightings": 0, "accepted": 0, "injected": 0, "batches": 0}
    try:
        while duration is None or time.monotonic() - wall0 < duration:
            time.sleep(max(0.0, batch_seconds - (time.monotonic() - wall0) % batch_seconds))
            wall = time.monotonic()
            sim_now = feed.now0 + (wall - wall0) * speed
            if inject_every > 0 and wall >= next_inject:
                rec = feed.inject(sim_prev)
                next_inject = wall + inject_every
                if rec is not None:
                    totals["injected"] += 1
                    logger.info("live feed: injected {} ({}) {}", rec["scenario"], rec["anomaly_type"], rec["subject"])
                    if truth_path is not None:
                        write_jsonl(truth_path, [rec], append=True)
            table = feed.slice(sim_prev, sim_now)
            sim_prev = sim_now
            totals["sightings"] += table.num_rows
            totals["accepted"] += sink.send(table)
            totals["batches"] += 1
            if on_batch:
                on_batch(table.num_rows, totals["accepted"])
    except KeyboardInterrupt:
        logger.info("live feed: stopping")
    finally:
        sink.close()
    return totals
