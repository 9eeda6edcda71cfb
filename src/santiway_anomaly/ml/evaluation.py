"""Evaluate the personal ML detector against ground truth, next to an IsolationForest baseline.

Protocol (the same windows for both methods, in one run):

- the change time is the earliest `ml_behavior` truth window start; everything before it is
  training data, everything after it is the test period (the "last days");
- windows: one 24-hour window per device-day in which the device was active; training windows
  start at least FEATURE_HISTORY_HOURS after the first data so their profile features see a full
  history; the last TRAIN_VALIDATION_FRACTION of the training days validate (thresholds p95/p99);
- a device's test score is its highest window score in the test period; ROC-AUC compares the
  changed devices against every other device with test windows; recall is the share of changed
  devices above a threshold; the false-alarm rate is the share of normal device-days (devices in
  no truth event at all) above p99.

The autoencoder is trained here, in memory, with the installed model's architecture when there is
one (else the defaults), so that it never sees the test period; the installed model is not changed.
The IsolationForest reads per-window summaries (mean, standard deviation and maximum over the
24 hours of each standardised feature): a flattened 24 x 98 window gives it 2,352 mostly-zero
dimensions and it did worse on them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from santiway_anomaly.config import Settings
from santiway_anomaly.features.builder import build_features, first_hour, latest_hour
from santiway_anomaly.features.catalog import FEATURE_NAMES
from santiway_anomaly.ml.training import WindowSet, cut_windows, split_by_time
from santiway_anomaly.storage.store import Store


def summarise(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Per window: mean, std and max over time of each standardised feature (windows, 3 x features)."""
    z = (X - mean) / std
    return np.concatenate([z.mean(axis=1), z.std(axis=1), z.max(axis=1)], axis=1)


def _metrics(scores: np.ndarray, devices: np.ndarray, p95: float, p99: float, changed: set[str],
             in_truth: set[str], kinds: dict[str, list[str]]) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    uniq, inverse = np.unique(devices, return_inverse=True)
    device_max = np.full(len(uniq), -np.inf)
    np.maximum.at(device_max, inverse, scores)
    label = np.array([d in changed for d in uniq])
    normal_windows = np.array([d not in in_truth for d in devices])
    out: dict[str, Any] = {
        "devices": int(len(uniq)),
        "changed_devices": int(label.sum()),
        "roc_auc": float(roc_auc_score(label, device_max)) if 0 < label.sum() < len(label) else None,
        "recall_p99": float((device_max[label] > p99).mean()) if label.any() else None,
        "recall_p95": float((device_max[label] > p95).mean()) if label.any() else None,
        "normal_device_days": int(normal_windows.sum()),
        "normal_days_above_p99": float((scores[normal_windows] > p99).mean()) if normal_windows.any() else None,
        "normal_days_above_p95": float((scores[normal_windows] > p95).mean()) if normal_windows.any() else None,
        "threshold_95": p95,
        "threshold_99": p99,
    }
    by_kind: dict[str, list[bool]] = {}
    for d, hit in zip(uniq[label], device_max[label] > p99, strict=True):
        for k in kinds.get(str(d), []):
            by_kind.setdefault(k, []).append(bool(hit))
    out["recall_p99_by_change"] = {k: round(float(np.mean(v)), 3) for k, v in sorted(by_kind.items())}
    missed = [str(d) for d, hit in zip(uniq[label], device_max[label] > p99, strict=True) if not hit]
    out["missed_changed_devices"] = missed[:20]
    return out


def evaluate_ml(store: Store, settings: Settings, truth: Sequence[Any], *, epochs: int = 30, seed: int = 42,
                architecture: dict[str, Any] | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Train on the pre-change period, score the test period, and report both methods' metrics."""
    from sklearn.ensemble import IsolationForest

    from santiway_anomaly.ml.estimator import TCNAutoencoderDetector

    ml_truth = [t for t in truth if t.anomaly_type == "ml_behavior" and t.device_id]
    if not ml_truth:
        return {"status": "skipped", "reason": "the truth file has no ml_behavior entries"}
    change = min(_utc(t.window_start) for t in ml_truth)
    changed = {t.device_id for t in ml_truth}
    in_truth = {t.device_id for t in truth if t.device_id}
    kinds = {t.device_id: list(t.details.get("changes", [])) for t in ml_truth}
    data_start, data_end = first_hour(store), latest_hour(store)
    if data_start is None or data_end is None:
        return {"status": "skipped", "reason": "the store holds no data"}
    last = until or data_end + timedelta(hours=1)
    # Test windows are whole days from the change on: round the end up to the next day boundary.
    end = change + timedelta(days=-(-(last - change) // timedelta(days=1)))
    # Whole days back from the change so windows align with the truth's day boundaries.
    hist = timedelta(hours=settings.feature_history_hours)
    days_before = max((change - (data_start + hist)).days, 0)
    train_start = change - timedelta(days=days_before)
    if days_before < 2:
        train_start = change - timedelta(days=max((change - data_start).days, 0))
    t0 = time.monotonic()
    frame = build_features(store, settings, train_start, end, min_events=settings.ml_min_events)
    ws = cut_windows(frame, FEATURE_NAMES, settings.window_size, 24, settings.ml_min_events)
    feature_seconds = time.monotonic() - t0
    del frame
    change64 = np.datetime64(change.replace(tzinfo=None), "ns")
    start_of = ws.end - np.timedelta64(settings.window_size, "h")
    pre = ws.end <= change64
    post = start_of >= change64
    train_all = WindowSet(ws.X[pre], ws.end[pre], ws.device[pre])
    test = WindowSet(ws.X[post], ws.end[post], ws.device[post])
    if len(test.X) == 0 or len(train_all.X) == 0:
        return {"status": "skipped", "reason": f"no {'test' if len(train_all.X) else 'training'} windows "
                f"around the change at {change.isoformat()} (data {data_start} .. {data_end})"}
    train_ws, val_ws, split = split_by_time(train_all, settings.train_validation_fraction)

    arch = {k: v for k, v in (architecture or {}).items()
            if k in {"hidden", "levels", "kernel_size", "bottleneck", "attention", "heads", "clip", "lr",
                     "batch_size", "n_jobs"}}
    report: dict[str, Any] = {
        "status": "ok",
        "change_start": change.isoformat(),
        "train_range": [train_start.isoformat(), split.isoformat()],
        "validation_until": change.isoformat(),
        "test_range": [change.isoformat(), end.isoformat()],
        "windows": {"train": int(len(train_ws.X)), "validation": int(len(val_ws.X)), "test": int(len(test.X))},
        "feature_seconds": round(feature_seconds, 1),
        "methods": {},
    }
    det = TCNAutoencoderDetector(**{"epochs": epochs, "random_state": seed, "patience": settings.train_patience,
                                    "lr": 2e-3, **arch})
    t1 = time.monotonic()
    det.fit(train_ws.X, X_val=val_ws.X)
    fit_s = time.monotonic() - t1
    t2 = time.monotonic()
    ae_scores = det.decision_function(test.X)
    score_s = time.monotonic() - t2
    ae = _metrics(ae_scores, test.device, det.threshold_95_, det.threshold_99_, changed, in_truth, kinds)
    ae.update({"fit_seconds": round(fit_s, 1), "epochs_run": len(det.history_), "best_epoch": det.best_epoch_,
               "seconds_per_epoch": round(fit_s / max(len(det.history_), 1), 2),
               "score_windows_per_s": round(len(test.X) / max(score_s, 1e-9)),
               "architecture": {k: v for k, v in det.get_params().items() if k != "verbose"}})
    report["methods"]["tcn_autoencoder" + ("_attention" if det.attention else "")] = ae

    mean = train_ws.X.reshape(-1, train_ws.X.shape[2]).mean(axis=0)
    std = train_ws.X.reshape(-1, train_ws.X.shape[2]).std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=1)
    t3 = time.monotonic()
    forest.fit(summarise(train_ws.X, mean, std))
    if_fit = time.monotonic() - t3
    val_if = -forest.score_samples(summarise(val_ws.X, mean, std))
    t4 = time.monotonic()
    if_scores = -forest.score_samples(summarise(test.X, mean, std))
    if_score_s = time.monotonic() - t4
    p95, p99 = float(np.percentile(val_if, 95)), float(np.percentile(val_if, 99))
    iforest = _metrics(if_scores, test.device, p95, p99, changed, in_truth, kinds)
    iforest.update({"fit_seconds": round(if_fit, 1), "score_windows_per_s": round(len(test.X) / max(if_score_s, 1e-9)),
                    "input": "mean, std, max over 24 h of each standardised feature (294 dims)"})
    report["methods"]["isolation_forest"] = iforest
    return report


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
