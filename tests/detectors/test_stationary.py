"""Stationary surveillance on a second hand-built world: the cases that fooled the old detector
(issue 11) and one test per piece of evidence against. In the style of scikit-learn's
`test_iforest_works`: the planted watchers rank above every normal device, and each Against lowers
the level by its documented factor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from santiway_anomaly.config import Settings, SettingsError, load_settings
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.findings import Finding
from santiway_anomaly.detectors.stationary import StationaryDetector
from santiway_anomaly.detectors.stationary_common import Context
from santiway_anomaly.detectors.stationary_lingering import lingering_findings
from santiway_anomaly.storage import Store
from tests.detectors.world import BASE_LAT, BASE_LON, DAY, M_LAT, T0, World, mac

SCORED_DAY = 14  # a Monday; history is days 0..13
LAB = (BASE_LAT + 1200 * M_LAT, BASE_LON)
DEPOT = (BASE_LAT - 1500 * M_LAT, BASE_LON + 0.02)
STOPS = [(BASE_LAT - 3000 * M_LAT, BASE_LON + k * 0.008) for k in range(6)]  # ~500 m apart

LAB_STAFF = [mac(0x30, i) for i in range(3)]
LONE_STRANGER = mac(0x31, 1)  # planted: 5 h alone near the sensor, steady
LONE_RANDOM = mac(0x31, 2, randomized=True)  # the same, with a randomized MAC
UNSTEADY = mac(0x31, 3)  # 5 h, but the signal swings: a person moving about
FAR = mac(0x31, 4)  # 5 h, steady, but far (-80 dBm)
DEPOT_LINGERER = mac(0x31, 5)  # 5 h in a folder with 1 day of history: a stranger cannot be told
PATROL_FOLLOWER = mac(0x32, 1)  # planted: at 5 consecutive patrol stops, ~1 h apart
COINCIDENT = mac(0x32, 2)  # at two stops of the round three stops apart
PARTIAL = mac(0x32, 4)  # at stops 1 and 3, not at stop 2: 2 of the sensor's 3 stops
CREW = mac(0x32, 3)  # rides with the patrol sensor every day
RANDOM_RETURNER = mac(0x33, 1, randomized=True)  # 4 days at the lab, same random MAC
NEW_HIRE = mac(0x33, 2)  # 4 days, 8 h a day at one desk
GROUP = [mac(0x33, 10 + i) for i in range(4)]  # a project group, 3 days together


def _session_mac(day: int, i: int) -> str:
    return mac(0x40 + day, i, randomized=True)


def build_world() -> World:
    w = World()
    weekdays = [d for d in range(SCORED_DAY + 1) if d % 7 < 5]
    lab = {"sensor": "L1", "folder": "lab", "lat": LAB[0], "lon": LAB[1]}
    for dev in LAB_STAFF:
        w.daily(dev, range(SCORED_DAY + 1), 8, 18, rssi=-60, rssi_sd=2, every_s=240, **lab)
    # Every weekday a 2-hour session of 15 students, each phone with its own random MAC of the day.
    for d in weekdays:
        start = T0 + d * DAY + timedelta(hours=14)
        length = timedelta(hours=2, minutes=15 if d == SCORED_DAY else 0)
        for i in range(15):
            w.track(_session_mac(d, i), start, start + length, rssi=-58, rssi_sd=2, every_s=240,
                    randomized=True, **lab)  # type: ignore[arg-type]
    scored = T0 + SCORED_DAY * DAY
    # Dwells overlapping each other for less than half their length: each is alone.
    def hours(a: float, b: float) -> tuple[datetime, datetime]:
        return scored + timedelta(hours=a), scored + timedelta(hours=b)

    morning = hours(9, 14)
    w.track(LONE_STRANGER, *morning, rssi=-55, rssi_sd=1.5, every_s=240, **lab)  # type: ignore[arg-type]
    w.track(UNSTEADY, *hours(4, 9), rssi=-58, rssi_sd=9, every_s=120, **lab)  # type: ignore[arg-type]
    w.track(FAR, *hours(16.5, 21.5), rssi=-80, rssi_sd=1.5, every_s=240, **lab)  # type: ignore[arg-type]
    w.track(LONE_RANDOM, *hours(19.5, 23.99), rssi=-55, rssi_sd=1.5, every_s=240, randomized=True,
            **lab)  # type: ignore[arg-type]
    # A depot whose sensor started the day before.
    depot = {"sensor": "D1", "folder": "depot", "lat": DEPOT[0], "lon": DEPOT[1]}
    w.track(mac(0x34, 1), T0 + (SCORED_DAY - 1) * DAY, scored + DAY, rssi=-50, every_s=600, **depot)  # type: ignore[arg-type]
    w.track(DEPOT_LINGERER, *morning, rssi=-55, rssi_sd=1.5, every_s=240, **depot)  # type: ignore[arg-type]
    # Returning cases in the 7-day look-back (days 8..14), on days that overlap by fewer than 3.
    for d in range(SCORED_DAY - 6, SCORED_DAY + 1):
        day = T0 + d * DAY
        if d in (8, 10, 12, 14):
            w.track(RANDOM_RETURNER, day + timedelta(hours=11), day + timedelta(hours=11, minutes=40), rssi=-60,
                    every_s=240, randomized=True, **lab)  # type: ignore[arg-type]
        if d in (9, 11, 13, 14):
            w.track(NEW_HIRE, day + timedelta(hours=9), day + timedelta(hours=17), rssi=-60, every_s=240,
                    **lab)  # type: ignore[arg-type]
        if d >= SCORED_DAY - 2:
            for dev in GROUP:
                w.track(dev, day + timedelta(hours=10), day + timedelta(hours=10, minutes=40), rssi=-62,
                        every_s=240, **lab)  # type: ignore[arg-type]
    # A patrol: 20 minutes at each of 6 stops ~500 m apart, 55 minutes between them: a 10-minute drive,
    # then 45 minutes in which the sensor hears nothing (the follower is not heard on the road either).
    for d in range(SCORED_DAY + 1):
        t = T0 + d * DAY + timedelta(hours=8)
        for k, stop in enumerate(STOPS):
            w.track(CREW, t, t + timedelta(minutes=20), sensor="P1", folder="patrol", lat=stop[0], lon=stop[1],
                    rssi=-45, every_s=120)
            if d == SCORED_DAY and 0 < k:
                w.track(PATROL_FOLLOWER, t, t + timedelta(minutes=18), sensor="P1", folder="patrol", lat=stop[0],
                        lon=stop[1], rssi=-70, every_s=150)
            if d == SCORED_DAY and k in (1, 3):
                w.track(PARTIAL, t, t + timedelta(minutes=18), sensor="P1", folder="patrol", lat=stop[0],
                        lon=stop[1], rssi=-70, every_s=150)
            if d == SCORED_DAY and k in (1, 4):
                w.track(COINCIDENT, t, t + timedelta(minutes=18), sensor="P1", folder="patrol", lat=stop[0],
                        lon=stop[1], rssi=-70, every_s=150)
            t += timedelta(minutes=20)
            if k + 1 < len(STOPS):
                w.track(CREW, t, t + timedelta(minutes=10), sensor="P1", folder="patrol",
                        path=[stop, STOPS[k + 1]], rssi=-45, every_s=120)
                t += timedelta(minutes=55)
    return w


WINDOW = Window(T0 + SCORED_DAY * DAY, T0 + (SCORED_DAY + 1) * DAY)
PLANTED = {LONE_STRANGER, PATROL_FOLLOWER}


@pytest.fixture(scope="module")
def stationary_store(shared_store):  # type: ignore[no-untyped-def]
    store: Store = shared_store.get()
    build_world().insert_alone(store)
    return store


@pytest.fixture(scope="module")
def scored(stationary_store: Store, settings: Settings) -> pd.DataFrame:
    return StationaryDetector(settings).fit(stationary_store, WINDOW).score(stationary_store, WINDOW)


def _finding(scored: pd.DataFrame, device: str) -> Finding:
    found = scored.set_index("subject").loc[device, "finding"]
    assert isinstance(found, Finding)
    return found


def _factor(f: Finding, word: str) -> float:
    hits = [a.factor for a in f.against if word in a.reason]
    assert hits, (word, [a.reason for a in f.against])
    return hits[0]


def test_planted_watchers_rank_above_every_normal_device(scored: pd.DataFrame, settings: Settings) -> None:
    planted = scored[scored["subject"].isin(PLANTED)]
    rest = scored[~scored["subject"].isin(PLANTED)]
    assert len(planted) == 2
    assert float(planted["score"].min()) >= 0.5
    assert float(planted["score"].min()) > float(rest["score"].max())
    alarms = {a.device_id for a in StationaryDetector(settings).alarms(scored, WINDOW)}
    # The lone randomized phone still alarms, on half the evidence; nothing else does.
    assert alarms - {LONE_RANDOM} == PLANTED


def test_patrol_with_long_gaps_between_stops_is_followed(scored: pd.DataFrame, settings: Settings) -> None:
    f = _finding(scored, PATROL_FOLLOWER)
    assert f.pattern == "following" and f.evidence["locations"] == 5
    assert f.evidence["minutes"] >= 240  # one episode across ~55-minute gaps
    assert f.evidence["stops_with_device"] == 5
    # Two stops three apart are two separate one-place episodes: no following.
    assert _finding(scored, COINCIDENT).adjusted_level < 1.0
    # At two of the three stops meanwhile: one episode (one stop missed is tolerated), but it weighs less.
    partial = _finding(scored, PARTIAL)
    assert partial.level >= 1.0 and partial.evidence["sensor_stops_in_span"] == 3
    assert _factor(partial, "stops meanwhile") == settings.follow_partial_factor
    assert partial.adjusted_level < 1.0
    assert _factor(_finding(scored, CREW), "companion") == 0.0


def test_a_session_is_not_lingering(scored: pd.DataFrame, stationary_store: Store, settings: Settings) -> None:
    """15 students with randomized MACs through a 2 h 15 min session, like every weekday's session."""
    students = [_session_mac(SCORED_DAY, i) for i in range(15)]
    for dev in students:
        f = _finding(scored, dev)
        assert f.pattern == "lingering" and f.level >= 1.0  # long enough on its own
        assert f.adjusted_level < 1.0
    f = _finding(scored, students[0])
    assert _factor(f, "other strangers came and left with it") == settings.stationary_crowd_factor
    assert _factor(f, "randomized") == settings.stationary_randomized_factor
    assert f.evidence["co_dwellers"] >= 10
    # Without the crowd and the randomized MAC, the folder's usual dwell at that hour still speaks against.
    alone = settings.model_copy(update={"stationary_crowd_min": 100, "stationary_randomized_factor": 0.99})
    ctx = Context(stationary_store, alone, WINDOW, {})
    f = {x.device_id: x for x in lingering_findings(ctx, lambda c, folders: set())}[students[0]]
    assert _factor(f, "usual here") == settings.linger_usual_factor
    assert 1.75 <= f.evidence["usual_dwell_hours"] <= 3.0  # the 2-hour sessions of the history
    assert f.adjusted_level < 1.0


def test_each_against_multiplies_the_level_by_its_factor(scored: pd.DataFrame, settings: Settings) -> None:
    lone = _finding(scored, LONE_STRANGER)
    assert not lone.against and lone.adjusted_level == pytest.approx(lone.level)
    cases = {LONE_RANDOM: ("randomized", settings.stationary_randomized_factor),
             UNSTEADY: ("unsteady signal", settings.linger_unsteady_factor),
             FAR: ("not near", settings.linger_far_factor),
             DEPOT_LINGERER: ("too short to tell a stranger", 0.0)}
    for device, (word, factor) in cases.items():
        f = _finding(scored, device)
        assert _factor(f, word) == factor
        assert f.adjusted_level == pytest.approx(f.level * f.factor)
        assert f.adjusted_level < f.level
    assert _finding(scored, UNSTEADY).evidence["rssi_std"] > settings.linger_max_rssi_std
    assert _finding(scored, LONE_STRANGER).evidence["rssi_std"] <= settings.linger_max_rssi_std


def test_returning_regulars_groups_and_random_macs_do_not_alarm(scored: pd.DataFrame, settings: Settings) -> None:
    rnd = _finding(scored, RANDOM_RETURNER)
    assert rnd.pattern == "returning" and rnd.level >= 1.0
    assert _factor(rnd, "randomized MAC kept for days") == settings.return_randomized_factor
    hire = _finding(scored, NEW_HIRE)
    assert hire.pattern == "returning" and _factor(hire, "like staff") == settings.return_staff_factor
    for dev in GROUP:
        f = _finding(scored, dev)
        assert _factor(f, "came back to the folder on the same days") == settings.stationary_crowd_factor
    for dev in (RANDOM_RETURNER, NEW_HIRE, *GROUP):
        assert _finding(scored, dev).adjusted_level < 1.0, dev


def test_a_density_spike_lowers_lingering_of_its_members_only(stationary_store: Store, settings: Settings) -> None:
    """Spike hours around the session (14:00-16:15): the students came and left together, members of the
    crowd; a lone stranger inside spike hours came and left alone and is not lowered."""
    # Only the spike speaks: the other evidence against the students is switched off.
    settings = settings.model_copy(update={"stationary_crowd_min": 100, "stationary_randomized_factor": 0.99,
                                           "linger_usual_factor": 0.99})
    ctx = Context(stationary_store, settings, WINDOW, {})
    day = int(WINDOW.start.timestamp())
    spikes = {("lab", day + 3600 * h) for h in (9, 10, 11, 12, 13, 14, 15, 16)}
    student = _session_mac(SCORED_DAY, 0)
    plain = {f.device_id: f for f in lingering_findings(ctx, lambda c, folders: set())}
    spiked = {f.device_id: f for f in lingering_findings(ctx, lambda c, folders: spikes)}
    assert spiked[student].evidence["co_dwellers"] >= 1
    assert _factor(spiked[student], "density spike") == settings.linger_spike_factor
    assert spiked[student].adjusted_level == pytest.approx(plain[student].adjusted_level * settings.linger_spike_factor)
    lone = spiked[LONE_STRANGER]
    assert lone.evidence["dwell_share_in_spike"] >= settings.linger_spike_share and lone.evidence["co_dwellers"] == 0
    assert not [a for a in lone.against if "density spike" in a.reason]
    assert lone.adjusted_level == pytest.approx(plain[LONE_STRANGER].adjusted_level)


def test_one_anomaly_per_device_per_day_with_the_others_listed(stationary_store: Store, settings: Settings) -> None:
    alarms = StationaryDetector(settings).fit(stationary_store, WINDOW).detect(stationary_store, WINDOW)
    assert len({(a.device_id, a.window_start) for a in alarms}) == len(alarms)
    for a in alarms:
        assert a.details["pattern"] in {"lingering", "returning", "following"} and a.details["reasons"]
        assert (a.window_end - a.window_start) == DAY


@pytest.mark.parametrize(("overrides", "name"), [
    ({"linger_hours_warning": 1.0}, "LINGER_HOURS"),
    ({"follow_locations_critical": 3}, "FOLLOW_LOCATIONS"),
    ({"return_days_warning": 6, "return_days_critical": 6}, "RETURN_DAYS"),
    ({"return_days_critical": 9}, "RETURN_LOOKBACK_DAYS"),
    ({"linger_usual_factor": 1.0}, "LINGER_USUAL_FACTOR"),
])
def test_inverted_or_impossible_levels_are_refused(overrides: dict[str, object], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings(_env_file=None, **overrides)
