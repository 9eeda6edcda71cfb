"""The ml_behavior detector on the real store: a window per device per local day, learning devices
not scored, fixtures vetoed, every day of a 72-hour window covered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyarrow as pa
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.ml_behavior import MLBehaviorDetector, scored_days
from santiway_anomaly.detectors.runner import run_detection
from santiway_anomaly.sightings import STORED_SCHEMA
from santiway_anomaly.storage import Store
from tests.conftest import SharedStore
from tests.detectors.world import truncate_data
from tests.ml.synth import LAT, LON, T0, office

DAYS = 12
CHANGE_DAYS = 3
END = T0 + timedelta(days=DAYS)
FIXTURE = "00:AA:00:00:00:01"
NEWCOMER = "00:AA:00:00:00:02"
FAR_CARD = "00:AA:00:00:00:03"


def _far_card() -> pa.Table:
    """A far network card heard in 6 hours of each day, other hours every day (all 24 over 4 days)
    and at once-odd hours in the scored days: never 20 h in a day, yet round the clock."""
    cols: dict[str, list[object]] = {n: [] for n in STORED_SCHEMA.names}
    for d in range(DAYS):
        for h in range(24):
            if (h + d) % 4 != 0 and not (d >= DAYS - 3 and h < 6):
                continue
            for k in range(0, 20, 4):
                cols["ts"].append(T0 + timedelta(days=d, hours=h, minutes=k))
                cols["device_id"].append(FAR_CARD)
                cols["sensor_id"].append("s0")
                cols["folder"].append("office")
                cols["network_type"].append("wifi")
                cols["rssi"].append(-90 if d < DAYS - 3 else -70)
                cols["lat"].append(LAT)
                cols["lon"].append(LON)
                cols["vendor"].append("Intel")
                cols["is_randomized"].append(0)
    return pa.table(cols, schema=STORED_SCHEMA)


def _rows(device: str, start_day: int, days: int, rssi: list[int], every_min: int = 5) -> pa.Table:
    cols: dict[str, list[object]] = {n: [] for n in STORED_SCHEMA.names}
    for d in range(start_day, start_day + days):
        for k in range(0, 24 * 60, every_min):
            cols["ts"].append(T0 + timedelta(days=d, minutes=k))
            cols["device_id"].append(device)
            cols["sensor_id"].append("s0")
            cols["folder"].append("office")
            cols["network_type"].append("wifi")
            cols["rssi"].append(rssi[d])
            cols["lat"].append(LAT)
            cols["lon"].append(LON)
            cols["vendor"].append("Router")
            cols["is_randomized"].append(0)
    return pa.table(cols, schema=STORED_SCHEMA)


@pytest.fixture(scope="module")
def world(shared_store: SharedStore) -> Iterator[tuple[Store, Settings, list[str]]]:
    st = shared_store.get()
    truncate_data(st)
    table, _, changed = office(n_devices=30, days=DAYS, changed=3, change_days=CHANGE_DAYS, seed=5)
    st.insert_arrow("santi.way_data", table)
    # A router heard around the clock whose signal drops by 25 dB and whose rate rises in the last days
    # (moved, reconfigured): a fixture all the same.
    st.insert_arrow("santi.way_data", _rows(FIXTURE, 0, DAYS - 3, [-50] * DAYS))
    st.insert_arrow("santi.way_data", _rows(FIXTURE, DAYS - 3, 3, [-75] * DAYS, every_min=1))
    # A device first seen in the scored days: no history of its own, learning.
    st.insert_arrow("santi.way_data", _rows(NEWCOMER, DAYS - 3, 3, [-60] * DAYS, every_min=20))
    st.insert_arrow("santi.way_data", _far_card())
    yield st, shared_store.settings, changed
    truncate_data(st)


def test_scored_days_are_the_local_days_ending_in_the_window() -> None:
    from zoneinfo import ZoneInfo

    utc = ZoneInfo("UTC")
    assert len(scored_days(Window(END - timedelta(hours=72), END), utc)) == 3
    last = (END - timedelta(days=1)).date()
    assert scored_days(Window(END - timedelta(hours=1), END + timedelta(hours=5)), utc) == [last]
    assert scored_days(Window(END + timedelta(hours=1), END + timedelta(hours=5)), utc) == []
    # In Moscow (UTC+3) the local day ends at 21:00 UTC.
    msk = scored_days(Window(END - timedelta(hours=4), END - timedelta(hours=2)), ZoneInfo("Europe/Moscow"))
    assert msk == [(END - timedelta(days=1)).date()]


def test_72_hours_score_every_day_and_find_the_changed_devices(world: tuple[Store, Settings, list[str]]) -> None:
    st, settings, changed = world
    det = MLBehaviorDetector(settings).fit(st, Window(END - timedelta(hours=72), END))
    assert len(det.days_) == 3
    assert sorted({str(d) for d in det.scores_["day"]}) == [str((END - timedelta(days=k)).date()) for k in (3, 2, 1)]
    assert NEWCOMER not in set(det.scores_["device_id"])  # learning: no covered history days of its own
    run = run_detection(st, settings, hours=72, until=END, detectors=["ml"], save=False)
    assert not run.errors and not run.skipped
    found = {a.device_id for a in run.anomalies}
    assert found == set(changed)
    # A change that lasts three days is one episode (the cooldown), not three alarms, unless it escalates.
    assert len(run.anomalies) <= 2 * len(changed)


def test_a_fixture_that_changed_is_vetoed(world: tuple[Store, Settings, list[str]]) -> None:
    st, settings, _ = world
    det = MLBehaviorDetector(settings).fit(st, Window(END - timedelta(hours=72), END))
    row = det.scores_[det.scores_["device_id"] == FIXTURE]
    assert len(row) and (row["level"] >= 1).all()  # its signal did change...
    found = det.findings(st, Window(END - timedelta(hours=72), END))
    fixture = [f for f in found if f.subject == FIXTURE]
    assert fixture and all(f.adjusted_level == 0 for f in fixture)  # ...but a fixture never alarms
    assert "a fixture" in fixture[0].details()["against"][0]
    assert "dB weaker than usual" in " ".join(fixture[0].reasons)


def test_round_the_clock_equipment_is_vetoed(world: tuple[Store, Settings, list[str]]) -> None:
    st, settings, changed = world
    window = Window(END - timedelta(hours=72), END)
    det = MLBehaviorDetector(settings).fit(st, window)
    devices = list(det.matrices_["devices"])
    assert det.round_the_clock_[devices.index(FAR_CARD)]
    assert not any(det.round_the_clock_[devices.index(d)] for d in changed)
    row = det.scores_[det.scores_["device_id"] == FAR_CARD]
    assert len(row) and (row["level"] >= 1).any()  # 20 dB stronger and at odd hours...
    card = [f for f in det.findings(st, window) if f.subject == FAR_CARD]
    assert card and all(f.adjusted_level == 0 for f in card)  # ...but equipment never alarms
    assert "round-the-clock" in " ".join(card[0].details()["against"])
