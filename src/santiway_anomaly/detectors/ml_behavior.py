"""ml_behavior: the personal ML detector (TCN autoencoder over 98 features, the last 24 hours).

Every device active in the 24 hours before the run's end is scored by the installed model.
Score direction and unit: the raw score is the window's mean squared reconstruction error in
standardised units (higher = more anomalous); it is calibrated onto the common [0, 1] scale with
the model's validation percentiles: p50 -> 0.5, p95 -> 0.7 (warning), p99 -> 0.85 (critical).
An anomaly is raised above p95 (warning) and above p99 (critical); `details` carry the raw
score, the thresholds, the model version and the top contributing features. A device that stays
anomalous alarms again only after ML_ALARM_COOLDOWN_HOURS or when its severity rises.

No model file, or a model trained on other features, raises `ModelUnavailableError` from `fit`:
the runner skips this detector with that message and the rule detectors still run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self

import pandas as pd

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.config import Settings
from santiway_anomaly.detectors.alarm import prior_alarms, suppress_repeats
from santiway_anomaly.detectors.base import Detector, Window, register
from santiway_anomaly.detectors.known import is_exempt, load_allowlist
from santiway_anomaly.storage.store import Store


@register("ml")
class MLBehaviorDetector(Detector):
    name = "ml"
    anomaly_type = "ml_behavior"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def fit(self, store: Store, window: Window) -> Self:
        from santiway_anomaly.ml.scoring import load_model

        self.model_ = load_model(self.settings)  # raises ModelUnavailableError with the reason
        self.allow_ = load_allowlist(store)
        lookback = timedelta(hours=self.settings.window_size + self.settings.ml_alarm_cooldown_hours)
        self.prior_ = prior_alarms(store, self.anomaly_type, window.end - lookback, window.end)
        return self

    def score(self, store: Store, window: Window) -> pd.DataFrame:
        from santiway_anomaly.ml.scoring import latest_windows, score_frame

        self.check_fitted()
        frame = latest_windows(store, self.settings, self.model_, window.end)
        scored = score_frame(self.model_, frame, self.settings.ml_top_features)
        scored["subject"] = scored["device_id"]
        info = frame.info.reindex(frame.device_ids)
        for col in ("vendor", "network_type", "folder", "lat", "lon"):
            scored[col] = info[col].to_numpy() if col in info else None
        scored["window_start"] = frame.hours[0] if len(frame.hours) else window.start
        scored["window_end"] = (frame.hours[-1] + timedelta(hours=1)) if len(frame.hours) else window.end
        return scored

    def alarms(self, scored: pd.DataFrame, window: Window) -> list[Anomaly]:
        self.check_fitted()
        t = self.model_.thresholds
        out: list[Anomaly] = []
        hot = scored[scored["raw_score"] > t["p95"]] if len(scored) else scored
        for row in hot.to_dict("records"):
            raw = float(row["raw_score"])
            if is_exempt(self.allow_, str(row["device_id"]), self.anomaly_type):
                continue
            severity = "critical" if raw > t["p99"] else "warning"
            details: dict[str, Any] = {
                "raw_score": round(raw, 6),
                "threshold_95": t["p95"],
                "threshold_99": t["p99"],
                "model_version": self.model_.version,
                "top_features": row["top_features"],
                "reason": f"last {self.model_.metadata.get('window_size', 24)} h of behaviour reconstructed "
                          f"{raw / t['p95']:.1f}x worse than the model's p95",
            }
            out.append(Anomaly(
                anomaly_type=self.anomaly_type, severity=severity, score=float(row["score"]),
                window_start=pd.Timestamp(row["window_start"]).to_pydatetime(),
                window_end=pd.Timestamp(row["window_end"]).to_pydatetime(),
                device_id=str(row["device_id"]), folder=_text(row["folder"]), vendor=_text(row["vendor"]),
                network_type=_text(row["network_type"]), lat=_num(row["lat"]), lon=_num(row["lon"]), details=details,
                model_version=self.model_.version,
            ))
        return suppress_repeats(out, self.prior_, timedelta(hours=self.settings.ml_alarm_cooldown_hours))


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if out != out else out
