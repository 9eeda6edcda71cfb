"""From presences to sightings in one batch of numpy operations: every sensor of the folder hears a
presence (weaker the further it is from the nearest one), a Poisson number of sightings falls
uniformly in the presence, the signal scatters around its mean, sightings below the scanner's floor
and in a sensor's outage are lost, and each sighting gets the MAC its device showed at that time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from santiway_anomaly.sightings import INPUT_SCHEMA
from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.families.layout import I64, PER_PRESENCE, ROTATING, STABLE, STICKY_DAY, Layout

FLOOR_DBM = -97.0  # scanner sensitivity: weaker frames are never decoded
U64 = np.uint64


def stable_macs(dev: I64, oui: I64, seed: int) -> np.ndarray[Any, np.dtype[np.uint64]]:
    low = rf.splitmix64(dev.astype(np.uint64) ^ U64(seed * 7919 + 17)) & U64(0xFFFFFF)
    return (rf.OUI_PREFIX[oui].astype(np.uint64) << U64(24)) | low


def sightings(layout: Layout, p: dict[str, Any], devices: tuple[Any, Any, Any, Any],
              outages: list[tuple[int, float, float, str]],
              rng: np.random.Generator) -> tuple[pa.Table, I64, I64, Any]:
    """The sightings table (INPUT_SCHEMA, sorted by time), and per row: truth tag, device index, MAC."""
    mode_of, rot_of, oui_of, net_of = devices
    n_sens = np.array([len(s) for s in layout.folder_sensors], dtype=np.int64)
    first = np.array([s[0] for s in layout.folder_sensors], dtype=np.int64)
    solo = p["solo"].astype(bool)
    folder = p["folder"].astype(np.int64)
    # 1. (presence, sensor) pairs: solo presences with their own sensor, others with every folder sensor
    counts = np.where(solo, 1, n_sens[folder])
    pi = np.repeat(np.arange(len(folder)), counts)
    within = np.arange(len(pi)) - np.repeat(np.cumsum(counts) - counts, counts)
    sensor = np.where(solo[pi], p["sensor"].astype(np.int64)[pi], first[folder[pi]] + within)
    primary = sensor == p["sensor"].astype(np.int64)[pi]
    # another room of the folder: 6-18 dB weaker, fixed per (device, sensor) like shadowing
    h = rf.splitmix64(p["dev"].astype(np.uint64)[pi] * U64(131) + sensor.astype(np.uint64))
    atten = np.where(primary, 0.0, 6.0 + 12.0 * (h % U64(1000)).astype(np.float64) / 1000.0)
    gain = np.array([s.gain_db for s in layout.sensors])[sensor]
    mean = p["rssi"][pi] - atten + gain
    rate = p["rate"][pi] * np.clip((mean - FLOOR_DBM) / 12.0, 0.0, 1.0)
    minutes = (p["end"][pi] - p["start"][pi]) / 60.0
    n = rng.poisson(np.maximum(rate * minutes, 0.0))
    # 2. sightings
    row = np.repeat(np.arange(len(pi)), n)
    pres = pi[row]
    ts = p["start"][pres] + rng.random(len(row)) * (p["end"][pres] - p["start"][pres])
    rssi = np.round(mean[row] + p["sd"][pres] * rng.standard_normal(len(row)))
    sens = sensor[row]
    keep = rssi >= FLOOR_DBM - 1
    for s, a, b, _kind in outages:
        keep &= ~((sens == s) & (ts >= a) & (ts < b))
    order = np.nonzero(keep)[0]
    order = order[np.argsort(ts[order], kind="stable")]
    ts, rssi, sens, pres = ts[order], np.clip(rssi[order], -120, -20), sens[order], pres[order]
    dev = p["dev"].astype(np.int64)[pres]
    # 3. identities: the MAC a device shows at that time
    mode = mode_of[dev]
    t0 = layout.day_start(0)
    macs = stable_macs(dev, oui_of[dev], layout.seed)
    randomized = mode != STABLE
    if randomized.any():
        phase = (rf.splitmix64(dev.astype(np.uint64)) % U64(100_000)).astype(np.float64) / 100_000 * rot_of[dev]
        epoch = ((ts - t0 + phase) // rot_of[dev]).astype(np.int64)
        day = ((ts - t0) // 86400).astype(np.int64)
        x = np.select([mode == ROTATING, mode == STICKY_DAY, mode == PER_PRESENCE],
                      [epoch, day * 64 + p["folder"].astype(np.int64)[pres] % 64, pres % (1 << 24)], 0)
        key = (dev << 26) | (mode << 24) | (x & 0xFFFFFF)
        macs = np.where(randomized, rf.randomized_macs(key, layout.seed), macs)
    # 4. strings and positions
    xs = np.array([s.x for s in layout.sensors])[sens]
    ys = np.array([s.y for s in layout.sensors])[sens]
    own = ~np.isnan(p["x"][pres])
    xs = np.where(own, p["x"][pres], xs)
    ys = np.where(own, p["y"][pres], ys)
    lat, lon = layout.to_latlon(xs, ys)
    vendors = pa.array(list(rf.OUI_VENDOR) + [""], type=pa.string())
    vendor_idx = np.where(randomized, len(rf.OUI_VENDOR), oui_of[dev])
    nets = pa.array(["wifi", "ble"], type=pa.string())
    table = pa.table({
        "ts": pa.array((ts * 1000).astype(np.int64), type=pa.timestamp("ms", tz="UTC")),
        "device_id": rf.format_macs(macs),
        "sensor_id": pa.array([s.sensor_id for s in layout.sensors], type=pa.string()).take(pa.array(sens)),
        "folder": pa.array(layout.folders, type=pa.string()).take(pa.array(p["folder"].astype(np.int64)[pres])),
        "network_type": nets.take(pa.array(net_of[dev])),
        "rssi": pa.array(rssi.astype(np.int16)),
        "lat": pa.array(lat), "lon": pa.array(lon),
        "vendor": vendors.take(pa.array(vendor_idx)),
    }, schema=INPUT_SCHEMA)
    return table, p["tag"].astype(np.int64)[pres], dev, macs
