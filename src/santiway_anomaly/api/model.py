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
    meta = service.model_metadata(settings)
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
    result = service.device_score(store, settings, device_id, hours=hours, until=until)
    return {**empty, **dict(result)}


def explain(store: Store, settings: Settings, device_id: str, hours: float) -> dict[str, Any]:
    service = _service()
    if service is None:
        raise ModelUnavailableError(NO_ML)
    loaded, reason = service.model_status(settings)
    if not loaded:
        raise ModelUnavailableError(str(reason))
    return dict(service.explain_device(store, settings, device_id, hours=hours))


class ModelUnavailableError(RuntimeError):
    """No model to answer with; the message says why (503)."""
