"""Side by side on the same device-days: the personal z-score baseline (the default ml_behavior
detector) vs IsolationForest vs PCA / Hotelling T^2 (both on the population of device-days), vs
IsolationForest on the personal z-vectors, and optionally the TCN autoencoder (ml/evaluation.py,
trained in memory on the days before the change; its own 24 x 98 hourly windows of the same
device-days).

Protocol per world (a store filled by `santiway-anomaly simulate` + `ingest`, truth.jsonl beside):
- scored days: the 3 local days before --until (the anomaly days), as `detect --hours 72` scores;
- held-out normal days: the ML_HOLDOUT_DAYS days before them; training days: the history before those;
- each method's alarm line comes from the same rule, `BudgetCalibration` on its held-out scores
  (ML_BUDGET_PER_1000_DEVICES_PER_DAY), so precision / recall compare like with like;
- device level: a device's score is its highest over the scored days; changed = an ml_behavior truth
  device; ROC-AUC and average precision rank changed devices against every other scored device;
- false alarms per 1,000 devices per day: alarmed device-days of devices in no truth event at all.

    DATA_DIR=/tmp/w1/data TIMEZONE=UTC python benchmarks/ml_compare.py --world /tmp/w1 \
        --until 2026-12-04T00:00:00+00:00 [--tcn-epochs 5] [--name w1]

Results are appended to benchmarks/results/ml_compare.json (one entry per world and name).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS  # noqa: E402


def _device_metrics(scores: np.ndarray, dev: np.ndarray, line: float, changed: np.ndarray,
                    other_truth: np.ndarray, n_days: int) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    uniq, inv = np.unique(dev, return_inverse=True)
    best = np.full(len(uniq), -np.inf)
    np.maximum.at(best, inv, scores)
    lab = changed[uniq]
    alarmed = best >= line
    tp = int((alarmed & lab).sum())
    clean_alarm_days = int(((scores >= line) & ~changed[dev] & ~other_truth[dev]).sum())
    n_dev = len(uniq)
    return {
        "roc_auc": round(float(roc_auc_score(lab, best)), 3) if 0 < lab.sum() < len(lab) else None,
        "average_precision": round(float(average_precision_score(lab, best)), 3) if lab.any() else None,
        "recall": round(tp / max(int(lab.sum()), 1), 3),
        "precision": round(tp / max(int(alarmed.sum()), 1), 3) if alarmed.any() else None,
        "alarmed_devices": int(alarmed.sum()),
        "false_alarms_per_1000_devices_per_day": round(1000 * clean_alarm_days / max(n_dev * n_days, 1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, required=True, help="simulator output dir (truth.jsonl)")
    parser.add_argument("--until", required=True, help="end of the scored range (ISO-8601)")
    parser.add_argument("--name", default=None)
    parser.add_argument("--tcn-epochs", type=int, default=0, help="also train and score the TCN (0 = skip)")
    parser.add_argument("--out", type=Path, default=RESULTS / "ml_compare.json")
    args = parser.parse_args()

    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest

    from santiway_anomaly.config import load_settings
    from santiway_anomaly.detectors.base import Window
    from santiway_anomaly.detectors.ml_behavior import MLBehaviorDetector, context
    from santiway_anomaly.ml import personal
    from santiway_anomaly.storage import Store

    settings = load_settings()
    until = datetime.fromisoformat(args.until)
    truth = [json.loads(line) for line in (args.world / "truth.jsonl").read_text().splitlines() if line.strip()]
    ml_truth = {t["device_id"] for t in truth if t["anomaly_type"] == "ml_behavior"}
    any_truth = {t.get("device_id") for t in truth if t.get("device_id")}
    budget = settings.ml_budget_per_1000_devices_per_day
    report: dict[str, Any] = {"world": args.name or args.world.name, "until": args.until,
                              "timezone": settings.timezone, "changed_devices": len(ml_truth), "methods": {}}
    with Store.open(settings) as store:
        window = Window(until - timedelta(hours=72), until)
        t0 = time.perf_counter()
        det = MLBehaviorDetector(settings).fit(store, window)
        alarms = det.alarms(det.score(store, window), window)
        detector_s = time.perf_counter() - t0
        m = det.matrices_
        X, bits, covered, n_hist = m["X"], m["bits"], m["covered"], int(m["n_hist"])
        devices = np.asarray(m["devices"], dtype=object)
        changed = np.array([d in ml_truth for d in devices])
        other = np.array([d in any_truth and d not in ml_truth for d in devices])
        h0 = n_hist - settings.ml_holdout_days
        # Fitting context: the days before the held-out block; scoring context: every history day.
        Xf, med_f, scale_f, n_f = context(X.copy(), bits, covered, h0)  # context writes in place
        Xs, med_s, scale_s, n_s = context(X, bits, covered, n_hist)
        ready_f, ready_s = n_f >= settings.learning_min_days, n_s >= settings.learning_min_days
        cols = np.flatnonzero(personal.SCORED)

        def rows(Xc: np.ndarray, ready: np.ndarray, days: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            d_idx, j_idx = np.nonzero(covered[:, list(days)] & ready[:, None])
            j_abs = np.asarray(list(days))[j_idx]
            return Xc[d_idx, j_abs][:, cols], d_idx, j_abs

        train_x, _, _ = rows(Xf, ready_f, range(0, h0))
        hold_x, hold_d, hold_j = rows(Xf, ready_f, range(h0, n_hist))
        test_x, test_d, test_j = rows(Xs, ready_s, range(n_hist, X.shape[1]))
        hold_z = personal.zscores(Xf[hold_d, hold_j], med_f[hold_d], scale_f[hold_d])
        test_z = personal.zscores(Xs[test_d, test_j], med_s[test_d], scale_s[test_d])
        train_d, train_j = np.nonzero(covered[:, :h0] & ready_f[:, None])
        train_z = personal.zscores(Xf[train_d, train_j], med_f[train_d], scale_f[train_d])
        n_days = X.shape[1] - n_hist
        report.update({"devices_scored": int(len(np.unique(test_d))), "scored_days": n_days,
                       "device_days": {"train": int(len(train_x)), "holdout": int(len(hold_x)),
                                       "test": int(len(test_x))}})

        def add(name: str, hold: np.ndarray, test: np.ndarray, seconds: float, note: str) -> None:
            cal = personal.BudgetCalibration.fit(hold, budget, min_line=-1e9)
            out = _device_metrics(test, test_d, cal.line, changed, other, n_days)
            out.update({"seconds": round(seconds, 2), "input": note})
            report["methods"][name] = out

        t = time.perf_counter()
        add("personal_z", personal.raw_score(hold_z), personal.raw_score(test_z), time.perf_counter() - t,
            "robust z vs the device's own days, mean of the top 3 |z| (the default detector)")
        mu, sd = train_x.mean(axis=0), np.maximum(train_x.std(axis=0), 1e-9)
        t = time.perf_counter()
        forest = IsolationForest(n_estimators=200, random_state=0, n_jobs=1).fit((train_x - mu) / sd)
        add("isolation_forest", -forest.score_samples((hold_x - mu) / sd), -forest.score_samples((test_x - mu) / sd),
            time.perf_counter() - t, "population of device-days, standardised daily vector")
        t = time.perf_counter()
        pca = PCA(n_components=0.95, random_state=0).fit((train_x - mu) / sd)

        def t2(x: np.ndarray) -> np.ndarray:
            z = (x - mu) / sd
            comp = pca.transform(z)
            t2s = (comp**2 / pca.explained_variance_).sum(axis=1)
            spe = ((z - pca.inverse_transform(comp)) ** 2).sum(axis=1)
            return np.asarray(t2s + spe)

        add("pca_t2", t2(hold_x), t2(test_x), time.perf_counter() - t,
            "population of device-days: Hotelling T^2 + squared prediction error, 95 % variance")
        t = time.perf_counter()
        zf = IsolationForest(n_estimators=200, random_state=0, n_jobs=1).fit(np.abs(train_z[:, cols]))
        add("isolation_forest_on_personal_z", -zf.score_samples(np.abs(hold_z[:, cols])),
            -zf.score_samples(np.abs(test_z[:, cols])), time.perf_counter() - t,
            "|robust z| vectors vs the device's own days")
        report["detector"] = {
            "seconds": round(detector_s, 2), "alarms": len(alarms),
            "alarmed_devices": len({a.device_id for a in alarms}),
            "true_devices": len({a.device_id for a in alarms} & ml_truth),
            "line": det.calibration_.as_dict(),
        }
        if args.tcn_epochs:
            from santiway_anomaly.evaluation.truth import load_truth
            from santiway_anomaly.ml.evaluation import evaluate_ml

            t = time.perf_counter()
            tcn = evaluate_ml(store, settings, load_truth(args.world / "truth.jsonl"), epochs=args.tcn_epochs,
                              seed=7, architecture={"n_jobs": 1}, until=until)
            methods = tcn.get("methods", {})
            ae = next((v for k, v in methods.items() if k.startswith("tcn")), None)
            report["methods"]["tcn_autoencoder"] = {
                "roc_auc": None if ae is None else round(float(ae["roc_auc"]), 3),
                "recall_at_p99": None if ae is None else ae["recall_p99"],
                "normal_days_above_p99": None if ae is None else ae["normal_days_above_p99"],
                "seconds": round(time.perf_counter() - t, 1), "epochs": args.tcn_epochs,
                "input": "24 h x 98 hourly features of the same device-days (ml/evaluation.py)",
                "status": tcn.get("status"), "reason": tcn.get("reason"),
            }
    lines = [f"world {report['world']}: {report['devices_scored']} devices scored, {len(ml_truth)} changed"]
    for name, r in report["methods"].items():
        lines.append(f"  {name:32s} AUC {r.get('roc_auc')}  AP {r.get('average_precision')}  "
                     f"recall {r.get('recall', r.get('recall_at_p99'))}  precision {r.get('precision')}  "
                     f"FA/1000/day {r.get('false_alarms_per_1000_devices_per_day')}")
    sys.stdout.write("\n".join(lines) + "\n")
    previous = json.loads(args.out.read_text()) if args.out.exists() else []
    previous = [p for p in previous if p.get("world") != report["world"]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([*previous, report], indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
