"""The API's view of the ML layer (`santiway_anomaly.ml.service`), which may be absent.

Without the ML package, or without a trained model, every function answers "not available" with
the reason; torch is never imported here.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from types import ModuleType
from typing import Any

from santiway_anomaly.config import Settings
from santiway_anomaly.ml.errors import ModelUnavailableError as MlModelUnavailableError  # torch-free
from santiway_anomaly.storage.store import Store

NO_ML = "the ML layer (santiway_anomaly.ml.service) is not installed in this build"


def _service() -> ModuleType | None:
    try:
        return importlib.import_module("santiway_anomaly.ml.service")
    except ImportError:
        return None


def model_status(settings: Settings) -> tuple[bool, str]:
    service = _service()
    if service is None:
        return False, NO_ML
    loaded, reason = service.model_status(settings)
    return bool(loaded), str(reason)


def model_metadata(settings: Settings) -> dict[str, Any]:
    service = _service()
    if service is None:
        return {}
    meta, _reason = service.model_metadata(settings)  # (metadata | None, reason)
    return dict(meta) if meta else {}


def device_score(
    store: Store, settings: Settings, device_id: str, hours: float, until: datetime | None
) -> dict[str, Any]:
    """ML score of the device's window against the thresholds (MlScorePublic shape)."""
    empty = {"available": False, "score": None, "threshold_95": None, "threshold_99": None, "level": None}
    loaded, reason = model_status(settings)
    service = _service()
    if not loaded or service is None:
        return {**empty, "reason": reason}
    try:
        result = service.score_device(store, settings, device_id, until=until)
    except LookupError as exc:  # no sightings in the model's window
        return {**empty, "reason": str(exc)}
    except MlModelUnavailableError as exc:  # the file changed or vanished since the status check
        return {**empty, "reason": str(exc)}
    p95, p99 = float(result["thresholds"]["p95"]), float(result["thresholds"]["p99"])
    raw = float(result["raw_score"])
    level = "above_p99" if raw > p99 else "above_p95" if raw > p95 else "normal"
    return {
        "available": True,
        "score": raw,
        "threshold_95": p95,
        "threshold_99": p99,
        "level": level,
        "reason": f"model {result['model_version']}, window {result['window_start']:%Y-%m-%d %H:%M} to "
        f"{result['window_end']:%Y-%m-%d %H:%M} UTC",
    }


def explain(store: Store, settings: Settings, device_id: str, hours: float) -> dict[str, Any]:
    service = _service()
    if service is None:
        raise ModelUnavailableError(NO_ML)
    loaded, reason = service.model_status(settings)
    if not loaded:
        raise ModelUnavailableError(str(reason))
    # The model judges whole windows of its own size: explain the device's latest window.
    meta, _reason = service.model_metadata(settings)
    window = int((meta or {}).get("window_size", settings.window_size))
    try:
        scored = service.score_device(store, settings, device_id)
        rows = service.explain_device(store, settings, device_id, hours=window)
    except (LookupError, MlModelUnavailableError) as exc:
        raise ModelUnavailableError(str(exc)) from None
    return {"score": float(scored["raw_score"]), "method": "GradientShap (captum) on the reconstruction error",
            "attributions": list(rows)}


class ModelUnavailableError(RuntimeError):
    """No model to answer with; the message says why (503)."""
