"""Stationary surveillance: the baselines that say what is usual for a place (issue 11, item 4), on a tiny
hand-built world. The planted lingerer and returner must rank above every normal device; night-shift
phones with a new random MAC each night, a weekly class, an occasional visitor, a new hire, a new colleague
on the first day and a returning visitor who walks about must not fire; each rule's Against carries its
documented factor."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.findings import Finding
from santiway_anomaly.detectors.stationary import StationaryDetector
from santiway_anomaly.storage import Store
from tests.detectors.world import BASE_LAT, BASE_LON, DAY, T0, World, mac

SCORED_DAY = 14  # a Monday; the history is days 0..13
HALL = {"sensor": "H1", "folder": "hall", "lat": BASE_LAT, "lon": BASE_LON}

FIXTURE = mac(0x50, 1)  # always on: keeps the hall's sensor listening every hour
STAFF = [mac(0x51, i) for i in range(3)]  # every day 8-17: regulars, never judged
LINGERER = mac(0x52, 1)  # planted: 3.5 h alone near the sensor on the scored Monday
RETURNER = mac(0x52, 2)  # planted: new to the place, back on 3 days of the look-back
VISITOR = mac(0x52, 3)  # the same 3 days, but seen once before the look-back: an occasional visitor
NEW_HIRE = mac(0x52, 4)  # new, 3 days of the look-back, 9 h a day
EXACT_TWO_HOURS = mac(0x52, 5)  # a stranger staying exactly 2 h: at most the alarm level, never above
PART_TIMER = mac(0x52, 6)  # seen on one day of the history, then 6 h at a desk: not new to the place
NIGHT_WATCHER = mac(0x52, 7)  # planted: new, arrives 21:00 the evening before and stays to 03:00
FIRST_DAY = mac(0x52, 8)  # new, at a desk on the scored day only, coming and leaving with the staff (8-17)
WALKER = mac(0x52, 9)  # new, back on 3 days of the look-back, walking about the hall (signal swings)


def _night_mac(day: int) -> str:
    """The night guard's phone: a new random MAC each night (kept for the whole night)."""
    return mac(0x53, day, randomized=True)


def _student(week: int, i: int) -> str:
    return mac(0x54 + week, i)


def build_world() -> World:
    w = World()
    w.track(FIXTURE, T0, T0 + (SCORED_DAY + 1) * DAY, rssi=-50, rssi_sd=1, every_s=600, **HALL)  # type: ignore[arg-type]
    for dev in STAFF:
        w.daily(dev, range(SCORED_DAY + 1), 8, 17, rssi=-62, rssi_sd=5, every_s=240, **HALL)
    # A night guard 22:00-06:00 every night, the scored night included; one random MAC per night, so
    # every night it is a stranger, and each night's presence touches two days.
    for d in range(-1, SCORED_DAY):
        start = T0 + d * DAY + timedelta(hours=22)
        w.track(_night_mac(d), start, start + timedelta(hours=8), rssi=-58, rssi_sd=1.5, every_s=240,
                randomized=True, **HALL)  # type: ignore[arg-type]
    # A weekly class on Monday of the first week, 10:00-13:00, 12 students with stable MACs: a long stay
    # of strangers on one day of the history, not what a Monday usually holds.
    class_start = T0 + 7 * DAY + timedelta(hours=10)
    for i in range(12):
        w.track(_student(0, i), class_start, class_start + timedelta(hours=3), rssi=-60, rssi_sd=1.5, every_s=240,
                **HALL)  # type: ignore[arg-type]
    scored = T0 + SCORED_DAY * DAY
    w.track(LINGERER, scored + timedelta(hours=10, minutes=30), scored + timedelta(hours=14), rssi=-55, rssi_sd=1.5,
            every_s=240, **HALL)  # type: ignore[arg-type]
    w.track(EXACT_TWO_HOURS, scored + timedelta(hours=15, minutes=2), scored + timedelta(hours=17, minutes=2),
            rssi=-55, rssi_sd=1.5, every_s=120, **HALL)  # type: ignore[arg-type]
    w.track(PART_TIMER, T0 + 5 * DAY + timedelta(hours=9), T0 + 5 * DAY + timedelta(hours=17), rssi=-55,
            rssi_sd=1.5, every_s=240, **HALL)  # type: ignore[arg-type]
    w.track(PART_TIMER, scored + timedelta(hours=9), scored + timedelta(hours=15), rssi=-55, rssi_sd=1.5,
            every_s=240, **HALL)  # type: ignore[arg-type]
    w.track(NIGHT_WATCHER, scored - timedelta(hours=3), scored + timedelta(hours=3), rssi=-55, rssi_sd=1.5,
            every_s=240, **HALL)  # type: ignore[arg-type]
    w.track(VISITOR, T0 + 2 * DAY + timedelta(hours=11), T0 + 2 * DAY + timedelta(hours=11, minutes=40), rssi=-60,
            every_s=240, **HALL)  # type: ignore[arg-type]
    for d in (10, 12, SCORED_DAY):
        day = T0 + d * DAY
        for dev in (RETURNER, VISITOR):
            w.track(dev, day + timedelta(hours=11), day + timedelta(hours=11, minutes=40), rssi=-60, every_s=240,
                    **HALL)  # type: ignore[arg-type]
        w.track(NEW_HIRE, day + timedelta(hours=8), day + timedelta(hours=17), rssi=-60, rssi_sd=5, every_s=240,
                **HALL)  # type: ignore[arg-type]
    # A new colleague's first day: still at a desk near the sensor all day, as steady as a watcher, but
    # arriving and leaving with the staff (within minutes, not to the second).
    w.track(FIRST_DAY, scored + timedelta(hours=8, minutes=10), scored + timedelta(hours=16, minutes=50), rssi=-55,
            rssi_sd=1.5, every_s=240, **HALL)  # type: ignore[arg-type]
    # Other days than the returner's (not a group with it), 40 min each, moving about: std ~6 dB.
    for d in (9, 11, SCORED_DAY):
        day = T0 + d * DAY
        w.track(WALKER, day + timedelta(hours=15), day + timedelta(hours=15, minutes=40), rssi=-60, rssi_sd=6,
                every_s=120, **HALL)  # type: ignore[arg-type]
    return w


WINDOW = Window(T0 + SCORED_DAY * DAY, T0 + (SCORED_DAY + 1) * DAY)
PLANTED = {LINGERER, RETURNER, NIGHT_WATCHER}


@pytest.fixture(scope="module")
def baseline_store(shared_store):  # type: ignore[no-untyped-def]
    store: Store = shared_store.get()
    build_world().insert_alone(store)
    return store


@pytest.fixture(scope="module")
def scored(baseline_store: Store, settings: Settings) -> pd.DataFrame:
    return StationaryDetector(settings).fit(baseline_store, WINDOW).score(baseline_store, WINDOW)


def _finding(scored: pd.DataFrame, device: str) -> Finding:
    found = scored.set_index("subject").loc[device, "finding"]
    assert isinstance(found, Finding)
    return found


def _factor(f: Finding, word: str) -> float:
    hits = [a.factor for a in f.against if word in a.reason]
    assert hits, (word, [a.reason for a in f.against])
    return hits[0]


def test_planted_lingerer_and_returner_rank_above_every_normal_device(scored: pd.DataFrame,
                                                                       settings: Settings) -> None:
    planted = scored[scored["subject"].isin(PLANTED)]
    rest = scored[~scored["subject"].isin(PLANTED)]
    assert len(planted) == 3
    assert float(planted["score"].min()) >= 0.5
    assert float(planted["score"].min()) > float(rest["score"].max())
    alarms = {a.device_id for a in StationaryDetector(settings).alarms(scored, WINDOW)}
    assert alarms == PLANTED
    for dev in STAFF:
        assert dev not in set(scored["subject"])  # regulars are not judged at all


def test_usual_dwell_is_a_typical_day_not_one_weekly_class(scored: pd.DataFrame) -> None:
    """One Monday class of 3 h in the history: a 3.5 h lone stay on the next Monday is still lingering."""
    f = _finding(scored, LINGERER)
    assert f.pattern == "lingering"
    assert f.evidence["usual_dwell_hours"] < 1.0
    assert not [a for a in f.against if "usual here" in a.reason]


def test_a_night_guard_with_a_new_random_mac_each_night_is_usual(scored: pd.DataFrame, settings: Settings) -> None:
    """Each night's MAC is seen on two adjacent days (before and after midnight): one visit, so a
    stranger, and the nights of the history make 8 h the usual dwell of random MACs at night."""
    f = _finding(scored, _night_mac(SCORED_DAY - 1))
    assert f.pattern == "lingering" and f.level >= 1.0
    assert f.evidence["usual_dwell_hours"] >= 7.0
    assert _factor(f, "usual here") == settings.linger_usual_factor
    assert f.adjusted_level < 1.0


def test_dwell_is_measured_from_first_to_last_sighting(scored: pd.DataFrame) -> None:
    f = _finding(scored, EXACT_TWO_HOURS)
    assert 1.9 <= f.raw <= 2.0  # not padded to whole 5-minute slots
    assert f.level <= 1.0


def test_an_occasional_visitor_and_a_new_hire_do_not_return(scored: pd.DataFrame, settings: Settings) -> None:
    returner = _finding(scored, RETURNER)
    assert returner.pattern == "returning" and returner.evidence["days_seen_before"] == 0
    visitor = _finding(scored, VISITOR)
    assert visitor.pattern == "returning" and visitor.level == returner.level
    assert visitor.evidence["days_seen_before"] == 1
    assert _factor(visitor, "seen here before on 1 day(s)") == settings.stationary_seen_before_factor
    assert visitor.adjusted_level == pytest.approx(visitor.level * settings.stationary_seen_before_factor)
    hire = _finding(scored, NEW_HIRE)
    assert hire.evidence["hours_a_day_at_place"] >= 8.5
    assert _factor(hire, "like staff") == settings.return_staff_factor
    for f in (visitor, hire):
        assert f.adjusted_level < 1.0


def test_a_part_timer_seen_before_is_not_a_lingering_stranger(scored: pd.DataFrame, settings: Settings) -> None:
    f = _finding(scored, PART_TIMER)
    assert f.pattern == "lingering" and f.level >= 2.0
    assert f.evidence["days_seen_before"] == 1
    assert _factor(f, "seen here before on 1 day(s)") == settings.stationary_seen_before_factor
    assert f.adjusted_level < 1.0
    # The evening before is the same visit as the night's dwell, not an earlier one.
    watcher = _finding(scored, NIGHT_WATCHER)
    assert watcher.pattern == "lingering" and watcher.evidence["days_seen_before"] == 0
    assert watcher.adjusted_level >= 1.0


def test_a_new_colleague_keeping_the_staff_hours_is_not_a_lingering_stranger(scored: pd.DataFrame,
                                                                          settings: Settings) -> None:
    """First day at the place, 8.7 h steady near the sensor: by dwell alone critical. It came and left with
    the staff regulars (a shift), which lowers it below the alarm line; the planted lingerer, there
    10:30-14:00 while the staff were there all day, keeps hours of its own and still alarms."""
    f = _finding(scored, FIRST_DAY)
    assert f.pattern == "lingering" and f.level == 3.0
    # the staff and the hire of last week (a regular by now, 8-17 too), not the always-on fixture
    assert f.evidence["shift_regulars"] == len(STAFF) + 1
    assert _factor(f, "keeps the site's hours") == settings.linger_shift_factor
    assert f.adjusted_level == pytest.approx(f.level * settings.linger_shift_factor)
    assert f.adjusted_level < 1.0
    lingerer = _finding(scored, LINGERER)
    assert lingerer.evidence["shift_regulars"] == 0
    assert not [a for a in lingerer.against if "site's hours" in a.reason]
    assert lingerer.adjusted_level >= 1.0


def test_a_shift_needs_enough_regulars(baseline_store: Store, settings: Settings) -> None:
    """With more regulars required than the site has, the first-day colleague is judged by its dwell."""
    strict = settings.model_copy(update={"linger_shift_min_regulars": len(STAFF) + 2})
    found = StationaryDetector(strict).fit(baseline_store, WINDOW).score(baseline_store, WINDOW)
    f = _finding(found, FIRST_DAY)
    assert f.evidence["shift_regulars"] == len(STAFF) + 1
    assert not [a for a in f.against if "site's hours" in a.reason]
    assert f.adjusted_level >= 1.0


def test_a_returning_visitor_walking_about_is_not_watching_a_spot(scored: pd.DataFrame, settings: Settings) -> None:
    walker = _finding(scored, WALKER)
    assert walker.pattern == "returning" and walker.evidence["days_seen_before"] == 0
    assert walker.evidence["rssi_std"] > settings.linger_max_rssi_std
    assert _factor(walker, "unsteady signal") == settings.linger_unsteady_factor
    assert walker.adjusted_level < 1.0
    returner = _finding(scored, RETURNER)
    assert returner.evidence["rssi_std"] <= settings.linger_max_rssi_std
    assert not [a for a in returner.against if "unsteady" in a.reason]
    assert returner.adjusted_level >= 1.0
