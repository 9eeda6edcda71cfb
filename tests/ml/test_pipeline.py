"""Training, model files, the ml_behavior detector, the service and explanations, on the real store."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.runner import run_detection
from santiway_anomaly.ml.errors import ModelUnavailableError
from santiway_anomaly.ml.model_files import ModelPaths, model_metadata, model_status, rollback
from santiway_anomaly.ml.service import explain_device, score_device
from santiway_anomaly.ml.training import TrainConfig, train
from santiway_anomaly.storage import Store
from tests.conftest import SharedStore
from tests.detectors.world import truncate_data
from tests.ml.synth import T0, office

pytestmark = pytest.mark.slow

DAYS = 10
UNTIL = T0 + timedelta(days=DAYS - 1)  # train on the days before the change
SCORED_END = T0 + timedelta(days=DAYS)


@pytest.fixture(scope="module")
def world(shared_store: SharedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Settings,
                                                                                                 list[str]]]:
    st = shared_store.get()
    truncate_data(st)
    table, _, changed = office(n_devices=24, days=DAYS, changed=2, change_days=1, seed=3)
    st.insert_arrow("santi.way_data", table)
    models = tmp_path_factory.mktemp("models")
    settings = shared_store.settings.model_copy(update={
        "model_path": models / "tcn_model.pt", "feature_history_hours": 48, "train_patience": 4})
    yield st, settings, changed
    truncate_data(st)


def _cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"days": DAYS - 1, "epochs": 25, "until": UNTIL, "hidden": 16, "levels": 2,
                               "batch_size": 16, "device": "cpu", "seed": 7, "verbose": False}
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(world: tuple[Store, Settings, list[str]]) -> dict[str, object]:
    st, settings, _ = world
    return train(st, settings, _cfg())


def test_training_writes_model_and_metadata(world: tuple[Store, Settings, list[str]],
                                            trained: dict[str, object]) -> None:
    _, settings, _ = world
    paths = ModelPaths.from_settings(settings)
    assert paths.model.exists() and paths.model.stat().st_size <= 5 * 1024 * 1024
    meta = json.loads(paths.metadata.read_text())
    assert meta == trained
    assert meta["input_channels"] == 98 and len(meta["feature_names"]) == 98
    assert len(meta["normalization"]["mean"]) == 98 and len(meta["normalization"]["std"]) == 98
    assert 0 < meta["thresholds"]["p95"] <= meta["thresholds"]["p99"]
    assert meta["window_size"] == 24 and meta["data_source"] == "production_way_data"
    assert meta["libraries"]["torch"].startswith("2.13.0")
    tr = meta["training"]
    assert tr["train_windows"] > 0 and tr["validation_windows"] > 0 and tr["devices"] == 24
    # split by time: validation starts after the training windows end, before the change day
    assert meta["data_range"]["split"] < meta["data_range"]["end"] == UNTIL.isoformat()
    assert 1 <= tr["best_epoch"] <= tr["epochs_run"] <= 25
    loaded, reason = model_status(settings)
    assert loaded, reason


def test_detector_flags_the_changed_devices(world: tuple[Store, Settings, list[str]]) -> None:
    """The personal baseline runs without any trained model and finds exactly the changed devices."""
    st, settings, changed = world
    run = run_detection(st, settings, hours=24, until=SCORED_END, detectors=["ml"], save=False)
    assert not run.errors and not run.skipped
    assert {a.device_id for a in run.anomalies} == set(changed)
    top = max(run.anomalies, key=lambda a: a.score)
    assert top.anomaly_type == "ml_behavior" and top.score >= 0.5
    assert top.window_end == SCORED_END and top.window_start == SCORED_END - timedelta(hours=24)
    d = top.details
    assert d["pattern"] == "behaviour_change" and "no TCN" in d["method"] and d["reasons"]
    assert {"feature", "today", "usual", "z", "text"} <= set(d["features"][0])
    assert d["calibration"]["budget_per_1000_device_days"] == settings.ml_budget_per_1000_devices_per_day


def test_service_scores_and_explains_one_device(world: tuple[Store, Settings, list[str]],
                                                trained: dict[str, object]) -> None:
    st, settings, changed = world
    scored = score_device(st, settings, changed[0], until=SCORED_END)
    assert scored["is_anomaly"] and scored["severity"] == "critical"
    assert scored["thresholds"]["p99"] == trained["thresholds"]["p99"]  # type: ignore[index]
    rows = explain_device(st, settings, changed[0], hours=24, until=SCORED_END)
    assert len(rows) == 98
    mags = [abs(r["attribution"]) for r in rows]
    assert mags == sorted(mags, reverse=True)
    assert set(rows[0]) == {"feature", "group", "description", "unit", "value", "last_hour_value", "attribution"}
    assert rows[0]["attribution"] > 0  # the strongest feature pushes towards "anomalous"
    with pytest.raises(ValueError, match="window size"):
        explain_device(st, settings, changed[0], hours=12, until=SCORED_END)
    with pytest.raises(LookupError):
        score_device(st, settings, "FF:FF:FF:FF:FF:FF")


def test_size_mismatch_gives_the_specification_message(world: tuple[Store, Settings, list[str]],
                                                       trained: dict[str, object]) -> None:
    st, settings, _ = world
    other = settings.model_copy(update={"input_channels": 20})
    loaded, reason = model_status(other)
    assert not loaded and "size mismatch (expected 20, got 98)" in reason and "ml/train_model.py" in reason
    with pytest.raises(ModelUnavailableError, match="INPUT_CHANNELS=98"):
        score_device(st, other, "00:20:00:00:00:00", until=SCORED_END)


def test_missing_model_still_runs_the_personal_baseline(world: tuple[Store, Settings, list[str]],
                                                         tmp_path: Path) -> None:
    st, settings, _ = world
    none = settings.model_copy(update={"model_path": tmp_path / "nothing" / "tcn_model.pt"})
    loaded, reason = model_status(none)
    assert not loaded and "Model file not found" in reason and "python ml/train_model.py" in reason
    assert model_metadata(none)[0] is None
    run = run_detection(st, none, hours=24, until=SCORED_END, save=False)
    assert "ml" not in run.skipped and {"density", "night", "stationary", "ml"} <= set(run.timings)
    assert not run.errors


def test_model_status_does_not_import_torch(tmp_path: Path) -> None:
    code = ("import sys; from santiway_anomaly.config import load_settings; "
            "from santiway_anomaly.ml.service import model_status; "
            f"print(model_status(load_settings(model_path={str(tmp_path / 'm.pt')!r}, _env_file=None))); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_retrain_backs_up_and_rollback_restores(world: tuple[Store, Settings, list[str]],
                                                trained: dict[str, object]) -> None:
    st, settings, _ = world
    paths = ModelPaths.from_settings(settings)
    second = train(st, settings, _cfg(use_extended=False, epochs=3))
    assert second["input_channels"] == 20
    assert len(paths.backups()) == 1
    stamp, kept = rollback(paths)
    assert json.loads(paths.metadata.read_text())["model_version"] == trained["model_version"]
    assert json.loads(kept.metadata.read_text())["model_version"] == second["model_version"]
    assert paths.backups() == []
    with pytest.raises(FileNotFoundError):
        rollback(paths)


def test_each_device_day_is_scored_once(world: tuple[Store, Settings, list[str]]) -> None:
    """Hourly continuous runs: the day is scored by the run whose window holds its end, and only then."""
    st, settings, changed = world
    before = run_detection(st, settings, hours=1, until=SCORED_END - timedelta(hours=1), detectors=["ml"])
    assert not before.anomalies  # the changed day is not complete yet
    first = run_detection(st, settings, hours=1, until=SCORED_END, detectors=["ml"])
    assert {a.device_id for a in first.new} == set(changed)
    after = run_detection(st, settings, hours=1, until=SCORED_END + timedelta(hours=1), detectors=["ml"])
    assert not after.anomalies
    st.command("TRUNCATE TABLE anomaly_ml.anomalies")


def test_evaluation_reports_both_methods_on_the_same_windows(world: tuple[Store, Settings, list[str]]) -> None:
    from santiway_anomaly.evaluation.truth import TruthEvent
    from santiway_anomaly.ml.evaluation import evaluate_ml

    st, settings, changed = world
    truth = [TruthEvent("ml_behavior", d, UNTIL, SCORED_END, "behaviour_change", d, "office",
                        {"changes": ["shift"]}) for d in changed]
    report = evaluate_ml(st, settings, truth, epochs=25, seed=7,
                         architecture={"hidden": 16, "levels": 2, "batch_size": 16, "n_jobs": 1})
    assert report["status"] == "ok" and report["windows"]["test"] == 24
    ae, iforest = report["methods"]["tcn_autoencoder"], report["methods"]["isolation_forest"]
    for m in (ae, iforest):
        assert m["devices"] == 24 and m["changed_devices"] == 2 and m["normal_device_days"] == 22
        assert 0.0 <= m["normal_days_above_p99"] <= 1.0
    assert ae["roc_auc"] == 1.0 and ae["recall_p99"] == 1.0
    assert ae["recall_p99_by_change"] == {"shift": 1.0}
    assert evaluate_ml(st, settings, [])["status"] == "skipped"
