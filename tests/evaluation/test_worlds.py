"""The evaluation across worlds: every type reported, the worst world named, the lab skipped cleanly."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from santiway_anomaly.cli.main import app
from santiway_anomaly.evaluation.worlds import DETECTOR_TYPES, render_markdown, run_all, summarize, write_outputs

TYPES = list(DETECTOR_TYPES.values())


def test_harness_on_a_tiny_world(tmp_path: Path) -> None:
    result = run_all([("small_site", 5)], 0.3, list(DETECTOR_TYPES), lab=tmp_path / "no-lab", workdir=tmp_path,
                     progress=False)
    (world,) = result["worlds"]
    assert "error" not in world, world.get("error")
    assert world["rejected"] == 0 and world["ingested"] == world["sightings"]
    assert set(world["types"]) == set(TYPES)
    for t in TYPES:
        assert world["types"][t]["truth_events"] >= 1
        assert result["summary"][t]["f1"]["worst_world"] in (None, "small_site-5")
    assert result["summary"]["all_types"]["fa_per_clean_day"]["worst_world"] == "small_site-5"
    assert "skipped" in result["lab_note"]
    assert set(world["false_alarms_by_role"]) <= set(TYPES)
    assert isinstance(world["false_alarms"], list) and world["false_alarms_left_out"] >= 0
    md, js = write_outputs(result, tmp_path / "docs")
    text = md.read_text(encoding="utf-8")
    assert "mean / worst" in text and "small_site-5" in text and js.exists()
    for t in TYPES:
        assert f"| {t} |" in text


def test_worst_world_is_the_lowest_precision_and_the_most_false_alarms() -> None:
    def world(name: str, precision: float, fa: float) -> dict[str, object]:
        t = {"precision": precision, "recall": 1.0, "f1": None, "fa_per_clean_day": fa,
             "fa_per_1000_devices_per_clean_day": fa / 2}
        return {"world": name, "types": {"density_spike": t},
                "all_types": {"fa_per_clean_day": fa, "fa_per_1000_devices_per_clean_day": fa / 2}}

    s = summarize([world("a", 0.9, 3.0), world("b", 0.5, 1.0)], ["density_spike"])
    assert s["density_spike"]["precision"] == {"mean": 0.7, "worst": 0.5, "worst_world": "b", "tied": 0, "worlds": 2}
    assert s["density_spike"]["fa_per_clean_day"]["worst_world"] == "a"
    assert s["density_spike"]["f1"]["worst_world"] is None
    md = render_markdown({"created": "now", "seconds": 1, "worlds": [], "families": [], "seeds": [], "scale": 1,
                          "detectors": ["density"], "types": ["density_spike"], "summary": s, "rule": "r",
                          "lab": None, "lab_note": None})
    assert "**0.50** (b)" in md


def test_evaluate_needs_truth_or_worlds() -> None:
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 2
    assert "--worlds" in result.output


def test_evaluate_refuses_an_unknown_family(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--worlds", "--families", "moon_base", "--out", str(tmp_path),
                                      "--no-progress"])
    assert result.exit_code == 2
    assert "unknown families" in result.output
