"""The runner: idempotent storage, one failing detector does not stop the others, names checked."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.base import REGISTRY, Detector, Window
from santiway_anomaly.detectors.runner import run_detection
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.anomalies import AnomalyFilter, count_anomalies
from tests.detectors.test_rule_detectors import WINDOW


class _Broken(Detector):
    name = "broken"
    anomaly_type = "density_spike"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def fit(self, store: Store, window: Window) -> _Broken:
        raise RuntimeError("boom")

    def score(self, store: Store, window: Window) -> pd.DataFrame:
        raise AssertionError("not reached")

    def alarms(self, scored: pd.DataFrame, window: Window) -> list[Anomaly]:
        raise AssertionError("not reached")


@pytest.fixture()
def broken_registered() -> Iterator[None]:
    REGISTRY["broken"] = _Broken
    yield
    REGISTRY.pop("broken", None)


def test_detection_is_idempotent(world_store: Store, settings: Settings) -> None:
    world_store.command("TRUNCATE TABLE anomaly_ml.anomalies")
    names = ["density", "night", "stationary"]
    first = run_detection(world_store, settings, hours=24, until=WINDOW.end, detectors=names)
    assert first.errors == {} and set(first.timings) == set(names)
    assert len(first.new) == len(first.anomalies) >= 7
    stored = count_anomalies(world_store, AnomalyFilter())
    second = run_detection(world_store, settings, hours=24, until=WINDOW.end, detectors=names)
    assert len(second.anomalies) == len(first.anomalies)
    assert second.new == []
    assert count_anomalies(world_store, AnomalyFilter()) == stored
    types = {a.anomaly_type for a in first.anomalies}
    assert types == {"density_spike", "night_activity", "stationary_surveillance"}


def test_one_failing_detector_does_not_stop_the_others(world_store: Store, settings: Settings,
                                                       broken_registered: None) -> None:
    run = run_detection(world_store, settings, hours=24, until=WINDOW.end, detectors=["broken", "night"])
    assert "boom" in run.errors["broken"]
    assert "night" in run.timings and "night" not in run.errors
    assert {a.anomaly_type for a in run.anomalies} == {"night_activity"}


def test_unknown_detector_is_rejected_before_running(world_store: Store, settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        run_detection(world_store, settings, hours=24, until=WINDOW.end, detectors=["density", "nope"])
    with pytest.raises(ValueError):
        run_detection(world_store, settings, hours=0, until=WINDOW.end)


def test_default_runs_every_registered_detector(world_store: Store, settings: Settings) -> None:
    run = run_detection(world_store, settings, hours=24, until=WINDOW.end)
    ran = set(run.timings)
    assert {"density", "night", "stationary"} <= ran
    # The ML detector, when registered, either ran or was skipped with its reason; never an error
    # for a missing model.
    for name in ran - {"density", "night", "stationary"}:
        assert name in run.skipped or name not in run.errors or run.errors[name]
