"""Load the installed model and score devices' latest 24-hour windows (imports torch when called)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from santiway_anomaly.anomaly import calibrate, severity_for
from santiway_anomaly.config import Settings
from santiway_anomaly.features.builder import FeatureFrame, build_features, hour_floor
from santiway_anomaly.features.catalog import BY_NAME
from santiway_anomaly.ml.errors import ModelUnavailableError
from santiway_anomaly.ml.model_files import TRAIN_COMMAND, ModelPaths, check_compatible, read_metadata
from santiway_anomaly.storage.store import Store


@dataclass
class LoadedModel:
    detector: Any  # TCNAutoencoderDetector (typed loosely: torch stays out of this module's import)
    metadata: dict[str, Any]
    feature_names: tuple[str, ...]
    mtime: float

    @property
    def version(self) -> str:
        return str(self.metadata.get("model_version", ""))

    @property
    def thresholds(self) -> dict[str, float]:
        t = self.metadata.get("thresholds", {})
        return {"p50": float(t.get("p50", 0.0)), "p95": float(t["p95"]), "p99": float(t["p99"])}


_CACHE: dict[str, LoadedModel] = {}
_LOCK = threading.Lock()


def load_model(settings: Settings) -> LoadedModel:
    """The installed model (cached until its file changes), or ModelUnavailableError saying why."""
    paths = ModelPaths.from_settings(settings)
    if not paths.model.exists():
        raise ModelUnavailableError(f"Model file not found: {paths.model}. Train one: {TRAIN_COMMAND}")
    mtime = paths.model.stat().st_mtime
    key = str(paths.model.resolve())
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.mtime == mtime:
            problem = check_compatible(cached.metadata, settings)
            if problem:
                raise ModelUnavailableError(problem)
            return cached
        try:
            meta = read_metadata(paths)
        except (OSError, ValueError) as exc:
            raise ModelUnavailableError(f"cannot read {paths.metadata}: {exc}. Retrain: {TRAIN_COMMAND}") from exc
        if meta is None:
            raise ModelUnavailableError(f"metadata file not found: {paths.metadata}. Retrain: {TRAIN_COMMAND}")
        problem = check_compatible(meta, settings)
        if problem:
            raise ModelUnavailableError(problem)
        from santiway_anomaly.ml.estimator import TCNAutoencoderDetector

        device = settings.device
        try:
            det = TCNAutoencoderDetector.load(paths.model, device=device)
        except Exception as exc:  # a corrupt or foreign file: say so, never crash the caller
            raise ModelUnavailableError(
                f"cannot load {paths.model}: {type(exc).__name__}: {exc}. Retrain: {TRAIN_COMMAND}") from exc
        if det.n_features_in_ != int(meta["input_channels"]):
            raise ModelUnavailableError(
                f"size mismatch (expected {meta['input_channels']}, got {det.n_features_in_}): the weights and "
                f"{paths.metadata} disagree. Retrain: {TRAIN_COMMAND}")
        loaded = LoadedModel(det, meta, tuple(meta["feature_names"]), mtime)
        _CACHE[key] = loaded
        return loaded


def latest_windows(store: Store, settings: Settings, model: LoadedModel, end: datetime,
                   device_ids: list[str] | None = None) -> FeatureFrame:
    """Features of the `window_size` hours before `end` for the given (default: active) devices."""
    end = hour_floor(end + timedelta(minutes=59, seconds=59)) if end != hour_floor(end) else end
    start = end - timedelta(hours=int(model.metadata.get("window_size", settings.window_size)))
    return build_features(store, settings, start, end, device_ids=device_ids, min_events=settings.ml_min_events)


def levels(model: LoadedModel) -> tuple[float, float, float]:
    """Calibration levels (alarm, warning, critical) = validation p50, p95, p99, kept strictly increasing."""
    t = model.thresholds
    p95 = max(t["p95"], 1e-12)
    p99 = max(t["p99"], p95 * (1 + 1e-6))
    p50 = min(t["p50"], p95 * (1 - 1e-6))
    return max(p50, 0.0), p95, p99


def top_features(contrib: np.ndarray, names: tuple[str, ...], values: np.ndarray, k: int) -> list[dict[str, Any]]:
    """The k features with the largest reconstruction error: name, group, share of the score, window mean."""
    total = float(contrib.sum()) or 1.0
    order = np.argsort(-contrib)[:k]
    return [{"feature": names[i], "group": BY_NAME[names[i]].group, "contribution": round(float(contrib[i]), 6),
             "share": round(float(contrib[i]) / total, 4), "window_mean": round(float(values[:, i].mean()), 4)}
            for i in order]


def score_frame(model: LoadedModel, frame: FeatureFrame, top_k: int) -> pd.DataFrame:
    """One row per device: raw score, calibrated score, severity and top contributing features."""
    cols = ["device_id", "raw_score", "score", "severity", "top_features"]
    if len(frame.device_ids) == 0:
        return pd.DataFrame(columns=cols)
    X = frame.select(model.feature_names)
    result = model.detector.score(X)
    alarm, warning, critical = levels(model)
    calibrated = [calibrate(float(s), alarm=alarm, warning=warning, critical=critical) for s in result.scores]
    return pd.DataFrame({
        "device_id": frame.device_ids,
        "raw_score": result.scores,
        "score": calibrated,
        "severity": [severity_for(s) for s in calibrated],
        "top_features": [top_features(result.contributions[i], model.feature_names, X[i], top_k)
                         for i in range(len(X))],
    })
