"""Coverage from report rows: outages are missing data, quiet hours are zero devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from santiway_anomaly.config import load_settings
from santiway_anomaly.coverage import coverage_from_reports

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAYS = 10


def _rows(sensor: str, folder: str, hours: list[datetime]) -> pd.DataFrame:
    return pd.DataFrame({"sensor": sensor, "folder": folder, "hour": pd.to_datetime(hours, utc=True), "slots": 12})


def _day_hours(day: int, first: int = 8, last: int = 18) -> list[datetime]:
    return [START + timedelta(days=day, hours=h) for h in range(first, last)]


def test_quiet_nights_are_covered_and_outages_are_not() -> None:
    settings = load_settings(timezone="UTC")
    hours = [h for d in range(DAYS) if d not in (4, 5) for h in _day_hours(d)]  # days 4-5: the sensor was off
    hours += _day_hours(7, 8, 12)  # day 7: off from noon
    hours = [h for h in hours if not (h.day == (START + timedelta(days=7)).day and h.hour >= 12)]
    cov = coverage_from_reports(_rows("s1", "office", hours), settings, START, START + timedelta(days=DAYS))
    # A quiet night on an active day is covered (the sensor never reports at night: 0 devices).
    assert cov.is_covered("office", START + timedelta(days=1, hours=2))
    # A whole silent day is an outage, and so is an afternoon silence on a day it normally reports.
    assert not cov.is_covered("office", START + timedelta(days=4, hours=10))
    assert not cov.is_covered("office", START + timedelta(days=7, hours=14))
    days = cov.covered_days("office")
    assert (START + timedelta(days=4)).date() not in days and (START + timedelta(days=1)).date() in days
    # The first hour back after the outage is a restart hour.
    assert cov.is_restart("office", START + timedelta(days=6, hours=0)) or cov.is_restart(
        "office", START + timedelta(days=6, hours=8))


def test_mobile_sensor_does_not_define_coverage_and_learning_state() -> None:
    settings = load_settings(timezone="UTC", learning_min_days=5)
    fixed = _rows("s1", "office", [h for d in range(3) for h in _day_hours(d)])
    patrol = pd.concat([_rows("van", f, [START + timedelta(days=d, hours=h)])
                        for d in range(DAYS) for h, f in ((9, "office"), (11, "shop"), (13, "depot"))])
    cov = coverage_from_reports(pd.concat([fixed, patrol]), settings, START, START + timedelta(days=DAYS))
    assert cov.mobile_sensors == ["van"]
    assert cov.state("office", START + timedelta(days=DAYS)) == "learning"  # only 3 covered days
    # A folder only a patrol visits is covered in the hours something reported there.
    assert cov.is_covered("shop", START + timedelta(days=2, hours=11))
    assert not cov.is_covered("shop", START + timedelta(days=2, hours=12))


def test_a_heartbeat_folder_is_never_quiet_while_its_sensor_is_off() -> None:
    """The lab's case: a sensor that records a few hours a day and hears an always-on device whenever it
    is on. Its silence before the recording starts is the sensor being off, not an empty room."""
    settings = load_settings(timezone="UTC")
    # Recording sessions 09-17 most days; on days 3 and 6 it also ran from 07:00.
    hours = [h for d in range(DAYS) for h in _day_hours(d, 7 if d in (3, 6) else 9, 17)]
    plain = coverage_from_reports(_rows("s1", "lab", hours), settings, START, START + timedelta(days=DAYS))
    early = START + timedelta(days=5, hours=7)
    assert plain.is_covered("lab", early)  # without a heartbeat: a quiet early hour, 0 devices
    beat = plain.with_heartbeat(["lab", "not-a-folder"])
    assert beat.heartbeat == frozenset({"lab"})
    assert not beat.is_covered("lab", early)  # with one: the sensor was off
    assert beat.is_covered("lab", START + timedelta(days=6, hours=7))  # it reported then
    assert beat.is_restart("lab", START + timedelta(days=5, hours=9))
    # Folders without a heartbeat keep their quiet hours.
    assert plain.with_heartbeat([]).is_covered("lab", early)
