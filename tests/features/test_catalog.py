from __future__ import annotations

from pathlib import Path

from santiway_anomaly.features import docs
from santiway_anomaly.features.catalog import BASIC_NAMES, FEATURE_NAMES, FEATURES, feature_set

REPO = Path(__file__).resolve().parents[2]


def test_groups_have_the_specification_sizes() -> None:
    groups = [f.group for f in FEATURES]
    assert (groups.count("basic"), groups.count("extended"), groups.count("advanced")) == (20, 50, 28)
    assert len(set(FEATURE_NAMES)) == 98
    assert feature_set(False) == BASIC_NAMES and len(BASIC_NAMES) == 20
    assert feature_set(True) == FEATURE_NAMES
    assert all(f.unit and f.definition and f.family for f in FEATURES)


def test_docs_table_is_generated_from_the_catalog_and_up_to_date(tmp_path: Path) -> None:
    text = docs.render()
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 98
    assert all(f"`{name}`" in text for name in FEATURE_NAMES)
    committed = (REPO / "docs" / "features.md").read_text(encoding="utf-8")
    assert committed == text, "docs/features.md is stale: run python -m santiway_anomaly.features.docs"
    assert docs.write(tmp_path / "f.md").read_text(encoding="utf-8") == text
