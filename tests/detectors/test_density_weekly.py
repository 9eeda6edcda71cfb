"""Density on a folder with a weekly rhythm (issue 11: "far more than its own same-hour baseline"): an
office busy on weekdays and nearly empty at weekends. A crowd on a Saturday that is no more than a
weekday's usual count is far more than the folder's own Saturday, and alarms; an ordinary Saturday and
an ordinary Monday do not. In the real embedded store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.density import DensityDetector
from santiway_anomaly.storage import Store
from tests.detectors.world import DAY, T0, World, mac

SATURDAY = 19  # T0 is a Monday: day 19 is a Saturday, with days 5-18 (4 weekend days) before it
MONDAY = 21
STAFF = [mac(0x40, i) for i in range(30)]
WEEKEND_STAFF = [mac(0x41, i) for i in range(3)]
CROWD = [mac(0x42, i) for i in range(40)]
SUNDAY = 20
MARKET_STAFF = [mac(0x43, i) for i in range(30)]
MARKET_GOERS = [mac(0x44, i) for i in range(80)]


def _world() -> World:
    w = World()
    weekdays = [d for d in range(MONDAY + 1) if d % 7 < 5]
    for dev in STAFF:
        for d in weekdays:
            w.daily(dev, range(d, d + 1), 9, 18, folder="office", rssi=-58, rssi_sd=2, every_s=240)
    for dev in WEEKEND_STAFF:  # a guard and two cleaners, every day
        w.daily(dev, range(MONDAY + 1), 8, 20, folder="office", rssi=-58, rssi_sd=2, every_s=240)
    day = T0 + SATURDAY * DAY
    for dev in CROWD:  # 43 people on a Saturday: a weekday's 33, give or take
        w.track(dev, day + timedelta(hours=11), day + timedelta(hours=11, minutes=55), folder="office", rssi=-56,
                rssi_sd=3, every_s=120)
    # A market hall, recorded from day 7: busy on weekdays, and a Sunday market at 15:00 (days 13 and 20).
    for dev in MARKET_STAFF:
        for d in range(7, MONDAY + 1):
            if d % 7 < 5:
                w.daily(dev, range(d, d + 1), 9, 18, folder="market", sensor="S2", rssi=-58, rssi_sd=2, every_s=240)
    for dev in WEEKEND_STAFF:
        w.daily(dev, range(7, MONDAY + 1), 8, 20, folder="market", sensor="S2", rssi=-58, rssi_sd=2, every_s=240)
    for d in (13, SUNDAY):
        for dev in MARKET_GOERS[:40] if d == 13 else MARKET_GOERS[40:]:
            start = T0 + d * DAY + timedelta(hours=15)
            w.track(dev, start, start + timedelta(minutes=55), folder="market", sensor="S2", rssi=-56, rssi_sd=3,
                    every_s=120)
    return w


@pytest.fixture(scope="module")
def office_store(shared_store):  # type: ignore[no-untyped-def]
    store: Store = shared_store.get()
    _world().insert_alone(store)
    return store


def _window(day: int) -> Window:
    return Window(T0 + day * DAY, T0 + (day + 1) * DAY)


def test_a_weekend_crowd_is_judged_against_the_folders_weekends(office_store: Store, settings: Settings) -> None:
    det = DensityDetector(settings).fit(office_store, _window(SATURDAY))
    assert det.baseline_["office"]["quiet_weekdays"] == {5, 6}
    alarms = det.detect(office_store, _window(SATURDAY))
    assert [(a.folder, a.window_start.hour) for a in alarms] == [("office", 11)]
    d = alarms[0].details
    assert d["baseline"] == "same_hour_quiet_days" and d["p95_baseline"] <= 5
    assert d["baseline_samples"] == 12  # 4 weekend days x the hour and one either side
    # Against the all-days p95 (the busy weekdays' count) the same crowd is no spike at all.
    assert float(det.baseline_["office"]["same_hour"][11][0]) >= 30 and float(d["robust_devices"]) < 1.5 * 33


def test_without_enough_quiet_days_the_all_days_baseline_misses_it(office_store: Store, settings: Settings) -> None:
    strict = settings.model_copy(update={"density_min_quiet_days": 90})
    assert DensityDetector(strict).fit(office_store, _window(SATURDAY)).detect(office_store, _window(SATURDAY)) == []


def test_an_ordinary_monday_after_quiet_weekends_raises_nothing(office_store: Store, settings: Settings) -> None:
    det = DensityDetector(settings).fit(office_store, _window(MONDAY))
    assert 0 not in det.baseline_["office"]["quiet_weekdays"]
    assert det.detect(office_store, _window(MONDAY)) == []


def test_a_weekly_event_on_a_quiet_day_is_normal_once_seen(office_store: Store, settings: Settings) -> None:
    """The market's second Sunday: its only earlier Sunday had the market too. Against its quiet days'
    median (two ordinary Saturdays and that Sunday) it would be a spike; against that same weekday it is not."""
    det = DensityDetector(settings).fit(office_store, _window(SUNDAY))
    assert 6 in det.baseline_["market"]["quiet_weekdays"]
    quiet_median = det.baseline_["market"]["quiet_hour"][15][0]
    assert quiet_median <= 5 and det.baseline_["market"]["weekday_hour"][(6, 15)] >= 40
    assert [a for a in det.detect(office_store, _window(SUNDAY)) if a.folder == "market"] == []
