"""Places: a device seen in a folder it has never visited is unlike itself, in a site of three
folders as in one of thirty (issue 12; the floor of `new_folders` in ml/personal.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import Window
from santiway_anomaly.detectors.ml_behavior import MLBehaviorDetector
from santiway_anomaly.detectors.runner import run_detection
from santiway_anomaly.storage import Store
from tests.conftest import SharedStore
from tests.detectors.world import truncate_data
from tests.ml.synth import T0, site

DAYS = 12
END = T0 + timedelta(days=DAYS)


@pytest.fixture(scope="module")
def three_folders(shared_store: SharedStore) -> Iterator[tuple[Store, Settings, dict[str, str]]]:
    st = shared_store.get()
    truncate_data(st)
    table, roles = site(days=DAYS, move_days=3, seed=11)
    st.insert_arrow("santi.way_data", table)
    yield st, shared_store.settings, roles
    truncate_data(st)


def test_a_device_in_a_never_visited_folder_is_flagged_and_ordinary_devices_are_not(
        three_folders: tuple[Store, Settings, dict[str, str]]) -> None:
    st, settings, roles = three_folders
    run = run_detection(st, settings, hours=72, until=END, detectors=["ml"], save=False)
    assert not run.errors and not run.skipped
    flagged = {a.device_id for a in run.anomalies}
    assert flagged == {roles["mover"]}  # not the 34 that stayed home, not the one that always wanders
    mover = [a for a in run.anomalies if a.device_id == roles["mover"]]
    assert "1 folder it has never visited" in " ".join(mover[0].details["reasons"])


def test_one_new_folder_outscores_the_line_and_wandering_history_widens_the_scale(
        three_folders: tuple[Store, Settings, dict[str, str]]) -> None:
    st, settings, roles = three_folders
    det = MLBehaviorDetector(settings).fit(st, Window(END - timedelta(hours=72), END))
    by_device = det.scores_.groupby("device_id")["raw"].max()
    assert (det.scores_[det.scores_["device_id"] == roles["mover"]]["level"] >= 1).all()  # all three days
    assert by_device[roles["mover"]] >= det.calibration_.line + 0.5
    assert by_device[roles["wanderer"]] < det.calibration_.line  # a new folder again: its own habit
