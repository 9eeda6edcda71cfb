"""One hand-built world for the detector tests, inserted once per module into the shared store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from santiway_anomaly.storage import Store
from tests.detectors.world import BASE_LAT, BASE_LON, DAY, M_LAT, T0, World, mac

LOBBY = (BASE_LAT + 300 * M_LAT, BASE_LON)
WAREHOUSE = (BASE_LAT - 600 * M_LAT, BASE_LON)
SCORED_DAY = 14

STAFF = [mac(0x10, i) for i in range(20)]
NIGHT_SHIFT = [mac(0x11, i) for i in range(3)]
PRINTER = mac(0x12, 1)
WAREHOUSE_STAFF = [mac(0x13, i) for i in range(5)]
NIGHT_INTRUDER_NEW = mac(0x14, 1)  # no history, at night in the quiet warehouse
NIGHT_NEW_BUSY = mac(0x14, 2)  # no history, at night in the office (busy with its night shift): an intruder
LINGERER = mac(0x15, 1)
RETURNER = mac(0x15, 2)
REGULAR_VISITOR = mac(0x15, 3)
FOLLOWER = mac(0x16, 1)
COMPANION = mac(0x16, 2)
PASSENGERS = [mac(0x17, i) for i in range(8)]
CROWD = [mac(0x18, i, randomized=True) for i in range(60)]
ROTATING = [mac(0x19, i, randomized=True) for i in range(120)]
EXTRA_CROWD = [mac(0x1A, i) for i in range(60)]


def route(km: float, n: int = 6, start: tuple[float, float] = (BASE_LAT, BASE_LON)) -> list[tuple[float, float]]:
    return [(start[0] + k * km * 1000 * M_LAT / (n - 1), start[1] + k * 0.003) for k in range(n)]


def build_world() -> World:
    w = World()
    days = range(SCORED_DAY + 1)
    weekdays = [d for d in days if d % 7 < 5]
    for i, dev in enumerate(STAFF):
        for d in weekdays:
            if i == 1 and d == SCORED_DAY:
                continue  # the early arrival below replaces this day
            w.daily(dev, range(d, d + 1), 9 + (i % 3) * 0.25, 18, rssi=-62, rssi_sd=2, every_s=240)
    # Hard negative: staff 1 arrives early once (05:20) on the scored day and stays the day.
    scored = T0 + SCORED_DAY * DAY
    w.track(STAFF[1], scored + timedelta(hours=5, minutes=20), scored + timedelta(hours=18),
            rssi=-62, rssi_sd=2, every_s=240)
    # Planted: staff 0 (a daytime device) in the office at 01:30-03:00 on the scored day.
    w.track(STAFF[0], scored + timedelta(hours=1, minutes=30), scored + timedelta(hours=3), rssi=-62, every_s=180)
    # Night-shift staff: every night 22:00-06:00, including the scored night.
    for dev in NIGHT_SHIFT:
        for d in range(-1, SCORED_DAY):
            w.track(dev, T0 + d * DAY + timedelta(hours=22), T0 + (d + 1) * DAY + timedelta(hours=6),
                    rssi=-64, rssi_sd=3, every_s=300)
    # Fixture: a printer, always there.
    w.track(PRINTER, T0, T0 + (SCORED_DAY + 1) * DAY, rssi=-50, rssi_sd=1, every_s=600)
    # Warehouse: day staff only, quiet at night.
    for dev in WAREHOUSE_STAFF:
        w.daily(dev, range(0, SCORED_DAY + 1), 8, 17, sensor="W1", folder="warehouse",
                lat=WAREHOUSE[0], lon=WAREHOUSE[1], rssi=-66, rssi_sd=4, every_s=300)
    w.track(NIGHT_INTRUDER_NEW, scored + timedelta(hours=2), scored + timedelta(hours=2, minutes=50),
            sensor="W1", folder="warehouse", lat=WAREHOUSE[0], lon=WAREHOUSE[1], rssi=-70, every_s=120)
    w.track(NIGHT_NEW_BUSY, scored + timedelta(hours=2), scored + timedelta(hours=2, minutes=50),
            rssi=-70, every_s=120)
    # Lobby: 12-18 short visitors per hour, 08:00-20:00, different people every day.
    rng = w.rng
    visitor = 0
    del scored
    for d in days:
        for h in range(8, 20):
            for _ in range(int(rng.integers(12, 19))):
                visitor += 1
                start = T0 + d * DAY + timedelta(hours=h, minutes=float(rng.uniform(0, 45)))
                w.track(mac(0x20, visitor), start, start + timedelta(minutes=15), sensor="S2", folder="lobby",
                        lat=LOBBY[0], lon=LOBBY[1], rssi=-75, rssi_sd=6, every_s=180)
    scored = T0 + SCORED_DAY * DAY
    # Planted density spike: 60 extra devices in the lobby at 12:00-13:00.
    for dev in EXTRA_CROWD:
        start = scored + timedelta(hours=12, minutes=float(rng.uniform(0, 30)))
        w.track(dev, start, start + timedelta(minutes=25), sensor="S2", folder="lobby", lat=LOBBY[0], lon=LOBBY[1],
                rssi=-72, rssi_sd=5, every_s=120)
    # Hard negative: 10 phones rotating randomized MACs every 5 minutes at 15:00-16:00 (120 MACs, 10 phones).
    for i, dev in enumerate(ROTATING):
        start = scored + timedelta(hours=15, minutes=5 * (i // 10))
        w.track(dev, start, start + timedelta(minutes=5), sensor="S2", folder="lobby", lat=LOBBY[0], lon=LOBBY[1],
                rssi=-70, rssi_sd=4, every_s=60, randomized=True)
    # Planted lingering: a stranger 5 hours at the lobby with a steady, near signal.
    w.track(LINGERER, scored + timedelta(hours=10), scored + timedelta(hours=15), sensor="S2", folder="lobby",
            lat=LOBBY[0], lon=LOBBY[1], rssi=-55, rssi_sd=1.5, every_s=240)
    # Planted returning: 40 minutes at the lobby on the last 4 days, never before.
    for d in range(SCORED_DAY - 3, SCORED_DAY + 1):
        w.track(RETURNER, T0 + d * DAY + timedelta(hours=16), T0 + d * DAY + timedelta(hours=16, minutes=40),
                sensor="S2", folder="lobby", lat=LOBBY[0], lon=LOBBY[1], rssi=-68, rssi_sd=3, every_s=240)
    # Hard negative: a regular visitor, 40 minutes every weekday for two weeks.
    for d in weekdays:
        w.track(REGULAR_VISITOR, T0 + d * DAY + timedelta(hours=11), T0 + d * DAY + timedelta(hours=11, minutes=40),
                sensor="S2", folder="lobby", lat=LOBBY[0], lon=LOBBY[1], rssi=-68, rssi_sd=3, every_s=240)
    # A moving sensor M1 (a person walking). Its carrier's own watch (COMPANION) is with it every day.
    for d in days:
        start = T0 + d * DAY + timedelta(hours=10)
        w.track(COMPANION, start, start + timedelta(hours=2), sensor="M1", folder="street", path=route(3),
                rssi=-45, rssi_sd=2, every_s=120)
    # Planted following: FOLLOWER with M1 for 1h45 across 3 km on the scored day.
    w.track(FOLLOWER, scored + timedelta(hours=10, minutes=5), scored + timedelta(hours=11, minutes=50), sensor="M1",
            folder="street", path=route(3)[:6], rssi=-70, rssi_sd=4, every_s=150)
    # Hard negatives for following, on the scored day: a crowd of randomized MACs at a bus stop
    # (13:00-13:20, M1 waiting) then a bus ride (13:20-14:20) with 8 passengers.
    stop = route(3)[-1]
    for i, dev in enumerate(CROWD):
        start = scored + timedelta(hours=13, minutes=float(i % 20))
        w.track(dev, start, start + timedelta(minutes=8), sensor="M1", folder="street", lat=stop[0], lon=stop[1],
                rssi=-72, rssi_sd=5, every_s=60, randomized=True)
    w.track(COMPANION, scored + timedelta(hours=13), scored + timedelta(hours=14, minutes=20), sensor="M1",
            folder="street", path=[stop, *route(5, start=stop)], rssi=-45, rssi_sd=2, every_s=120)
    for dev in PASSENGERS:
        w.track(dev, scored + timedelta(hours=13, minutes=20), scored + timedelta(hours=14, minutes=20), sensor="M1",
                folder="street", path=route(5, start=stop), rssi=-66, rssi_sd=4, every_s=150)
    return w


@pytest.fixture(scope="module")
def world_store(shared_store):  # type: ignore[no-untyped-def]
    store: Store = shared_store.get()
    build_world().insert_alone(store)
    return store
