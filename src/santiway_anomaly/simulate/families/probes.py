"""Probe fields and people truth for a world (issue 16), opt-in: `generate(..., probes=True)`.

What real phones do, as the lab captures and the literature on probe requests show it:
- each phone model sends one information-element set (`ies`), so phones of a popular model share it;
  fixtures and infrastructure have sets of their own;
- some phones also send directed probes for a network they know (`ssid`), here about 40 % of people,
  on about half of their probes;
- the 802.11 sequence number (`seq`) counts up on every frame; the sniffer hears a part of them
  (a step of 1-6 here); on some models it continues across a MAC change, on others it restarts;
- besides the world's own MAC modes (stable, every 15-30 min, per day, per presence), phones of two
  popular models that rotate change their MAC on every probe burst (each sighting is one burst).
Everything is a hash of the device and the row, not a draw from the world's generator: a world with
probes has exactly the sightings of the same world without them, only the MACs of per-burst phones
and the three fields differ.

People truth: per folder and UTC hour, the mean number of people present (time in the folder over
the hour, summed over people), from the presences of person roles (fixtures, far infrastructure,
a patrol's companion and a MAC-flooding gadget are not people; a patrol's own hearings are not
presences in the folder).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from santiway_anomaly.simulate import rf
from santiway_anomaly.simulate.families.layout import ROTATING, Devices, Layout

U64 = np.uint64
# (ies, share of phones, seq continues across a MAC change, MAC per probe burst when rotating)
PHONE_MODELS: tuple[tuple[str, float, bool, bool], ...] = (
    ("0,1,50,3,45,127,107,191,221,255", 0.24, True, True),
    ("0,1,50,3,45,127,107,221,221,221,221", 0.18, False, True),
    ("0,1,50,3,45,127,221", 0.12, True, False),
    ("0,1,50,3,45,127,255,255,221,221,221", 0.10, True, False),
    ("0,1,50,3,45,127,107", 0.08, False, False),
    ("0,1,50,45,127,191,221", 0.08, True, False),
    ("0,1,50,3,45,127,221,221", 0.07, False, False),
    ("0,1,50,3,45,221", 0.06, True, False),
    ("0,1,50,3,45,127,107,255,221", 0.04, True, False),
    ("0,1,50,3,127,221", 0.03, False, False),
)
PHONE_IES = tuple(m[0] for m in PHONE_MODELS)
FIXTURE_IES = ("0,1,50,3,221", "0,1,50", "0,1,45,221", "0,1,50,45")
NOT_PEOPLE = frozenset({"fixture", "far_infrastructure", "sensor_companion", "fake_crowd"})
DIRECTED_SHARE = 0.4  # people whose phone also probes for its home network
PER_BURST_MODE = 5  # a key space of its own for per-burst MACs (the world's modes are 0-3)


def _unit(h: Any) -> Any:
    """A hash as a float in [0, 1)."""
    return (h % U64(1_000_003)).astype(np.float64) / 1_000_003


def _rank_within(keys: list[Any]) -> Any:
    """Per row (rows are in time order): how many earlier rows share all `keys`."""
    order = np.lexsort(tuple(reversed(keys)))  # primary key first; lexsort is stable, so time order stays
    sorted_keys = [k[order] for k in keys]
    new = np.ones(len(order), dtype=bool)
    if len(order):
        new[1:] = np.any([k[1:] != k[:-1] for k in sorted_keys], axis=0)
    start = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - start
    return rank


def add_probe_fields(table: pa.Table, row_dev: Any, row_mac: Any, mode_of: Any, devs: Devices,
                     seed: int) -> tuple[pa.Table, Any]:
    """The table with `seq`, `ies`, `ssid` (and per-burst MACs), and the MAC per row after that."""
    n_dev = len(mode_of)
    dev_u = np.arange(n_dev, dtype=np.uint64)
    role_idx = np.repeat(np.arange(len(devs.role)), devs.role_n)
    person = ~np.isin(np.array(devs.role, dtype=object)[role_idx], list(NOT_PEOPLE))
    cum = np.cumsum([m[1] for m in PHONE_MODELS])
    model = np.minimum(np.searchsorted(cum / cum[-1], _unit(rf.splitmix64(dev_u * U64(3) + U64(seed)))),
                       len(PHONE_MODELS) - 1)
    continues = np.array([m[2] for m in PHONE_MODELS])[model]
    per_burst = np.array([m[3] for m in PHONE_MODELS])[model] & (mode_of == ROTATING) & person
    fixture_set = (rf.splitmix64(dev_u * U64(5) + U64(seed)) % U64(len(FIXTURE_IES))).astype(np.int64)
    ies_idx = np.where(person, model, len(PHONE_MODELS) + fixture_set)
    directed = person & (_unit(rf.splitmix64(dev_u * U64(7) + U64(seed))) < DIRECTED_SHARE)
    step = 1 + (rf.splitmix64(dev_u * U64(11) + U64(seed)) % U64(6)).astype(np.int64)

    dev = np.asarray(row_dev, dtype=np.int64)
    rows = np.arange(len(dev), dtype=np.uint64)
    macs = np.asarray(row_mac, dtype=np.uint64).copy()
    burst = per_burst[dev]
    if burst.any():
        key = (dev[burst] << 26) | (PER_BURST_MODE << 24) | (
            rf.splitmix64(rows[burst]) & U64(0xFFFFFF)).astype(np.int64)
        macs[burst] = rf.randomized_macs(key, seed)
    # seq: one counter per device, or per (device, MAC) on models that restart it with a new MAC
    segment = np.where(continues[dev], 0, macs).astype(np.uint64)
    rank = _rank_within([dev, segment])
    base = (rf.splitmix64(dev.astype(np.uint64) * U64(13) + segment) % U64(4096)).astype(np.int64)
    seq = (base + rank * step[dev]) % 4096
    row_directed = directed[dev] & (_unit(rf.splitmix64(rows * U64(17) + U64(seed))) < 0.5)
    ssid = np.where(row_directed, np.char.add("net-", (dev * 7919 % 1_000_003).astype(str)), "")
    all_ies = pa.array([*PHONE_IES, *FIXTURE_IES], type=pa.string())
    table = table.set_column(table.schema.get_field_index("device_id"), "device_id", rf.format_macs(macs))
    table = table.append_column("seq", pa.array(seq.astype(np.int16)))
    table = table.append_column("ies", all_ies.take(pa.array(ies_idx[dev])))
    table = table.append_column("ssid", pa.array(ssid.astype(object), type=pa.string()))
    return table, macs


def people_hours(layout: Layout, presences: dict[str, Any], devs: Devices) -> list[dict[str, Any]]:
    """Per folder and UTC hour of the world: the mean number of people present (rows with 0 included)."""
    role_idx = np.repeat(np.arange(len(devs.role)), devs.role_n)
    person = ~np.isin(np.array(devs.role, dtype=object)[role_idx], list(NOT_PEOPLE))
    dev = presences["dev"].astype(np.int64)
    keep = person[dev] & ~presences["solo"].astype(bool)
    start, end = presences["start"][keep], presences["end"][keep]
    folder = presences["folder"].astype(np.int64)[keep]
    t0 = layout.day_start(0)
    hours = layout.days * 24
    load = np.zeros((len(layout.folders), hours))
    h0 = np.clip(((start - t0) // 3600).astype(np.int64), 0, hours - 1)
    h1 = np.clip(((end - t0 - 1e-3) // 3600).astype(np.int64), 0, hours - 1)
    for k in range(int((h1 - h0).max(initial=0)) + 1):
        h = h0 + k
        ok = h <= h1
        a = np.maximum(start[ok], t0 + h[ok] * 3600.0)
        b = np.minimum(end[ok], t0 + (h[ok] + 1) * 3600.0)
        np.add.at(load, (folder[ok], h[ok]), np.clip(b - a, 0, None) / 3600.0)
    return [{"hour": f"{np.datetime64(int(t0) + 3600 * h, 's')}Z", "folder": layout.folders[f],
             "people": round(float(load[f, h]), 3)} for f in range(len(layout.folders)) for h in range(hours)]
