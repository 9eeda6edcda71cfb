"""The API's view of the ML layer (`santiway_anomaly.ml.service`).

Without a trained model every function answers "not available" with the reason (the service's
own words: which file is missing, which command trains one); torch is only imported when a model
is actually used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.store import Store


class ModelUnavailableError(RuntimeError):
    """No model to answer with; the message says why (503)."""


def model_status(settings: Settings) -> tuple[bool, str]:
    from santiway_anomaly.ml.service import model_status as status

    loaded, reason = status(settings)
    return bool(loaded), str(reason)


def model_metadata(settings: Settings) -> dict[str, Any]:
    from santiway_anomaly.ml.service import model_metadata as metadata

    meta, _reason = metadata(settings)
    return dict(meta) if meta else {}


def _level(raw: float, p95: float, p99: float) -> str:
    return "above_p99" if raw > p99 else ("above_p95" if raw > p95 else "normal")


def device_score(store: Store, settings: Settings, device_id: str, until: datetime | None) -> dict[str, Any]:
    """The device's ML score for the model window ending at `until` (MlScorePublic shape)."""
    from santiway_anomaly.ml.errors import ModelUnavailableError as NoModel
    from santiway_anomaly.ml.service import score_device

    out: dict[str, Any] = {
        "available": False,
        "score": None,
        "raw_score": None,
        "threshold_95": None,
        "threshold_99": None,
        "level": None,
        "severity": None,
        "model_version": None,
        "window_start": None,
        "window_end": None,
        "top_features": [],
    }
    loaded, reason = model_status(settings)
    if not loaded:
        return {**out, "reason": reason}
    try:
        result = score_device(store, settings, device_id, until=until)
    except (NoModel, LookupError) as exc:
        return {**out, "reason": str(exc)}
    p95, p99 = float(result["thresholds"]["p95"]), float(result["thresholds"]["p99"])
    raw = float(result["raw_score"])
    return {
        "available": True,
        "score": float(result["score"]),
        "raw_score": raw,
        "threshold_95": p95,
        "threshold_99": p99,
        "level": _level(raw, p95, p99),
        "severity": result.get("severity"),
        "model_version": str(result.get("model_version", "")),
        "window_start": result.get("window_start"),
        "window_end": result.get("window_end"),
        "top_features": list(result.get("top_features") or []),
        "reason": "reconstruction error of the device's last window against the model's p95/p99",
    }


def explain(store: Store, settings: Settings, device_id: str, hours: int) -> dict[str, Any]:
    """Attributions (largest |value| first) and the score they explain; ModelUnavailableError if none."""
    from santiway_anomaly.ml.errors import ModelUnavailableError as NoModel
    from santiway_anomaly.ml.service import explain_device

    loaded, reason = model_status(settings)
    if not loaded:
        raise ModelUnavailableError(reason)
    try:
        rows = explain_device(store, settings, device_id, hours=hours)
    except NoModel as exc:
        raise ModelUnavailableError(str(exc)) from None
    score = device_score(store, settings, device_id, None)
    return {
        "attributions": rows,
        "score": score["score"],
        "raw_score": score["raw_score"],
        "method": "GradientShap (captum) of the reconstruction error, per feature over the window",
    }
