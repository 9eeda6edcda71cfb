"""From presences to sightings, vectorised: who is in range of which sensor, when each scan
catches them, at what signal, under which (possibly rotating) MAC.

No Python loop runs per sighting or per device: a presence is paired with every sensor of its
folder and with every mobile-sensor stop it overlaps, each pair draws a Poisson number of
sightings, and the sightings are drawn in one batch of numpy operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from santiway_anomaly.sightings import INPUT_SCHEMA
from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.population import Population, Presences
from santiway_anomaly.simulate.rf import F64, I64
from santiway_anomaly.simulate.world import SCAN_BURST_S, Stops, World

WALK_SPEED_MS = 1.3  # pedestrian pace: a walk-by is in range for a minute or two
EPOCH_BITS = 20  # MAC key = device << 20 | rotation epoch

SIGHTING_SCHEMA = INPUT_SCHEMA


@dataclass
class Batch:
    """Sightings as numpy columns (before strings are made)."""

    ts_ms: I64
    dev: I64
    key: I64  # MAC identity: device << 20 | rotation epoch (epoch 0 for stable MACs)
    sensor: I64
    folder: I64
    rssi: npt.NDArray[np.int16]
    lat: F64
    lon: F64
    tag: I64

    def __len__(self) -> int:
        return len(self.ts_ms)

    def select(self, order: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> Batch:
        return Batch(**{k: getattr(self, k)[order] for k in self.__dataclass_fields__})


class Expander:
    def __init__(self, world: World, pop: Population) -> None:
        self.world = world
        self.pop = pop
        s = world.sensors
        self.sx = np.array([v.x for v in s])
        self.sy = np.array([v.y for v in s])
        self.period = np.array([v.period_s for v in s])
        self.phase = np.array([v.phase_s for v in s])
        self.gps = np.array([v.gps_sigma_m for v in s])
        fixed = s[: world.n_fixed_sensors]
        n_f = len(world.folders)
        folder_of = np.array([v.folder for v in fixed], dtype=np.int64)
        self.n_sens = np.bincount(folder_of, minlength=n_f).astype(np.int64)
        self.first_sens = np.concatenate([[0], np.cumsum(self.n_sens)[:-1]]).astype(np.int64)
        self.sensor_names = pa.array([v.sensor_id for v in s], type=pa.string())
        self.folder_names = pa.array([f.name for f in world.folders], type=pa.string())
        self.net_names = pa.array(list(rf.NETWORK_TYPES), type=pa.string())
        self.vendor_names = pa.array(list(rf.OUI_VENDOR) + [""], type=pa.string())

    def clip(self, pres: Presences, t0: float, t1: float) -> Presences:
        pres.start = np.maximum(pres.start, t0)
        pres.end = np.minimum(pres.end, t1)
        return pres.select(pres.end > pres.start)

    def expand(self, pres: Presences, stops: Stops, rng: np.random.Generator) -> Batch:
        pop = self.pop
        # 1. Pairs with the folder's fixed sensors.
        counts = self.n_sens[pres.folder]
        pi = np.repeat(np.arange(len(pres), dtype=np.int64), counts)
        offs = np.arange(len(pi), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        si = self.first_sens[pres.folder][pi] + offs
        t0, t1 = pres.start[pi], pres.end[pi]
        px, py = self.sx[si], self.sy[si]
        pis, sis, t0s, t1s, pxs, pys = [pi], [si], [t0], [t1], [px], [py]
        # 2. Pairs with mobile sensors parked at the folder while the device is there.
        if len(stops):
            order = np.argsort(pres.folder, kind="stable")
            bounds = np.searchsorted(pres.folder[order], np.arange(len(self.world.folders) + 1))
            for k in range(len(stops)):
                f = int(stops.folder[k])
                cand = order[bounds[f]: bounds[f + 1]]
                s0, s1 = stops.start[k], stops.end[k]
                cand = cand[(pres.start[cand] < s1) & (pres.end[cand] > s0)]
                if len(cand) == 0:
                    continue
                pis.append(cand)
                sis.append(np.full(len(cand), stops.sensor[k], dtype=np.int64))
                t0s.append(np.maximum(pres.start[cand], s0))
                t1s.append(np.minimum(pres.end[cand], s1))
                pxs.append(np.full(len(cand), stops.x[k]))
                pys.append(np.full(len(cand), stops.y[k]))
        pi, si = np.concatenate(pis), np.concatenate(sis)
        t0, t1 = np.concatenate(t0s), np.concatenate(t1s)
        px, py = np.concatenate(pxs), np.concatenate(pys)

        dev = pres.dev[pi]
        p1m = rf.CLASS_P1M[pop.cls[dev]]
        dist = np.hypot(pres.x[pi] - px, pres.y[pi] - py)
        shadow = rng.normal(0.0, 1.0, len(pi)) * pres.shadow_db[pi]
        # Drop pairs that could not be heard even at their closest (saves the work of drawing them).
        closest = np.where(pres.walking[pi], dist, dist * np.exp(-2.5 * pres.sigma[pi]))
        best = rf.rssi_dbm(p1m, closest, shadow, 2.5 * pres.fast_db[pi])
        keep = best >= rf.SENSITIVITY_DBM
        pi, si, dev = pi[keep], si[keep], dev[keep]
        t0, t1, px, py, p1m, dist, shadow = (t0[keep], t1[keep], px[keep], py[keep], p1m[keep], dist[keep],
                                             shadow[keep])

        # 3. How many sightings each pair yields, then draw them all at once.
        n = rng.poisson(pres.rate[pi] * (t1 - t0) / 3600.0)
        idx = np.repeat(np.arange(len(pi), dtype=np.int64), n)
        total = len(idx)
        a0, a1 = t0[idx], t1[idx]
        t = a0 + rng.random(total) * (a1 - a0)
        # Sightings come in scan bursts: snap to the sensor's scan grid, then spread over the sweep.
        s = si[idx]
        per, ph = self.period[s], self.phase[s]
        t = ph + np.floor((t - ph) / per) * per + rng.random(total) * SCAN_BURST_S
        t = np.clip(t, a0, a1)

        p = pi[idx]
        walking = pres.walking[p]
        mid = 0.5 * (pres.start[p] + pres.end[p])
        d = np.where(walking, np.hypot(dist[idx], WALK_SPEED_MS * (t - mid)),
                     dist[idx] * np.exp(rng.normal(0.0, 1.0, total) * pres.sigma[p]))
        rssi = rf.rssi_dbm(p1m[idx], d, shadow[idx], rng.normal(0.0, 1.0, total) * pres.fast_db[p])
        heard = rssi >= rf.SENSITIVITY_DBM
        idx, t, s, p, rssi = idx[heard], t[heard], s[heard], p[heard], rssi[heard]
        total = len(idx)

        dv = dev[idx]
        rand = pop.randomized[dv]
        epoch = np.floor((t + pop.phase_s[dv]) / np.maximum(pop.rot_s[dv], 1.0)).astype(np.int64)
        key = (dv << EPOCH_BITS) | np.where(rand, epoch & ((1 << EPOCH_BITS) - 1), 0)
        gx = px[idx] + rng.normal(0.0, 1.0, total) * self.gps[s]
        gy = py[idx] + rng.normal(0.0, 1.0, total) * self.gps[s]
        lat, lon = self.world.to_latlon(gx, gy)
        return Batch(
            ts_ms=np.floor(t * 1000.0).astype(np.int64), dev=dv, key=key, sensor=s, folder=pres.folder[p],
            rssi=np.clip(np.rint(rssi), -120, rf.RSSI_CEILING).astype(np.int16), lat=lat, lon=lon,
            tag=pres.tag[p],
        )

    def mac_values(self, keys: I64) -> npt.NDArray[np.uint64]:
        dev = keys >> EPOCH_BITS
        rand = self.pop.randomized[dev]
        stable = self.pop.mac[dev].astype(np.uint64)
        return np.where(rand, rf.randomized_macs(keys, self.pop.salt), stable)

    def to_table(self, b: Batch) -> pa.Table:
        codes, uniq = pd.factorize(b.key)
        macs = rf.format_macs(self.mac_values(np.asarray(uniq, dtype=np.int64)))
        cls = self.pop.cls[b.dev]
        vendor = self.pop.vendor[b.dev].astype(np.int64)
        vendor = np.where(vendor < 0, len(self.vendor_names) - 1, vendor)
        return pa.Table.from_arrays([
            pa.array(b.ts_ms, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            macs.take(pa.array(codes)),
            self.sensor_names.take(pa.array(b.sensor)),
            self.folder_names.take(pa.array(b.folder)),
            self.net_names.take(pa.array(rf.CLASS_NET[cls])),
            pa.array(b.rssi, type=pa.int16()),
            pa.array(b.lat, type=pa.float64()),
            pa.array(b.lon, type=pa.float64()),
            self.vendor_names.take(pa.array(vendor)),
        ], schema=SIGHTING_SCHEMA)


class HourlyCounter:
    """Distinct MACs per folder per hour (what the density detector counts), built as we go."""

    def __init__(self, n_folders: int, period_start: float, hours: int) -> None:
        self.start = period_start
        self.hours = hours
        self.counts = np.zeros((n_folders, hours), dtype=np.int64)

    def add(self, b: Batch) -> None:
        if not len(b):
            return
        hour = ((b.ts_ms // 1000 - int(self.start)) // 3600).astype(np.int64)
        ok = (hour >= 0) & (hour < self.hours)
        cell = b.folder[ok] * self.hours + hour[ok]
        kcodes, kuniq = pd.factorize(b.key[ok])
        combo = cell * max(1, len(kuniq)) + kcodes
        distinct = pd.unique(combo)
        cells = distinct // max(1, len(kuniq))
        self.counts += np.bincount(cells, minlength=self.counts.size).reshape(self.counts.shape)
