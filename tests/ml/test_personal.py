"""The personal baseline (ml/personal.py): planted changes rank first, the budget line holds its rate."""

from __future__ import annotations

import numpy as np
import pytest

from santiway_anomaly.ml import personal
from santiway_anomaly.ml.personal import FEATURE_NAMES, BudgetCalibration

N_FEAT = len(FEATURE_NAMES)


def _history(rng: np.random.Generator, n: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Devices with their own level per feature (population spread >> day-to-day noise)."""
    level = rng.normal(0, 10, (n, N_FEAT))
    hist = level[:, None, :] + rng.normal(0, 1, (n, days, N_FEAT)) * personal.FLOORS
    return level, hist


def test_planted_changes_rank_above_every_normal_device() -> None:
    rng = np.random.default_rng(0)
    level, hist = _history(rng, 200, 10)
    med, scale, n = personal.robust_baseline(hist)
    assert (n == 10).all()
    today = level + rng.normal(0, 1, (200, N_FEAT)) * personal.FLOORS
    changed = [3, 50, 120]
    scored = np.flatnonzero(personal.SCORED)
    for k, i in enumerate(changed):  # three features move by 5 of the device's own units
        today[i, scored[[k, k + 1, k + 2]]] += 5 * scale[i, scored[[k, k + 1, k + 2]]]
    raw = personal.raw_score(personal.zscores(today, med, scale))
    assert set(np.argsort(-raw)[:3]) == set(changed)


def test_unusual_but_unchanged_devices_do_not_stand_out() -> None:
    """Personal: a device far from the population but like itself scores low."""
    rng = np.random.default_rng(1)
    level, hist = _history(rng, 100, 10)
    level[7] += 1000  # the population's outlier, every day
    hist[7] += 1000
    med, scale, _ = personal.robust_baseline(hist)
    today = level + rng.normal(0, 1, (100, N_FEAT)) * personal.FLOORS
    raw = personal.raw_score(personal.zscores(today, med, scale))
    assert raw[7] < np.quantile(raw, 0.99)


def test_floor_keeps_a_constant_fixture_quiet() -> None:
    hist = np.ones((1, 10, N_FEAT))  # MAD = 0
    med, scale, _ = personal.robust_baseline(hist)
    assert (scale[0] == personal.FLOORS).all()
    tiny = np.ones((1, N_FEAT)) + 0.1 * personal.FLOORS
    assert personal.raw_score(personal.zscores(tiny, med, scale))[0] == pytest.approx(0.1)


def test_budget_line_holds_its_rate_on_held_out_normal_data() -> None:
    """Fitted on one sample of normal scores, the line leaves about budget/1000 of another above it."""
    rng = np.random.default_rng(2)
    fit_on = rng.gamma(2.0, 0.5, 20_000)
    held_out = rng.gamma(2.0, 0.5, 200_000)
    for budget in (1.0, 10.0):
        cal = BudgetCalibration.fit(fit_on, budget, min_line=0.1)
        rate = float((held_out > cal.line).mean()) * 1000
        assert budget / 3 <= rate <= budget * 3, (budget, rate)
        lv = cal.level(np.array([cal.line, cal.line + cal.step, cal.line + 2 * cal.step]))
        assert lv == pytest.approx([1.0, 2.0, 3.0])


def test_budget_defaults_without_enough_held_out_days_and_bad_budget() -> None:
    cal = BudgetCalibration.fit(np.array([0.5, 1.0]), 1.0, min_line=3.0)
    assert cal.n_holdout == 2 and cal.line == pytest.approx(max(personal.DEFAULT_LINE, 3.0))
    tiny = np.random.default_rng(3).uniform(0, 0.01, 10_000)
    assert BudgetCalibration.fit(tiny, 1.0, min_line=3.0).line == 3.0  # never below the floor
    with pytest.raises(ValueError, match="budget"):
        BudgetCalibration.fit(np.zeros(10), 0.0, min_line=3.0)


def test_off_hours_tolerates_a_split_night_shift() -> None:
    bits = np.zeros((1, 6, 24), dtype=bool)
    bits[0, :5, [0, 1, 2, 22, 23]] = True  # a night shift across midnight
    bits[0, 5, [0, 1, 2]] = True  # today only the morning piece: still its usual hours
    usable = np.zeros((1, 6), dtype=bool)
    usable[0, :5] = True
    hours = personal.hour_masks(bits)
    assert personal.off_hours(hours, usable)[0, 5] == 0.0
    assert (personal.off_hours(hours, usable)[0, :5] == 0.0).all()  # history days, leave-one-out
    bits[0, 5] = False
    bits[0, 5, [13, 14, 15]] = True  # an afternoon instead
    assert personal.off_hours(personal.hour_masks(bits), usable)[0, 5] == 3.0
    assert np.isnan(personal.off_hours(np.zeros((1, 6), dtype=np.uint32), usable)).all()  # never active
    assert personal.hour_bits(np.array([1 | (1 << 23)]))[0, [0, 23]].all()


def test_off_hours_is_leave_one_out_on_history_days() -> None:
    bits = np.zeros((1, 6, 24), dtype=bool)
    bits[0, :5, 9:17] = True
    bits[0, 2, 20:23] = True  # one evening in its history: rare against the other days
    usable = np.array([[True] * 5 + [False]])
    assert personal.off_hours(personal.hour_masks(bits), usable)[0, 2] == 3.0
    assert personal.off_hours(personal.hour_masks(bits), usable)[0, 0] == 0.0


def test_new_folders_counts_places_never_visited_on_other_days() -> None:
    a, b, c = np.uint64(1 << 3), np.uint64(1 << 17), np.uint64(1 << 40)
    masks = np.array([[a, a, a | b, a, a | b | c]], dtype=np.uint64)
    usable = np.array([[True, True, True, True, False]])
    got = personal.new_folders(masks, usable)[0]
    assert got.tolist() == [0.0, 0.0, 1.0, 0.0, 1.0]  # b once in history is new there; today only c is new


def test_heavy_tailed_history_widens_the_scale() -> None:
    calm = np.full((1, 13, N_FEAT), 0.0)
    calm[0, :, personal.FEATURE_NAMES.index("rssi_mean")] = [-64, -65, -64, -64, -66, -64, -65, -64, -63, -64,
                                                             -65, -64, -64]
    wild = calm.copy()
    wild[0, [2, 5, 7, 11], personal.FEATURE_NAMES.index("rssi_mean")] = [-71, -70, -58, -57]
    i = personal.FEATURE_NAMES.index("rssi_mean")
    _, scale_calm, _ = personal.robust_baseline(calm)
    _, scale_wild, _ = personal.robust_baseline(wild)
    assert scale_calm[0, i] == personal.FLOORS[i]
    assert scale_wild[0, i] > 2 * scale_calm[0, i]


def test_explanations_speak_in_the_devices_own_terms() -> None:
    names = list(FEATURE_NAMES)
    usual = np.zeros(N_FEAT)
    today = np.zeros(N_FEAT)
    usual[names.index("sightings_per_hour")] = np.log(20)
    today[names.index("sightings_per_hour")] = np.log(62)
    usual[names.index("rssi_mean")], today[names.index("rssi_mean")] = -70, -60
    usual[names.index("first_hour")], usual[names.index("last_hour")] = 9, 17
    today[names.index("first_hour")], today[names.index("last_hour")] = 3, 6
    today[names.index("off_hours")] = 4.0
    z = personal.zscores(today[None], usual[None], personal.FLOORS[None])[0]
    texts = " | ".join(e["text"] for e in personal.explain(today, usual, z, top=3))
    assert "3.1x its usual sightings per hour" in texts
    assert "10 dB stronger than usual" in texts
    assert "active 03:00-07:00 instead of 09:00-18:00" in texts


def test_shifted_hours_sees_a_moved_day_not_a_long_or_short_one() -> None:
    bits = np.zeros((1, 9, 24), dtype=bool)
    bits[0, :6, 8:17] = True  # 08:00-17:00 on its history days
    bits[0, 6, 13:22] = True  # moved by five hours
    bits[0, 7, 8:21] = True  # a long day
    bits[0, 8, 8:12] = True  # a short day
    usable = np.array([[True] * 6 + [False] * 3])
    got = personal.shifted_hours(personal.hour_masks(bits), usable)[0]
    assert got[6] == 5.0 and got[7] == 0.0 and got[8] == 0.0
    assert (got[:6] == 0.0).all()


def test_a_shift_every_device_shares_is_not_personal() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(0, 1, (200, N_FEAT))
    z[:, 0] += 5.0  # everyone's sightings tripled (a scanner firmware)
    z[7, 2] += 6.0  # one device also moved
    raw = personal.raw_score(personal.remove_shared_shift(z))
    assert int(np.argmax(raw)) == 7 and np.quantile(raw, 0.5) < 2.0
    few = z[:10]
    assert (personal.remove_shared_shift(few) == few).all()  # too few devices to know what is shared


def test_an_early_start_into_the_usual_day_is_a_long_day_not_odd_hours() -> None:
    bits = np.zeros((1, 8, 24), dtype=bool)
    bits[0, :6, 9:20] = True  # 09:00-20:00 on its six history days
    bits[0, 6, 5:20] = True  # came at 05:xx and stayed its usual day
    bits[0, 7, [2, 3, 4, 5, 12, 13]] = True  # 02:00-06:00 apart from its day, then a short afternoon
    usable = np.array([[True] * 6 + [False, False]])
    off, shifted = personal.schedule_hours(personal.hour_masks(bits), usable)
    assert off[0, 6] == 0.0 and shifted[0, 6] == 0.0  # active_hours judges a long day
    assert off[0, 7] == 4.0  # a block at hours it is never seen at stays whole
    assert personal.off_hours(personal.hour_masks(bits), usable)[0, 7] == 4.0
    # a night shift running through midnight is one stretch: an hour added at its end is attached
    night = np.zeros((1, 6, 24), dtype=bool)
    night[0, :, [22, 23, 0, 1, 2, 3]] = True
    night[0, 5, 4] = True
    off_n, _ = personal.schedule_hours(personal.hour_masks(night), np.array([[True] * 5 + [False]]))
    assert off_n[0, 5] == 0.0
