"""The ML part of `santiway-anomaly evaluate`: TCN autoencoder vs IsolationForest on the same windows."""

from __future__ import annotations

from typing import Any

from santiway_anomaly.evaluation.report import EvalContext, Section, register_section


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.2f} %" if pct else f"{value:.3f}"


def ml_section(ctx: EvalContext) -> Section | None:
    from santiway_anomaly.ml.evaluation import evaluate_ml
    from santiway_anomaly.ml.model_files import model_metadata

    if ctx.store is None:
        return Section("ml_behavior", "Personal ML detector (ml_behavior)",
                       "Skipped: the running service owns the store, and this section trains models on its "
                       "sightings; stop the service to include it.", {"status": "skipped",
                                                                      "reason": "store owned by the service"})
    meta, _ = model_metadata(ctx.settings)
    # The installed model's architecture (else the training defaults), trained here on one torch thread:
    # on the shared 2-core host one thread trained the default model 19x faster than two threads
    # fighting other processes (2.1 vs 39.5 s/epoch).
    arch = {"batch_size": 64, **(meta.get("architecture", {}) if meta else {}),
            "n_jobs": int(ctx.options.get("ml_threads", 1))}
    data = evaluate_ml(ctx.store, ctx.settings, ctx.truth, epochs=int(ctx.options.get("ml_epochs", 30)),
                       seed=int(ctx.options.get("ml_seed", 42)), architecture=arch, until=ctx.until)
    if data.get("status") != "ok":
        return Section("ml_behavior", "Personal ML detector (ml_behavior)", f"Skipped: {data.get('reason')}.", data)
    rows = ["| method | ROC-AUC | recall > p99 | recall > p95 | normal device-days > p99 | > p95 | fit s "
            "| scoring windows/s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, m in data["methods"].items():
        rows.append(f"| {name} | {_fmt(m['roc_auc'])} | {_fmt(m['recall_p99'])} | {_fmt(m['recall_p95'])} | "
                    f"{_fmt(m['normal_days_above_p99'], True)} | {_fmt(m['normal_days_above_p95'], True)} | "
                    f"{m['fit_seconds']} | {m['score_windows_per_s']} |")
    w = data["windows"]
    first = next(iter(data["methods"].values()))
    md = (f"Trained in this run on the days before the change ({data['train_range'][0]} .. "
          f"{data['validation_until']}, validation after {data['train_range'][1]}); tested on "
          f"{data['test_range'][0]} .. {data['test_range'][1]}. Windows: {w['train']} train, "
          f"{w['validation']} validation, {w['test']} test; {first['changed_devices']} changed devices of "
          f"{first['devices']}, {first['normal_device_days']} normal device-days.\n\n" + "\n".join(rows) +
          f"\n\nRecall > p99 by kind of change (autoencoder): {first['recall_p99_by_change']}.")
    return Section("ml_behavior", "Personal ML detector (ml_behavior)", md, data)


register_section(ml_section)
