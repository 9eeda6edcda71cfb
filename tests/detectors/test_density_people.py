"""A crowd is people who are there (density, issue 11/16): an hour past the ratio line whose busiest
5-minute slot holds almost nobody near the sensor (the occupancy estimate's `people_high`) is vetoed;
a real crowd near the sensor still alarms. In the real embedded store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from santiway_anomaly.config import Settings, SettingsError, load_settings
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.density import DensityDetector
from santiway_anomaly.storage import Store
from tests.detectors.world import DAY, T0, World, mac

SCORED_DAY = 14
WINDOW = Window(T0 + SCORED_DAY * DAY, T0 + (SCORED_DAY + 1) * DAY)
STAFF = [mac(0x30, i) for i in range(20)]
NEAR_CROWD = [mac(0x31, i) for i in range(60)]
FAR_FLOOD = [mac(0x32, i) for i in range(40)]


def _world() -> World:
    w = World()
    # A hall: 20 people near the sensor every day 09:00-18:00, nobody in the evening.
    for dev in STAFF:
        w.daily(dev, range(SCORED_DAY + 1), 9, 18, folder="hall", rssi=-60, rssi_sd=2, every_s=240)
    day = T0 + SCORED_DAY * DAY
    # A real crowd at 14:00 on the scored day: 60 people in the room with the staff.
    for dev in NEAR_CROWD:
        w.track(dev, day + timedelta(hours=14), day + timedelta(hours=14, minutes=50), folder="hall", rssi=-56,
                rssi_sd=3, every_s=120)
    # A far flood at 20:00: 40 MACs heard at -90 dBm (another building), nobody near the sensor.
    for dev in FAR_FLOOD:
        w.track(dev, day + timedelta(hours=20), day + timedelta(hours=20, minutes=40), folder="hall", rssi=-90,
                rssi_sd=1.5, every_s=600)
    return w


@pytest.fixture(scope="module")
def hall_store(shared_store):  # type: ignore[no-untyped-def]
    store: Store = shared_store.get()
    _world().insert_alone(store)
    return store


def _alarm_hours(store: Store, settings: Settings) -> dict[int, dict[str, object]]:
    det = DensityDetector(settings).fit(store, WINDOW)
    return {a.window_start.hour: a.details for a in det.detect(store, WINDOW)}


def test_without_the_rule_the_far_flood_alarms(hall_store: Store, settings: Settings) -> None:
    """The flood passes every other check: the rule is what stops it."""
    off = settings.model_copy(update={"density_no_people_factor": 1.0})
    assert sorted(_alarm_hours(hall_store, off)) == [14, 20]


def test_a_far_flood_is_vetoed_and_a_near_crowd_still_alarms(hall_store: Store, settings: Settings) -> None:
    alarms = _alarm_hours(hall_store, settings)
    assert sorted(alarms) == [14]
    crowd = alarms[14]
    assert crowd["unique_devices"] == 80 and float(crowd["people_high"]) >= 60  # type: ignore[arg-type]
    assert float(crowd["people"]) <= float(crowd["people_high"])  # type: ignore[arg-type]
    assert not crowd["against"]
    det = DensityDetector(settings).fit(hall_store, WINDOW)
    scored = det.hourly(hall_store, WINDOW)
    flood = scored[scored["hour"].dt.hour == 20]["finding"].iloc[0]
    assert flood.evidence["unique_devices"] == 40 and flood.evidence["people_high"] < settings.density_min_excess
    assert any(a.factor == 0 and "nobody there" in a.reason for a in flood.against)


def test_a_halving_factor_lowers_instead_of_vetoing(hall_store: Store, settings: Settings) -> None:
    half = settings.model_copy(update={"density_no_people_factor": 0.5})
    det = DensityDetector(half).fit(hall_store, WINDOW)
    scored = det.hourly(hall_store, WINDOW)
    flood = scored[scored["hour"].dt.hour == 20]["finding"].iloc[0]
    assert [a.factor for a in flood.against if "nobody there" in a.reason] == [0.5]


def test_the_factor_is_validated_at_load_settings() -> None:
    with pytest.raises(SettingsError, match="DENSITY_NO_PEOPLE_FACTOR"):
        load_settings(density_no_people_factor=1.5)
