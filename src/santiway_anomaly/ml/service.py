"""What the API calls: model status and metadata, one device's score, one device's explanation.

    model_status(settings) -> (loaded: bool, reason: str)              no torch import
    model_metadata(settings) -> (metadata dict | None, reason: str)    no torch import
    score_device(store, settings, device_id, until=None) -> dict
    explain_device(store, settings, device_id, hours=24, until=None) -> list[dict]

`score_device` and `explain_device` raise `ModelUnavailableError` (no model / size mismatch) and
`LookupError` (the device has no sightings in the window).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from santiway_anomaly.config import Settings
from santiway_anomaly.features.builder import FeatureFrame, hour_floor
from santiway_anomaly.features.catalog import BY_NAME
from santiway_anomaly.ml.model_files import model_metadata, model_status
from santiway_anomaly.storage.queries.features import device_last_hour
from santiway_anomaly.storage.store import Store

__all__ = ["explain_device", "model_metadata", "model_status", "score_device"]


def _device_window_end(store: Store, device_id: str, until: datetime | None) -> datetime:
    """End of the window to judge: `until`, or the end of the device's last seen hour."""
    if until is not None:
        return until
    last = device_last_hour(store, device_id)
    if last is None:
        raise LookupError(f"device {device_id} has no sightings in the store")
    return hour_floor(last) + timedelta(hours=1)


def _device_frame(store: Store, settings: Settings, device_id: str, until: datetime | None) -> tuple[Any, FeatureFrame]:
    from santiway_anomaly.ml.scoring import latest_windows, load_model

    model = load_model(settings)
    end = _device_window_end(store, device_id, until)
    frame = latest_windows(store, settings, model, end, device_ids=[device_id])
    count = frame.values[0, :, frame.names.index("event_count")].sum() if len(frame.device_ids) else 0
    if count <= 0:
        raise LookupError(f"device {device_id} has no sightings in the {len(frame.hours)} hours before {end}")
    return model, frame


def score_device(store: Store, settings: Settings, device_id: str, until: datetime | None = None) -> dict[str, Any]:
    """Score one device's latest window: raw and calibrated score, severity, thresholds, top features."""
    from santiway_anomaly.ml.scoring import score_frame

    model, frame = _device_frame(store, settings, device_id, until)
    row = score_frame(model, frame, settings.ml_top_features).iloc[0]
    return {
        "device_id": device_id,
        "raw_score": float(row["raw_score"]),
        "score": float(row["score"]),
        "severity": row["severity"],
        "is_anomaly": bool(row["raw_score"] > model.thresholds["p95"]),
        "thresholds": {"p95": model.thresholds["p95"], "p99": model.thresholds["p99"]},
        "top_features": row["top_features"],
        "model_version": model.version,
        "window_start": frame.hours[0].to_pydatetime(),
        "window_end": (frame.hours[-1] + timedelta(hours=1)).to_pydatetime(),
    }


def explain_device(store: Store, settings: Settings, device_id: str, hours: int = 24,
                   until: datetime | None = None) -> list[dict[str, Any]]:
    """SHAP-style attribution of each feature to the device's latest window score, largest |value| first.

    `hours` must equal the model's window size (24 by default): the model judges whole windows.
    """
    from santiway_anomaly.ml.explain import explain_window

    model, frame = _device_frame(store, settings, device_id, until)
    window = int(model.metadata.get("window_size", settings.window_size))
    if hours != window:
        raise ValueError(f"hours must equal the model's window size ({window}), got {hours}")
    X = frame.select(model.feature_names)[0]
    attr = explain_window(model.detector, X)
    rows = [{"feature": name, "group": BY_NAME[name].group, "description": BY_NAME[name].definition,
             "unit": BY_NAME[name].unit, "value": float(X[:, i].mean()), "last_hour_value": float(X[-1, i]),
             "attribution": float(attr[i])}
            for i, name in enumerate(model.feature_names)]
    return sorted(rows, key=lambda r: abs(r["attribution"]), reverse=True)
