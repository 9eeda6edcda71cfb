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

Over the world families (simulate/families: each world generated, ingested into a fresh store under
--workdir and compared in a worker process of its own; --until is each world's last local midnight):

    python benchmarks/ml_compare.py --families all --seeds 4242 [--tcn-epochs 5] [--workdir DIR]

writes benchmarks/results/ml_compare_families.json: per world and method, and per method the mean
and the worst world of recall, precision, F1, false alarms and ROC-AUC.
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
    recall = tp / max(int(lab.sum()), 1)
    precision = tp / int(alarmed.sum()) if alarmed.any() else None
    return {
        "f1": round(2 * precision * recall / (precision + recall), 3) if precision and recall else 0.0,
        "roc_auc": round(float(roc_auc_score(lab, best)), 3) if 0 < lab.sum() < len(lab) else None,
        "average_precision": round(float(average_precision_score(lab, best)), 3) if lab.any() else None,
        "recall": round(recall, 3),
        "precision": None if precision is None else round(precision, 3),
        "alarmed_devices": int(alarmed.sum()),
        "false_alarms_per_1000_devices_per_day": round(1000 * clean_alarm_days / max(n_dev * n_days, 1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, default=None, help="simulator output dir (truth.jsonl)")
    parser.add_argument("--until", default=None, help="end of the scored range (ISO-8601)")
    parser.add_argument("--name", default=None)
    parser.add_argument("--tcn-epochs", type=int, default=0, help="also train and score the TCN (0 = skip)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--families", default=None, help="comma-separated world families, or 'all'")
    parser.add_argument("--seeds", default="4242", help="with --families: seeds, each run for every family")
    parser.add_argument("--workdir", type=Path, default=None, help="with --families: where the stores are made")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    if args.families:
        families_main(args)
        return
    if args.world is None or args.until is None:
        parser.error("give --world and --until, or --families")
    from santiway_anomaly.config import load_settings
    from santiway_anomaly.storage import Store

    settings = load_settings()
    with Store.open(settings) as store:
        report = compare(store, settings, args.world, datetime.fromisoformat(args.until), args.tcn_epochs,
                         args.name or args.world.name)
    report["until"] = args.until
    sys.stdout.write("\n".join(_lines(report)) + "\n")
    out = args.out or RESULTS / "ml_compare.json"
    previous = json.loads(out.read_text()) if out.exists() else []
    previous = [p for p in previous if p.get("world") != report["world"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([*previous, report], indent=1, default=str) + "\n", encoding="utf-8")


def _lines(report: dict[str, Any]) -> list[str]:
    lines = [f"world {report['world']}: {report['devices_scored']} devices scored, "
             f"{report['changed_devices']} changed"]
    for name, r in report["methods"].items():
        lines.append(f"  {name:32s} AUC {r.get('roc_auc')}  AP {r.get('average_precision')}  "
                     f"recall {r.get('recall', r.get('recall_at_p99'))}  precision {r.get('precision')}  "
                     f"FA/1000/day {r.get('false_alarms_per_1000_devices_per_day')}")
    return lines


def world_job(family: str, seed: int, root: str, tcn_epochs: int) -> dict[str, Any]:
    """Generate, ingest and compare one family world (in a worker process: one chDB path each)."""
    import shutil
    from datetime import date
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    from loguru import logger

    from santiway_anomaly.config import load_settings
    from santiway_anomaly.ingest.pipeline import ingest_file
    from santiway_anomaly.simulate.families import generate
    from santiway_anomaly.storage import Store

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    base = Path(root) / f"{family}-{seed}"
    info = generate(family, seed, base / "world")
    settings = load_settings(data_dir=base / "data", timezone=info.timezone, clickhouse_host="", folder_timezones={})
    last = date.fromisoformat(info.anomaly_days[-1]) + timedelta(days=1)
    until = datetime.combine(last, dtime(0), tzinfo=ZoneInfo(info.timezone))
    try:
        with Store.open(settings) as store:
            ingest_file(store, base / "world" / "sightings.parquet", settings)
            report = compare(store, settings, base / "world", until, tcn_epochs, f"{family}-{seed}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report.update({"family": family, "seed": seed, "until": until.isoformat(), "devices": info.devices})
    return report


def summarize(worlds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: mean and worst world of recall, precision, F1, false alarms, ROC-AUC."""
    methods = list(dict.fromkeys(m for w in worlds for m in w["methods"]))
    out: dict[str, Any] = {}
    for m in methods:
        row: dict[str, Any] = {}
        for metric in ("recall", "precision", "f1", "roc_auc", "average_precision", "recall_at_p99",
                       "false_alarms_per_1000_devices_per_day", "normal_days_above_p99"):
            vals = [(w["world"], w["methods"][m].get(metric)) for w in worlds if m in w["methods"]]
            vals = [(k, v) for k, v in vals if v is not None]
            if not vals:
                continue
            worse = max if metric in ("false_alarms_per_1000_devices_per_day", "normal_days_above_p99") else min
            k, v = worse(vals, key=lambda kv: kv[1])
            row[metric] = {"mean": round(sum(x for _, x in vals) / len(vals), 3), "worst": v, "worst_world": k,
                           "worlds": len(vals)}
        out[m] = row
    return out


def families_main(args: argparse.Namespace) -> None:
    import tempfile
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from santiway_anomaly.simulate.families import FAMILIES

    families = list(FAMILIES) if args.families == "all" else [f for f in args.families.split(",") if f]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    tasks = [(f, s) for s in seeds for f in families]
    root = Path(tempfile.mkdtemp(prefix="ml-compare-", dir=args.workdir))
    started = time.perf_counter()
    worlds: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        futures = [pool.submit(world_job, f, s, str(root), args.tcn_epochs) for f, s in tasks]
        for fut, (f, s) in zip(futures, tasks, strict=True):
            try:
                report = fut.result()
            except Exception as exc:  # one broken world must not hide the others
                sys.stderr.write(f"world {f}-{s} failed: {type(exc).__name__}: {exc}\n")
                continue
            worlds.append(report)
            sys.stdout.write("\n".join(_lines(report)) + "\n")
            sys.stdout.flush()
    summary = summarize(worlds)
    sys.stdout.write("\nmethod: recall / precision / FA per 1,000 devices per day / ROC-AUC, mean and worst\n")
    for m, row in summary.items():
        def cell(metric: str, row: dict[str, Any] = row) -> str:
            c = row.get(metric)
            return "n/a" if c is None else f"{c['mean']} / {c['worst']} ({c['worst_world']})"
        sys.stdout.write(f"{m:32s} {cell('recall')} | {cell('precision')} | "
                         f"{cell('false_alarms_per_1000_devices_per_day')} | {cell('roc_auc')}\n")
    out = args.out or RESULTS / "ml_compare_families.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": "python benchmarks/ml_compare.py " + " ".join(sys.argv[1:]),
               "seconds": round(time.perf_counter() - started, 1), "tasks": [f"{f}-{s}" for f, s in tasks],
               "summary": summary, "worlds": worlds}
    out.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    sys.stdout.write(f"written {out}\n")


def compare(store: Any, settings: Any, world: Path, until: datetime, tcn_epochs: int, name: str) -> dict[str, Any]:
    """Every method on the same device-days of one store (see the module docstring)."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest

    from santiway_anomaly.detectors.base import Window
    from santiway_anomaly.detectors.ml_behavior import MLBehaviorDetector, context
    from santiway_anomaly.ml import personal

    truth = [json.loads(line) for line in (world / "truth.jsonl").read_text().splitlines() if line.strip()]
    ml_truth = {t["device_id"] for t in truth if t["anomaly_type"] == "ml_behavior"}
    any_truth = {t.get("device_id") for t in truth if t.get("device_id")}
    budget = settings.ml_budget_per_1000_devices_per_day
    report: dict[str, Any] = {"world": name, "timezone": settings.timezone, "changed_devices": len(ml_truth),
                              "methods": {}}
    if True:  # the single-world script's block, kept as it was
        window = Window(until - timedelta(hours=72), until)
        t0 = time.perf_counter()
        det = MLBehaviorDetector(settings).fit(store, window)
        alarms = det.alarms(det.score(store, window), window)
        detector_s = time.perf_counter() - t0
        m = det.matrices_
        X, hours, covered, n_hist = m["X"], m["hours"], m["covered"], int(m["n_hist"])
        devices = np.asarray(m["devices"], dtype=object)
        changed = np.array([d in ml_truth for d in devices])
        other = np.array([d in any_truth and d not in ml_truth for d in devices])
        h0 = n_hist - settings.ml_holdout_days
        # Fitting context: the days before the held-out block; scoring context: every history day.
        masks = m["masks"]
        Xf, med_f, scale_f, n_f = context(X.copy(), hours, masks, covered, h0)  # context writes in place
        Xs, med_s, scale_s, n_s = context(X, hours, masks, covered, n_hist)
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
            "robust z vs the device's own days, the largest |z| (the default detector)")
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
        if tcn_epochs:
            from santiway_anomaly.evaluation.truth import load_truth
            from santiway_anomaly.ml.evaluation import evaluate_ml

            t = time.perf_counter()
            tcn = evaluate_ml(store, settings, load_truth(world / "truth.jsonl"), epochs=tcn_epochs,
                              seed=7, architecture={"n_jobs": 1}, until=until)
            methods = tcn.get("methods", {})
            ae = next((v for k, v in methods.items() if k.startswith("tcn")), None)
            report["methods"]["tcn_autoencoder"] = {
                "roc_auc": None if ae is None else round(float(ae["roc_auc"]), 3),
                "recall_at_p99": None if ae is None else ae["recall_p99"],
                "normal_days_above_p99": None if ae is None else ae["normal_days_above_p99"],
                "seconds": round(time.perf_counter() - t, 1), "epochs": tcn_epochs,
                "input": "24 h x 98 hourly features of the same device-days (ml/evaluation.py)",
                "status": tcn.get("status"), "reason": tcn.get("reason"),
            }
    return report


if __name__ == "__main__":
    main()
