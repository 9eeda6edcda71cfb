from pathlib import Path

from santiway_anomaly.cli.config_cmd import example_text
from santiway_anomaly.config import Settings

REPO = Path(__file__).resolve().parents[2]


def test_env_example_is_generated_from_settings() -> None:
    # Regenerate with: santiway-anomaly config example --out .env.example
    assert (REPO / ".env.example").read_text(encoding="utf-8") == example_text()


def test_env_example_names_every_setting() -> None:
    text = example_text()
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in text, name
