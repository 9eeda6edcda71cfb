"""Randomized MACs at night are judged as a population: a sudden crowd of them in a folder that is
quiet at night is one folder-level anomaly; the same MACs by day, or a few at night, are not."""

from __future__ import annotations

from datetime import timedelta

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.night import NightDetector
from santiway_anomaly.storage import Store
from tests.detectors.world import DAY, T0, World, mac


def _world(burst_at_night: bool) -> World:
    w = World()
    for i in range(4):  # day staff in the depot, every day
        w.daily(mac(0x30, i), range(15), 8, 17, sensor="D1", folder="depot", rssi=-60, every_s=300)
    for d in range(14):  # two or three randomized phones at night now and then: the folder's normal
        for k in range(d % 3):
            start = T0 + d * DAY + timedelta(hours=1 + k)
            w.track(mac(0x31, d * 10 + k, randomized=True), start, start + timedelta(minutes=20), sensor="D1",
                    folder="depot", every_s=60, randomized=True)
    scored = T0 + 14 * DAY + timedelta(hours=2 if burst_at_night else 13)
    for i in range(25):  # 25 randomized phones at once
        w.track(mac(0x32, i, randomized=True), scored, scored + timedelta(minutes=40), sensor="D1", folder="depot",
                every_s=60, randomized=True)
    return w


def test_randomized_burst_at_night_is_one_folder_anomaly(empty_store: Store, settings: Settings) -> None:
    _world(burst_at_night=True).insert(empty_store)
    window = Window(T0 + 14 * DAY, T0 + 15 * DAY)
    det = NightDetector(settings).fit(empty_store, window)
    alarms = det.alarms(det.score(empty_store, window), window)
    assert [(a.device_id, a.folder) for a in alarms] == [("", "depot")]
    d = alarms[0].details
    assert d["pattern"] == "randomized_population" and d["randomized_peak_5min"] >= 20
    assert d["p95_baseline"] <= 2


def test_randomized_burst_by_day_is_not_night_activity(empty_store: Store, settings: Settings) -> None:
    _world(burst_at_night=False).insert(empty_store)
    window = Window(T0 + 14 * DAY, T0 + 15 * DAY)
    det = NightDetector(settings).fit(empty_store, window)
    assert det.alarms(det.score(empty_store, window), window) == []


def test_a_device_heard_at_random_hours_is_not_a_daytime_device(empty_store: Store, settings: Settings) -> None:
    """A far beacon at the edge of range is heard now and then, day or night: no rhythm to break."""
    import numpy as np

    w = _world(burst_at_night=False)
    beacon = mac(0x33, 1)
    rng = np.random.default_rng(3)
    for d in range(14):
        for hour in rng.choice(24, size=3, replace=False):
            start = T0 + d * DAY + timedelta(hours=int(hour))
            w.track(beacon, start, start + timedelta(minutes=10), sensor="D1", folder="depot", rssi=-94, every_s=120)
    night = T0 + 14 * DAY + timedelta(hours=3)
    w.track(beacon, night, night + timedelta(minutes=30), sensor="D1", folder="depot", rssi=-94, every_s=120)
    w.insert(empty_store)
    window = Window(T0 + 14 * DAY, T0 + 15 * DAY)
    det = NightDetector(settings).fit(empty_store, window)
    scored = det.score(empty_store, window).set_index("subject")
    assert float(scored.loc[beacon, "score"]) < 0.5
    against = " ".join(scored.loc[beacon, "finding"].details()["against"])
    assert "no daytime rhythm" in against or "a night device" in against
