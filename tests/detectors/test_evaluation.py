"""Evaluation: the matching rule, per-type scores, the report files and the `evaluate` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from santiway_anomaly.anomaly import Anomaly
from santiway_anomaly.config import Settings
from santiway_anomaly.evaluation import EvalContext, MatchingRule, build_report, load_truth, match, write_report
from santiway_anomaly.evaluation.matching import Detection
from santiway_anomaly.evaluation.report import rule_detectors_section
from santiway_anomaly.evaluation.truth import TruthEvent
from santiway_anomaly.storage import Store
from santiway_anomaly.storage.anomalies import save_anomalies

T = datetime(2026, 3, 16, tzinfo=UTC)
H = timedelta(hours=1)


def _truth(kind: str, subject: str, start: datetime, end: datetime) -> TruthEvent:
    return TruthEvent(kind, subject, start, end, scenario="s")


def _det(kind: str, subject: str, start: datetime, end: datetime) -> Detection:
    return Detection(f"{kind}{subject}{start}", kind, subject, start, end)


def test_matching_rule_counts_precision_recall_f1() -> None:
    truth = [_truth("night_activity", "A", T + 2 * H, T + 3 * H),
             _truth("night_activity", "B", T + 2 * H, T + 3 * H),
             _truth("density_spike", "folder:x", T + 12 * H, T + 14 * H)]
    detections = [
        _det("night_activity", "A", T, T + 6 * H),  # overlaps A: correct
        _det("night_activity", "C", T, T + 6 * H),  # nobody: false positive
        _det("density_spike", "folder:x", T + 12 * H, T + 13 * H),  # correct
        _det("density_spike", "folder:x", T + 14 * H + 30 * timedelta(minutes=1), T + 15 * H),  # within 1 h: correct
        _det("density_spike", "folder:y", T + 12 * H, T + 13 * H),  # other subject: false positive
    ]
    scores = match(detections, truth, MatchingRule(timedelta(hours=1)))
    night, density = scores["night_activity"], scores["density_spike"]
    assert (night.detections, night.true_positives, night.truth_events, night.found) == (2, 1, 2, 1)
    assert night.precision == 0.5 and night.recall == 0.5 and night.f1 == 0.5
    assert (density.detections, density.true_positives, density.found) == (3, 2, 1)
    assert density.recall == 1.0 and abs(density.precision - 2 / 3) < 1e-9  # type: ignore[operator]
    strict = match(detections, truth, MatchingRule(timedelta(0)))
    assert strict["density_spike"].true_positives == 1
    assert match([], truth)["night_activity"].precision is None


def test_wrong_type_never_matches() -> None:
    truth = [_truth("night_activity", "A", T, T + H)]
    scores = match([_det("stationary_surveillance", "A", T, T + H)], truth)
    assert scores["stationary_surveillance"].true_positives == 0 and scores["night_activity"].found == 0


def test_truth_file_and_report(empty_store: Store, settings: Settings, tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    truth_path.write_text("\n".join(json.dumps(r) for r in [
        {"anomaly_type": "night_activity", "subject": "AA:BB:CC:DD:EE:01", "device_id": "AA:BB:CC:DD:EE:01",
         "folder": "office", "window_start": "2026-03-16T02:00:00+00:00", "window_end": "2026-03-16T03:00:00Z",
         "scenario": "staff_at_night", "details": {}},
        {"anomaly_type": "density_spike", "subject": "folder:lobby", "device_id": "", "folder": "lobby",
         "window_start": "2026-03-16T12:00:00+00:00", "window_end": "2026-03-16T13:00:00+00:00",
         "scenario": "crowd", "details": {}},
    ]) + "\n")
    save_anomalies(empty_store, [
        Anomaly("night_activity", "warning", 0.8, T, T + 6 * H, device_id="AA:BB:CC:DD:EE:01", folder="office"),
        Anomaly("night_activity", "info", 0.6, T, T + 6 * H, device_id="AA:BB:CC:DD:EE:02", folder="office"),
    ])
    ctx = EvalContext(store=empty_store, settings=settings, truth=load_truth(truth_path), truth_path=truth_path)
    section = rule_detectors_section(ctx)
    types = section.data["types"]
    assert types["night_activity"]["precision"] == 0.5 and types["night_activity"]["recall"] == 1.0
    assert types["density_spike"]["recall"] == 0.0 and types["density_spike"]["precision"] is None
    assert types["stationary_surveillance"]["f1"] is None
    md, js = write_report([section], tmp_path / "out", ctx)
    assert "| night_activity | 2 | 1 | 1 | 1 | 0.500 | 1.000 | 0.667 |" in md.read_text()
    report = json.loads(js.read_text())
    assert report["sections"]["rule_detectors"]["types"]["night_activity"]["f1"] > 0.66


def test_sections_are_extensible(empty_store: Store, settings: Settings) -> None:
    from santiway_anomaly.evaluation import Section, register_section
    from santiway_anomaly.evaluation.report import SECTIONS

    def extra(ctx: EvalContext) -> Section:
        return Section("extra", "Extra", "hello", {"n": len(ctx.truth)})

    saved = list(SECTIONS)
    SECTIONS[:] = [b for b in SECTIONS if b is rule_detectors_section]  # other parts' sections are slow
    register_section(extra, key="extra")
    try:
        ctx = EvalContext(store=empty_store, settings=settings, truth=[])
        keys = [s.key for s in build_report(ctx, ["rule_detectors", "extra"])]
        assert keys == ["rule_detectors", "extra"]
        assert [s.key for s in build_report(ctx, ["extra"])] == ["extra"]
    finally:
        SECTIONS[:] = saved


@pytest.mark.slow
def test_evaluate_and_anomalies_commands(store_closed: Settings, tmp_path: Path, monkeypatch: object) -> None:
    """End to end through the CLI on the hand-built world: detect, list, evaluate."""
    from santiway_anomaly.cli.main import app
    from tests.detectors.conftest import LINGERER, STAFF, build_world

    settings = store_closed
    mp = monkeypatch  # pytest's MonkeyPatch
    mp.setenv("DATA_DIR", str(settings.data_dir))  # type: ignore[attr-defined]
    mp.setenv("LOG_LEVEL", "WARNING")  # type: ignore[attr-defined]
    with Store.open(settings) as store:
        build_world().insert_alone(store)
    runner = CliRunner()
    until = "2026-03-17T00:00:00"
    result = runner.invoke(app, ["detect", "--hours", "24", "--until", until, "--detectors",
                                 "density,night,stationary"])
    assert result.exit_code == 0, result.output
    assert "stationary_surveillance" in result.output and "night_activity" in result.output
    again = runner.invoke(app, ["detect", "--hours", "24", "--until", until, "--json",
                                "--detectors", "density,night,stationary"])
    assert again.exit_code == 0 and json.loads(again.stdout)["new"] == 0
    listed = runner.invoke(app, ["anomalies", "--type", "night_activity", "--json"])
    rows = json.loads(listed.stdout)
    assert {r["device_id"] for r in rows} >= {STAFF[0]} and all("details" in r for r in rows)
    truth = tmp_path / "truth.jsonl"
    truth.write_text(json.dumps({"anomaly_type": "stationary_surveillance", "subject": LINGERER,
                                 "device_id": LINGERER, "folder": "lobby",
                                 "window_start": "2026-03-16T10:00:00+00:00",
                                 "window_end": "2026-03-16T15:00:00+00:00", "scenario": "lingering",
                                 "details": {}}) + "\n")
    out = tmp_path / "report"
    ev = runner.invoke(app, ["evaluate", "--truth", str(truth), "--out", str(out), "--section", "rule_detectors"])
    assert ev.exit_code == 0, ev.output
    assert (out / "evaluation.md").exists() and (out / "evaluation.json").exists()
    data = json.loads((out / "evaluation.json").read_text())
    assert data["sections"]["rule_detectors"]["types"]["stationary_surveillance"]["recall"] == 1.0
    bad = runner.invoke(app, ["detect", "--detectors", "nope", "--until", until])
    assert bad.exit_code == 2
    # The allowlist through the CLI (MACs in any notation are normalised).
    added = runner.invoke(app, ["known", "add", LINGERER.replace(":", "-").lower(), "--reason",
                                "stationary_surveillance", "--note", "our own camera"])
    assert added.exit_code == 0, added.output
    known = json.loads(runner.invoke(app, ["known", "list", "--json"]).stdout)
    assert [(k["device_id"], k["reason"], k["note"]) for k in known] == [
        (LINGERER, "stationary_surveillance", "our own camera")]
    assert runner.invoke(app, ["known", "remove", LINGERER, "--reason", "stationary_surveillance"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["known", "list", "--json"]).stdout) == []
    assert runner.invoke(app, ["known", "add", "not-a-mac"]).exit_code == 2


def test_report_shows_local_times_to_a_person_and_utc_to_programs(empty_store: Store, settings: Settings,
                                                                    tmp_path: Path) -> None:
    moscow = settings.model_copy(update={"timezone": "Europe/Moscow"})
    truth = [_truth("density_spike", "folder:lobby", T + 12 * H, T + 13 * H)]  # 12:00 UTC is 15:00 in Moscow
    ctx = EvalContext(store=empty_store, settings=moscow, truth=truth, since=T, until=T + 24 * H,
                      detections=[_det("density_spike", "folder:hall", T + 2 * H, T + 3 * H)])
    md, js = write_report([rule_detectors_section(ctx)], tmp_path / "out", ctx)
    text = md.read_text()
    assert "Window: 2026-03-16 03:00 MSK .. 2026-03-17 03:00 MSK" in text
    assert "- missed: folder:lobby s 2026-03-16 15:00 MSK .. 2026-03-16 16:00 MSK" in text
    assert "- false positive: folder:hall at 2026-03-16 05:00 MSK" in text
    assert json.loads(js.read_text())["since"] == "2026-03-16T00:00:00+00:00"
