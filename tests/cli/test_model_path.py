"""The model lives under DATA_DIR unless MODEL_PATH says otherwise: two data directories, two models."""

from __future__ import annotations

from pathlib import Path

from santiway_anomaly.config import load_settings


def test_model_path_follows_data_dir_and_model_path_wins(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path / "a", _env_file=None)
    second = load_settings(data_dir=tmp_path / "b", _env_file=None)
    assert first.model_path == tmp_path / "a" / "models" / "tcn_model.pt"
    assert second.model_path != first.model_path
    chosen = load_settings(data_dir=tmp_path / "a", model_path=tmp_path / "m.pt", _env_file=None)
    assert chosen.model_path == tmp_path / "m.pt"
