"""Per-sensor RSSI calibration (calibration.py; issue 16 point 1, issue 11) on a hand-built site with two
folders alike in every way but their sniffers: NORTH's reads like the reference, SOUTH's reads every device
14 dB weaker (another model, mounted high). The same planted lingering stranger and the same night intruder
are found at both with learning on (CALIB_LEARN, the default); without it the weak sensor's fixed dBm cuts
miss them. EAST's sniffer reads like the reference, but its room stood empty for the last three weeks (only
the neighbours behind its wall dwell there): it must not read as a weak sniffer.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from santiway_anomaly import calibration as calibration_module
from santiway_anomaly.calibration import Calibration, SensorLevel, best_sensor, load_calibration, offset_for
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors import context as context_module
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.findings import Finding
from santiway_anomaly.detectors.night import NightDetector
from santiway_anomaly.detectors.runner import run_detection
from santiway_anomaly.detectors.stationary import StationaryDetector
from santiway_anomaly.storage import Store
from tests.detectors.world import BASE_LAT, BASE_LON, DAY, M_LAT, T0, World, mac

SCORED_DAY = 14  # a Monday; the history is days 0..13
WINDOW = Window(T0 + SCORED_DAY * DAY, T0 + (SCORED_DAY + 1) * DAY)
WEAK_DB = -14.0  # SOUTH's sniffer: every reading 14 dB weaker than NORTH's would be
SITES = {  # folder -> (sensor, position, gain)
    "north": ("N1", (BASE_LAT, BASE_LON), 0.0),
    "south": ("S1", (BASE_LAT - 2000 * M_LAT, BASE_LON), WEAK_DB),
    "annex": ("A1", (BASE_LAT + 2000 * M_LAT, BASE_LON), 0.0),
}
DESKS = np.linspace(-75, -50, 25)  # 25 people at desks, 1-10 m from the sensor, on the reference scale
STAFF = {f: [mac(0x50 + k, i) for i in range(len(DESKS))] for k, f in enumerate(SITES)}
AP = {f: mac(0x58, k) for k, f in enumerate(SITES)}  # an access point in each folder, always on
LINGERER = {"north": mac(0x5A, 1), "south": mac(0x5A, 2)}  # planted: 5 h alone beside the sensor
INTRUDER = {"north": mac(0x5B, 1), "south": mac(0x5B, 2)}  # planted: new, at night, inside the folder
NEIGHBOUR = {"north": mac(0x5C, 1), "south": mac(0x5C, 2)}  # new, at night, behind the wall (hard negative)
LINGER_DBM = -57.0  # the planted lingerer's reading on the reference scale (NEAR_RSSI_DBM -65)
INTRUDER_DBM = -73.0  # the intruder's (NIGHT_FAR_RSSI_DBM -80)
NEIGHBOUR_DBM = -90.0  # beyond the wall on any sniffer
EAST = {"sensor": "E1", "folder": "east", "lat": BASE_LAT, "lon": BASE_LON + 3000 * M_LAT}
EAST_STAFF = [mac(0x5D, i) for i in range(len(DESKS))]  # at their desks in the week of days -14..-8 only
EAST_NEIGHBOURS = [mac(0x5E, i) for i in range(len(DESKS))]  # behind the wall every weekday
WALL = np.linspace(-92, -82, 25)  # the neighbours' readings: all far


def build_world() -> World:
    w = World()
    for folder, (sensor, (lat, lon), gain) in SITES.items():
        site = {"sensor": sensor, "folder": folder, "lat": lat, "lon": lon}
        people = STAFF[folder] if folder != "annex" else STAFF[folder][:8]  # the annex: too few to learn from
        for dev, rssi in zip(people, DESKS, strict=False):
            for d in range(SCORED_DAY + 1):
                if d % 7 < 5:
                    w.daily(dev, range(d, d + 1), 9, 17, rssi=float(rssi) + gain, rssi_sd=3, every_s=600,
                            **site)  # type: ignore[arg-type]
        w.track(AP[folder], T0, T0 + (SCORED_DAY + 1) * DAY, rssi=-60 + gain, rssi_sd=1, every_s=600,
                **site)  # type: ignore[arg-type]
        if folder == "annex":
            continue
        scored = T0 + SCORED_DAY * DAY
        w.track(LINGERER[folder], scored + timedelta(hours=10, minutes=40), scored + timedelta(hours=15, minutes=40),
                rssi=LINGER_DBM + gain, rssi_sd=1.5, every_s=240, **site)  # type: ignore[arg-type]
        w.track(INTRUDER[folder], scored + timedelta(hours=2), scored + timedelta(hours=2, minutes=50),
                rssi=INTRUDER_DBM + gain, rssi_sd=2, every_s=120, **site)  # type: ignore[arg-type]
        w.track(NEIGHBOUR[folder], scored + timedelta(hours=2), scored + timedelta(hours=2, minutes=50),
                rssi=NEIGHBOUR_DBM + gain, rssi_sd=2, every_s=120, **site)  # type: ignore[arg-type]
    for d in range(-14, SCORED_DAY + 1):
        if d % 7 >= 5:
            continue
        for dev, rssi in zip(EAST_NEIGHBOURS, WALL, strict=True):
            w.daily(dev, range(d, d + 1), 9, 17, rssi=float(rssi), rssi_sd=3, every_s=600, **EAST)  # type: ignore[arg-type]
        if d < -7:  # the room was in use three weeks before the scored day, then stood empty
            for dev, rssi in zip(EAST_STAFF, DESKS, strict=True):
                w.daily(dev, range(d, d + 1), 9, 17, rssi=float(rssi), rssi_sd=3, every_s=600, **EAST)  # type: ignore[arg-type]
    return w


@pytest.fixture(scope="module")
def learning(settings: Settings) -> Settings:
    """Learning on: off by default (config.py says why), and what this module is about."""
    return settings.model_copy(update={"calib_learn": True})


@pytest.fixture(scope="module")
def calib_store(shared_store):  # type: ignore[no-untyped-def]
    store: Store = shared_store.get()
    build_world().insert_alone(store)
    return store


@pytest.fixture(scope="module")
def levels(calib_store: Store, learning: Settings) -> Calibration:
    return load_calibration(calib_store, learning, WINDOW.start)


def _off(learning: Settings) -> Settings:
    return learning.model_copy(update={"calib_learn": False})


def _findings(detector: Any, store: Store) -> dict[str, Finding]:
    scored = detector.fit(store, WINDOW).score(store, WINDOW)
    return {str(s): f for s, f in zip(scored["subject"], scored["finding"], strict=True)}


def _factor(f: Finding, word: str) -> float | None:
    hits = [a.factor for a in f.against if word in a.reason]
    return hits[0] if hits else None


# ---- the statistic ------------------------------------------------------------------------------------


def test_a_sensor_like_the_reference_gets_no_offset(levels: Calibration, learning: Settings) -> None:
    north = levels.sensors["N1"]
    assert north.state == "ready" and north.dwellers == len(DESKS) + 1  # the 25 people and the access point
    assert north.blocks == north.usable_blocks == 1  # the history's fortnight
    assert north.measured_db is not None and abs(north.measured_db) < learning.calib_tolerance_db
    assert north.offset_db == 0.0 and levels.offset("N1") == 0.0
    assert levels.correct(-70, "N1") == -70.0


def test_a_weak_sensor_gets_its_own_offset(levels: Calibration) -> None:
    south = levels.sensors["S1"]
    assert south.state == "ready"
    assert south.offset_db == pytest.approx(WEAK_DB, abs=2.0)
    assert south.level_dbm == pytest.approx(levels.sensors["N1"].level_dbm + WEAK_DB, abs=1.0)  # type: ignore[operator]
    assert levels.correct(-80, "S1") == pytest.approx(-80 - south.offset_db)
    assert levels.offsets == {"S1": south.offset_db}
    assert "S1 reads 1" in levels.describe("S1") and "weak" in levels.describe("S1")


def test_a_sensor_with_too_few_dwellers_is_learning(levels: Calibration, learning: Settings) -> None:
    annex = levels.sensors["A1"]
    assert annex.dwellers == 9 < learning.calib_min_devices
    assert annex.state == "learning" and annex.offset_db == 0.0
    assert levels.offset("nobody-knows-this-sensor") == 0.0


def test_passers_by_and_visitors_do_not_count(calib_store: Store, learning: Settings) -> None:
    """Only devices heard at the sensor in CALIB_MIN_HOURS distinct hours of a block are its dwellers in
    that block: the planted devices of the scored day (in the window, not the history) and any short visit are not."""
    longer = learning.model_copy(update={"calib_min_hours": 100})  # 80 h at a desk a fortnight: only the access points
    cal = load_calibration(calib_store, longer, WINDOW.start)
    assert {s: v.dwellers for s, v in cal.sensors.items()} == {"N1": 1, "S1": 1, "A1": 1}
    assert all(v.state == "learning" for v in cal.sensors.values())


def test_an_empty_room_does_not_read_as_a_weak_sniffer(levels: Calibration, learning: Settings) -> None:
    """EAST's room was in use three weeks ago and has stood empty since: its last fortnight's dwellers are all
    the neighbours behind the wall (-92..-82 dBm, a level 30 dB under the reference). The memory keeps the
    level of the fortnight before, when the room was in use; the empty one, whose level stands only ~10 dB
    above its own low tail, is not used."""
    east = levels.sensors["E1"]
    assert east.blocks == 2 and east.usable_blocks == 1
    assert east.level_dbm == pytest.approx(levels.sensors["N1"].level_dbm, abs=1.0)  # type: ignore[arg-type]
    assert east.offset_db == 0.0 and east.state == "ready"


def test_weeks_without_anybody_near_are_refused(calib_store: Store, learning: Settings) -> None:
    """With a memory of the empty fortnight only, EAST has no usable block: learning, offset 0. Without the
    span guard that fortnight would read it as a sniffer 30 dB weak (clamped to CALIB_MIN_OFFSET_DB)."""
    short = learning.model_copy(update={"calib_history_days": 14})
    east = load_calibration(calib_store, short, WINDOW.start).sensors["E1"]
    assert east.blocks == 1 and east.usable_blocks == 0 and east.state == "learning" and east.offset_db == 0.0
    unguarded = short.model_copy(update={"calib_min_span_db": 0.0})
    assert load_calibration(calib_store, unguarded, WINDOW.start).offset("E1") == learning.calib_min_offset_db


def test_tolerance_and_clamp(learning: Settings) -> None:
    ref, tol = learning.calib_reference_dbm, learning.calib_tolerance_db
    assert offset_for(learning, 50, ref + tol - 0.5) == (pytest.approx(tol - 0.5), 0.0, "ready")
    assert offset_for(learning, 50, ref - tol - 0.5)[1] == pytest.approx(-tol - 0.5)
    assert offset_for(learning, 50, ref - 35)[1] == learning.calib_min_offset_db  # clamped
    assert offset_for(learning, 50, ref + 9)[1] == learning.calib_max_offset_db  # never tightens by default
    assert offset_for(learning, learning.calib_min_devices - 1, ref - 12)[1:] == (0.0, "learning")
    assert offset_for(learning, 50, None) == (None, 0.0, "learning")


def test_off_means_no_offsets(calib_store: Store, learning: Settings) -> None:
    assert load_calibration(calib_store, _off(learning), WINDOW.start).sensors == {}


def test_learning_is_on_by_default_and_pins_apply_without_it(calib_store: Store, learning: Settings) -> None:
    assert Settings.model_fields["calib_learn"].default is True
    pinned = _off(learning).model_copy(update={"calib_sensor_offsets": {"S1": -14.0}})
    cal = load_calibration(calib_store, pinned, WINDOW.start)
    assert {k: (v.offset_db, v.state) for k, v in cal.sensors.items()} == {"S1": (-14.0, "pinned")}


def test_best_sensor_compares_readings_on_one_scale() -> None:
    """A device heard at -70 by a sensor reading 14 dB weak beside it and at -60 by a normal one across the
    room is nearest the weak one: -56 on the reference scale."""
    cal = Calibration(-52.0, sensors={"W": SensorLevel("W", 30, -66.0, -14.0, -14.0, "ready")})
    rows = pd.DataFrame({"device_id": ["d", "d", "d"], "sensor": ["W", "N", "X"], "n": [10, 10, 2],
                         "m": [-70.0, -60.0, -40.0], "sd": [1.0, 1.0, 1.0]})
    best = best_sensor(rows, cal)
    assert len(best) == 1
    row = best.iloc[0]
    assert row["sensor"] == "W" and row["m_cal"] == pytest.approx(-56.0) and row["offset"] == -14.0


# ---- the detectors -------------------------------------------------------------------------------------


def test_the_same_lingering_stranger_is_found_at_a_weak_sensor(calib_store: Store, learning: Settings) -> None:
    found = _findings(StationaryDetector(learning), calib_store)
    for folder in ("north", "south"):
        f = found[LINGERER[folder]]
        assert f.pattern == "lingering" and f.adjusted_level >= 1.0, (folder, f.against)
        assert _factor(f, "not near") is None
    south = found[LINGERER["south"]]
    assert south.evidence["rssi_mean"] == pytest.approx(LINGER_DBM + WEAK_DB, abs=1.0)  # the raw reading stays
    assert south.evidence["rssi_mean_calibrated"] == pytest.approx(LINGER_DBM, abs=2.5)
    assert south.evidence["sensor_id"] == "S1" and south.evidence["sensor_offset_db"] < 0
    assert any("calibrated (S1 reads" in r for r in south.reasons)
    assert "rssi_mean_calibrated" not in found[LINGERER["north"]].evidence
    # Without the calibration the weak sensor's stranger reads "not near" (-71 < -65) and is missed.
    off = _findings(StationaryDetector(_off(learning)), calib_store)
    assert _factor(off[LINGERER["south"]], "not near") == learning.linger_far_factor
    assert off[LINGERER["south"]].adjusted_level < 1.0
    assert off[LINGERER["north"]].adjusted_level == pytest.approx(found[LINGERER["north"]].adjusted_level)


def test_the_same_night_intruder_is_found_at_a_weak_sensor(calib_store: Store, learning: Settings) -> None:
    found = _findings(NightDetector(learning), calib_store)
    for folder in ("north", "south"):
        f = found[INTRUDER[folder]]
        assert f.evidence["judged_by"] == "folder" and f.adjusted_level >= 1.0, (folder, f.against)
        # A device behind the wall stays far on either sniffer (-90 on the reference scale; -104 raw in the south).
        assert _factor(found[NEIGHBOUR[folder]], "far") == 0.0
    south = found[INTRUDER["south"]]
    assert south.evidence["rssi_max"] < learning.night_far_rssi_dbm  # the raw reading: "far" on a fixed cut
    assert south.evidence["rssi_max_calibrated"] >= learning.night_far_rssi_dbm
    assert south.evidence["rssi_max_sensor"] == "S1"
    assert "rssi_max_calibrated" not in found[INTRUDER["north"]].evidence  # no offset in the north: no query
    off = _findings(NightDetector(_off(learning)), calib_store)
    assert _factor(off[INTRUDER["south"]], "far") == 0.0  # missed without the calibration
    assert off[INTRUDER["north"]].adjusted_level == pytest.approx(found[INTRUDER["north"]].adjusted_level)


def test_a_run_learns_the_levels_once(calib_store: Store, learning: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    real = calibration_module.sensor_blocks

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["sensor_levels"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(calibration_module, "sensor_blocks", counted)
    assert context_module.load_calibration is calibration_module.load_calibration
    run = run_detection(calib_store, learning, hours=24, until=WINDOW.end, detectors=["night", "stationary"],
                        save=False)
    assert run.errors == {}
    assert calls["sensor_levels"] == 1
    found = {a.device_id for a in run.anomalies if a.anomaly_type in ("night_activity", "stationary_surveillance")}
    assert {INTRUDER["south"], LINGERER["south"], INTRUDER["north"], LINGERER["north"]} <= found


def test_an_operator_pins_a_sensor(calib_store: Store, learning: Settings) -> None:
    """CALIB_SENSOR_OFFSETS replaces the learned offset: pinned at 0, the weak sensor is judged on the fixed
    cuts again (its stranger reads "not near"); a pinned sensor with no data is listed all the same."""
    pinned = learning.model_copy(update={"calib_sensor_offsets": {"S1": 0.0, "N1": -3.0, "X9": -7.0}})
    cal = load_calibration(calib_store, pinned, WINDOW.start)
    assert cal.sensors["S1"].state == "pinned" and cal.offset("S1") == 0.0
    assert cal.sensors["S1"].measured_db is not None and cal.sensors["S1"].measured_db < -10  # still shown
    assert cal.offset("N1") == -3.0 and cal.offset("X9") == -7.0 and cal.sensors["X9"].dwellers == 0
    found = _findings(StationaryDetector(pinned), calib_store)
    assert _factor(found[LINGERER["south"]], "not near") == learning.linger_far_factor


@pytest.mark.parametrize("text", ["S1", "S1=", "=-3", "S1=weak", "S1=-55", "S1=nan"])
def test_pinned_offsets_that_are_not_sensor_db_pairs_are_refused(learning: Settings, text: str) -> None:
    with pytest.raises(ValidationError, match="sensor=dB pairs"):
        Settings(**{**learning.model_dump(), "calib_sensor_offsets": text})


def test_pinned_offsets_are_read_from_text(learning: Settings) -> None:
    parsed = Settings(**{**learning.model_dump(), "calib_sensor_offsets": " S1=-14, position_1 = 0 ,"})
    assert parsed.calib_sensor_offsets == {"S1": -14.0, "position_1": 0.0}


def test_returning_judges_each_day_near_on_the_reference_scale(calib_store: Store, learning: Settings) -> None:
    """Returning's day-by-day "near" (`_near_days`) picks each day's best sensor on corrected means: a
    device at a desk beside the weak sniffer (-60 dBm on the reference scale, -74 raw) is near on every day
    of the look-back with learning on, and near on none without it (-74 < RETURN_NEAR_RSSI_DBM -70)."""
    from santiway_anomaly.detectors.stationary_common import Context
    from santiway_anomaly.detectors.stationary_returning import _near_days

    k = int(np.argmin(np.abs(DESKS - (-60.0))))
    device = STAFF["south"][k]
    days = [(T0 + d * DAY).date().isoformat() for d in range(7, 12)]  # Monday..Friday of the look-back

    def judged(settings: Settings) -> Finding:
        f = Finding(device, WINDOW.start, WINDOW.end, 3.0, 5.0, "returning", evidence={"days": days},
                    device_id=device, folder="south")
        ctx = Context(calib_store, settings.model_copy(update={"timezone": "UTC"}), WINDOW, {})
        _near_days(ctx, [f], T0 + 7 * DAY, T0 + 12 * DAY)
        return f

    on = judged(learning)
    assert on.evidence["days_near"] == len(days) and _factor(on, "near the spot") is None
    off = judged(_off(learning))
    assert off.evidence["days_near"] == 0 and _factor(off, "near the spot") == 0.0
