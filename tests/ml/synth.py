"""A small hand-made office: regular staff with daily schedules, a few of whom change behaviour.

Used by the ML tests to insert real sightings into the shared store (no mocks of our storage).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from santiway_anomaly.sightings import STORED_SCHEMA

T0 = datetime(2026, 3, 2, tzinfo=UTC)
LAT, LON = 55.75, 37.62


def mac(prefix: int, i: int) -> str:
    return f"02:{prefix:02X}:00:00:{i // 256:02X}:{i % 256:02X}".replace("02:", "00:", 1)


def office(n_devices: int = 30, days: int = 12, changed: int = 0, change_days: int = 2, seed: int = 0,
           per_hour: int = 3) -> tuple[pa.Table, list[str], list[str]]:
    """Sightings of `n_devices` office workers over `days` days from T0; the first `changed` devices
    arrive in the afternoon, in another folder and at a weak signal during the last `change_days`.
    Returns (table, all device ids, changed device ids)."""
    rng = np.random.default_rng(seed)
    devices = [mac(0x20, i) for i in range(n_devices)]
    arrive = rng.uniform(8.0, 9.5, n_devices)
    stay = rng.integers(7, 9, n_devices)
    rssi0 = rng.uniform(-70, -50, n_devices)
    sensor = rng.integers(0, 3, n_devices)
    cols: dict[str, list[object]] = {name: [] for name in STORED_SCHEMA.names}
    for d in range(days):
        day = T0 + timedelta(days=d)
        for i, dev in enumerate(devices):
            late = i < changed and d >= days - change_days
            start_h = int(arrive[i] + rng.normal(0, 0.3)) if not late else 14
            folder, rssi_base = ("office", rssi0[i]) if not late else ("warehouse", rssi0[i] - 25)
            for h in range(start_h, min(start_h + int(stay[i]), 23)):
                minutes = rng.choice(60, size=per_hour, replace=False)
                for m in minutes:
                    cols["ts"].append(day + timedelta(hours=h, minutes=int(m), seconds=int(rng.integers(60))))
                    cols["device_id"].append(dev)
                    cols["sensor_id"].append(f"s{sensor[i]}" if not late else "w1")
                    cols["folder"].append(folder)
                    cols["network_type"].append("wifi" if i % 3 else "ble")
                    cols["rssi"].append(int(np.clip(rssi_base + rng.normal(0, 3), -119, -1)))
                    cols["lat"].append(LAT + rng.normal(0, 2e-5) + (0.01 if late else 0.0))
                    cols["lon"].append(LON + rng.normal(0, 2e-5))
                    cols["vendor"].append("Apple" if i % 2 else "Samsung")
                    cols["is_randomized"].append(0)
    return pa.table(cols, schema=STORED_SCHEMA), devices, devices[:changed]


def site(folders: tuple[str, ...] = ("office", "lab", "store"), per_folder: int = 12, days: int = 12,
         move_days: int = 3, seed: int = 0) -> tuple[pa.Table, dict[str, str]]:
    """A small site of a few folders whose regular devices each stay in their home folder, except:
    - "mover": the first device of the first folder, which in the last `move_days` days also spends
      about 45 minutes of its working day in the last folder, where it was never seen before;
    - "wanderer": the second device of the first folder, which drops by another folder for a while
      on every third day, its history included, and on the last day too.
    Returns (table, {"mover": id, "wanderer": id})."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list[object]] = {name: [] for name in STORED_SCHEMA.names}
    roles: dict[str, str] = {}

    def add(dev: str, ts: datetime, folder: str, sensor: str, rssi: float) -> None:
        cols["ts"].append(ts)
        cols["device_id"].append(dev)
        cols["sensor_id"].append(sensor)
        cols["folder"].append(folder)
        cols["network_type"].append("wifi")
        cols["rssi"].append(int(np.clip(rssi + rng.normal(0, 3), -119, -1)))
        cols["lat"].append(LAT + rng.normal(0, 2e-5))
        cols["lon"].append(LON + rng.normal(0, 2e-5))
        cols["vendor"].append("Apple")
        cols["is_randomized"].append(0)

    for f, home in enumerate(folders):
        for i in range(per_folder):
            dev = mac(0x30 + f, i)
            if f == 0 and i < 2:
                roles["mover" if i == 0 else "wanderer"] = dev
            arrive, stay = rng.uniform(8.0, 9.5), int(rng.integers(7, 9))
            rssi0, sensor = rng.uniform(-70, -50), f"{home}-s{int(rng.integers(0, 2))}"
            for d in range(days):
                day = T0 + timedelta(days=d)
                start_h = int(arrive + rng.normal(0, 0.3))
                visit: str | None = None
                if dev == roles.get("mover") and d >= days - move_days:
                    visit = folders[-1]
                elif dev == roles.get("wanderer") and (d % 3 == 0 or d == days - 1):
                    visit = folders[1 + d % (len(folders) - 1)]
                visit_h = start_h + 3  # a 45-minute visit in the fourth hour of its day
                for h in range(start_h, min(start_h + stay, 23)):
                    for m in rng.choice(60, size=3, replace=False):
                        ts = day + timedelta(hours=h, minutes=int(m), seconds=int(rng.integers(60)))
                        away = visit is not None and h == visit_h and m < 45
                        add(dev, ts, visit if away and visit else home, f"{visit}-s0" if away else sensor, rssi0)
    return pa.table(cols, schema=STORED_SCHEMA), roles
