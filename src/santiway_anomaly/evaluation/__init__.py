"""Scoring stored anomalies against ground truth (`truth.jsonl`), and the evaluation report.

    from santiway_anomaly.evaluation import evaluate, load_truth
    result = evaluate(store, load_truth(path))          # per-type precision / recall / F1
    write_report(build_report(ctx), out_dir)            # Markdown + JSON, one section per part

Other parts add report sections with `register_section` (see `report.py`).
"""

from santiway_anomaly.evaluation.matching import MatchingRule, TypeScore, evaluate, match
from santiway_anomaly.evaluation.report import (
    EvalContext,
    Section,
    build_report,
    register_section,
    write_report,
)
from santiway_anomaly.evaluation.truth import TruthEvent, load_truth

__all__ = [
    "EvalContext", "MatchingRule", "Section", "TruthEvent", "TypeScore", "build_report", "evaluate",
    "load_truth", "match", "register_section", "write_report",
]
