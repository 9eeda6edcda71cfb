"""The rule detectors on a hand-built world (conftest.py): in the style of scikit-learn's
`test_iforest_works`, each planted anomaly must score above every normal subject, and the hard
negatives (night-shift staff, fixtures, an early arrival, rotating randomized MACs, a crowd at a bus
stop and on a bus, the sensor carrier's own watch, a regular visitor) must not alarm."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import Window, build
from santiway_anomaly.detectors.density import DensityDetector
from santiway_anomaly.detectors.night import NightDetector
from santiway_anomaly.detectors.stationary import StationaryDetector
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.queries.known import add_known, remove_known
from tests.detectors.conftest import (
    COMPANION,
    CROWD,
    FOLLOWER,
    LINGERER,
    NIGHT_INTRUDER_NEW,
    NIGHT_NEW_BUSY,
    NIGHT_SHIFT,
    PASSENGERS,
    PRINTER,
    REGULAR_VISITOR,
    RETURNER,
    SCORED_DAY,
    STAFF,
    WAREHOUSE_STAFF,
)
from tests.detectors.world import DAY, T0

WINDOW = Window(T0 + SCORED_DAY * DAY, T0 + (SCORED_DAY + 1) * DAY)


def _max_score(scored: pd.DataFrame, exclude: set[str]) -> float:
    rest = scored[~scored["subject"].isin(exclude)]
    return float(rest["score"].max()) if not rest.empty else 0.0


# ---- density ---------------------------------------------------------------------------------


def test_density_planted_crowd_ranks_above_every_normal_hour(world_store: Store, settings: Settings) -> None:
    det = DensityDetector(settings).fit(world_store, WINDOW)
    scored = det.hourly(world_store, WINDOW)
    scored = scored[scored["folder"] != "street"]  # the moving sensor's folder (its bus stop crowd is real)
    crowd_hour = pd.Timestamp(WINDOW.start + timedelta(hours=12))
    planted = scored[(scored["folder"] == "lobby") & (scored["hour"] == crowd_hour)]
    others = scored.drop(planted.index)
    assert float(planted["score"].iloc[0]) >= 0.5
    assert float(planted["score"].iloc[0]) > float(others["score"].max())
    alarms = list(det.alarms(list(planted["finding"]) + list(others["finding"]), WINDOW))
    assert [(a.folder, a.window_start.hour) for a in alarms] == [("lobby", 12)]
    d = alarms[0].details
    assert d["unique_devices"] >= 70 and d["p95_baseline"] > 10 and d["baseline"] == "same_hour"
    assert d["pattern"] == "crowd" and d["reasons"] and d["state"] == "ready"


def test_density_rotating_randomized_macs_are_not_a_crowd(world_store: Store, settings: Settings) -> None:
    det = DensityDetector(settings).fit(world_store, WINDOW)
    scored = det.hourly(world_store, WINDOW)
    row = scored[(scored["folder"] == "lobby") & (scored["hour"] == pd.Timestamp(WINDOW.start + timedelta(hours=15)))]
    # 10 phones x 12 MACs: the raw count is huge, the robust count is not.
    assert int(row["unique_devices"].iloc[0]) >= 120
    assert int(row["randomized_peak"].iloc[0]) <= 12
    assert float(row["score"].iloc[0]) < 0.5


def test_density_a_crowd_in_history_does_not_become_the_baseline(world_store: Store, settings: Settings) -> None:
    """The next day is judged against a quantile over covered days: one crowd hour in it barely moves it."""
    next_day = Window(WINDOW.end, WINDOW.end + DAY)
    det = DensityDetector(settings).fit(world_store, next_day)
    lobby_noon, n = det.baseline_["lobby"]["same_hour"][12]
    assert n >= 5 and lobby_noon < 25  # the 78-device hour is in the history, not in the baseline


def test_density_learning_folder_and_restart_hour_raise_nothing(world_store: Store, settings: Settings) -> None:
    strict = settings.model_copy(update={"learning_min_days": 60})
    det = DensityDetector(strict).fit(world_store, WINDOW)
    scored = det.hourly(world_store, WINDOW)
    assert set(scored["state"]) == {"learning"} and det.alarms(list(scored["finding"]), WINDOW) == []
    vetoed = scored[scored["folder"] == "lobby"]["finding"].iloc[0]
    assert any(a.factor == 0 and "learning" in a.reason for a in vetoed.against)


def test_density_loo_quantiles_match_numpy() -> None:
    import numpy as np

    from santiway_anomaly.detectors.density import loo_quantiles

    values = np.array([3.0, 9.0, 1.0, 7.0, 7.0, 30.0, 2.0])
    expected = [np.quantile(np.delete(values, i), 0.95, method="lower") for i in range(len(values))]
    assert np.allclose(loo_quantiles(values, 0.95), expected)


def test_density_levels_refused_at_load_settings() -> None:
    from santiway_anomaly.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match="DENSITY_RATIO_ALARM < DENSITY_RATIO_WARNING"):
        load_settings(density_ratio_alarm=3.0, density_ratio_warning=2.0)


def test_density_rejects_bad_levels(world_store: Store, settings: Settings) -> None:
    bad = settings.model_copy(update={"density_ratio_warning": 1.5})
    with pytest.raises(ValueError, match="DENSITY_RATIO"):
        DensityDetector(bad).fit(world_store, WINDOW)


# ---- night -----------------------------------------------------------------------------------


def _night_against(scored: pd.DataFrame, device: str) -> str:
    finding = scored.loc[scored["subject"] == device, "finding"].iloc[0]
    return " ".join(finding.details()["against"])


def test_night_planted_devices_rank_above_every_normal_device(world_store: Store, settings: Settings) -> None:
    det = NightDetector(settings).fit(world_store, WINDOW)
    scored = det.score(world_store, WINDOW)
    # A new device at night is an intruder even in the office, busy with its night shift (issue 11 item 5).
    planted = {STAFF[0], NIGHT_INTRUDER_NEW, NIGHT_NEW_BUSY}
    top = scored[scored["subject"].isin(planted)]
    assert len(top) == 3
    assert float(top["score"].min()) > _max_score(scored, planted)
    alarms = det.alarms(scored, WINDOW)
    assert {a.device_id for a in alarms} == planted
    by_device = {a.device_id: a for a in alarms}
    assert by_device[STAFF[0]].details["judged_by"] == "device"
    assert by_device[NIGHT_INTRUDER_NEW].details["judged_by"] == "folder"
    assert by_device[STAFF[0]].window_start == WINDOW.start
    assert by_device[STAFF[0]].window_end == WINDOW.start + timedelta(hours=6)
    # The office's night shift says nothing about a device none of them is: judged as in the quiet warehouse.
    assert by_device[NIGHT_NEW_BUSY].details["against"] == []
    assert by_device[NIGHT_NEW_BUSY].score == by_device[NIGHT_INTRUDER_NEW].score


def test_night_hard_negatives_do_not_alarm(world_store: Store, settings: Settings) -> None:
    det = NightDetector(settings).fit(world_store, WINDOW)
    scored = det.score(world_store, WINDOW)
    score = scored.set_index("subject")["score"]
    for device in [*NIGHT_SHIFT, PRINTER, STAFF[1]]:
        assert float(score[device]) < 0.5, device
    assert "early arrival" in _night_against(scored, STAFF[1])
    assert "a night device" in _night_against(scored, NIGHT_SHIFT[0])
    assert "a night device" in _night_against(scored, PRINTER)  # always on, so heard every night


# ---- stationary ------------------------------------------------------------------------------


def test_stationary_planted_devices_rank_above_every_normal_device(world_store: Store, settings: Settings) -> None:
    det = StationaryDetector(settings).fit(world_store, WINDOW)
    scored = det.score(world_store, WINDOW)
    planted = {LINGERER, RETURNER, FOLLOWER}
    top = scored[scored["subject"].isin(planted)]
    assert len(top) == 3
    assert float(top["score"].min()) > _max_score(scored, planted)
    alarms = {a.device_id: a for a in det.alarms(scored, WINDOW)}
    assert set(alarms) == planted
    assert alarms[LINGERER].details["pattern"] == "lingering"
    assert alarms[RETURNER].details["pattern"] == "returning"
    assert alarms[FOLLOWER].details["pattern"] == "following"
    follow = alarms[FOLLOWER].details
    assert follow["locations"] >= 4 and follow["minutes"] >= 90
    assert 4.5 <= alarms[LINGERER].details["dwell_hours"] <= 5.1
    assert alarms[LINGERER].window_start == WINDOW.start and alarms[LINGERER].window_end == WINDOW.end


def _against(scored: pd.DataFrame, device: str) -> str:
    finding = scored.set_index("subject").loc[device, "finding"]
    return " ".join(a.reason for a in finding.against)


def test_stationary_hard_negatives_do_not_alarm(world_store: Store, settings: Settings) -> None:
    det = StationaryDetector(settings).fit(world_store, WINDOW)
    alarms = {a.device_id for a in det.detect(world_store, WINDOW)}
    negatives = {PRINTER, REGULAR_VISITOR, COMPANION, *STAFF, *NIGHT_SHIFT, *WAREHOUSE_STAFF, *PASSENGERS, *CROWD}
    assert not alarms & negatives
    scored = det.score(world_store, WINDOW)
    assert PRINTER not in set(scored["subject"])  # known to the site (there every day): never a lingering suspect
    assert "crowd" in _against(scored, PASSENGERS[0])
    assert "companion" in _against(scored, COMPANION)


def test_allowlist_silences_a_device(world_store: Store, settings: Settings) -> None:
    add_known(world_store, [LINGERER], reason="stationary_surveillance", note="test")
    try:
        alarms = {a.device_id for a in build("stationary", settings=settings).detect(world_store, WINDOW)}
        assert LINGERER not in alarms and FOLLOWER in alarms
    finally:
        remove_known(world_store, [LINGERER], reason="stationary_surveillance")
    alarms = {a.device_id for a in build("stationary", settings=settings).detect(world_store, WINDOW)}
    assert LINGERER in alarms


def test_scores_are_calibrated(world_store: Store, settings: Settings) -> None:
    for name in ("density", "night", "stationary"):
        det = build(name, settings=settings).fit(world_store, WINDOW)
        scored = det.score(world_store, WINDOW)
        assert scored["score"].between(0, 1).all(), name
        for a in det.alarms(scored, WINDOW):
            assert 0.5 <= a.score <= 1 and a.details["reasons"], (name, a)


def test_fixtures_are_learned_not_hard_coded(world_store: Store, settings: Settings) -> None:
    from santiway_anomaly.storage.queries.known import learn_fixtures

    fixtures = learn_fixtures(world_store, settings, WINDOW.start)
    assert PRINTER in fixtures and fixtures[PRINTER]["hour_share"] >= 0.9
    assert not set(fixtures) & {*STAFF, *NIGHT_SHIFT, REGULAR_VISITOR}
    assert set(learn_fixtures(world_store, settings, WINDOW.start, [PRINTER, STAFF[0]])) == {PRINTER}


def test_density_vectorised_baseline_matches_a_plain_loop(settings: Settings) -> None:
    import numpy as np

    from santiway_anomaly.detectors.density import loo_quantiles, quantile

    rng = np.random.default_rng(5)
    rows = [{"folder": f, "local_hour": h, "local_day": d, "robust_devices": float(rng.poisson(20 if h > 8 else 3)),
             "hour": None} for f in ("a", "b") for d in range(14) for h in range(24) if rng.random() > 0.1]
    samples = pd.DataFrame(rows)
    samples.loc[samples.sample(frac=0.02, random_state=1).index, "robust_devices"] = 90.0  # a few crowds
    det = DensityDetector(settings.model_copy(update={"density_min_excess": 5}))
    baseline, lines = det._baseline(samples)
    q = settings.density_quantile
    for folder, part in samples.groupby("folder"):
        loo = np.full(len(part), np.nan)
        for hour, group in part.groupby("local_hour"):
            v = group["robust_devices"].to_numpy()
            if len(v) >= settings.density_min_same_hour_days:
                assert baseline[folder]["same_hour"][hour] == (quantile(v, q), len(v))
                loo[part.index.get_indexer(group.index)] = loo_quantiles(v, q)
        naive = det._budget_line(part["robust_devices"].to_numpy(), loo, part["local_day"].to_numpy(), 14)
        assert lines[folder] == naive > settings.density_ratio_alarm
