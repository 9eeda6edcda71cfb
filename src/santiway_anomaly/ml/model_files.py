"""Model files on disk: paths, metadata, timestamped backups and rollback. No torch here.

    models/tcn_model.pt                         the weights (MODEL_PATH)
    models/model_metadata.json                  what the weights need (features, normalisation, thresholds)
    models/tcn_model_backup_<UTC stamp>.pt      the previous model, kept when a new one replaces it
    models/model_metadata_backup_<UTC stamp>.json

The backup names follow the specification's "Backup & Recovery" section; `rollback` restores the
newest backup pair (the replaced model is kept as `..._rolledback_<stamp>`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from santiway_anomaly.config import Settings

TRAIN_COMMAND = "python ml/train_model.py"
MAX_MODEL_BYTES = 5 * 1024 * 1024  # issue 4: the default model file must be at most 5 MB


@dataclass(frozen=True)
class ModelPaths:
    model: Path
    metadata: Path

    @classmethod
    def from_settings(cls, settings: Settings, model_path: Path | None = None) -> ModelPaths:
        path = Path(model_path or settings.model_path)
        return cls(path, path.with_name("model_metadata.json"))

    def backup_pair(self, stamp: str, kind: str = "backup") -> ModelPaths:
        return ModelPaths(
            self.model.with_name(f"{self.model.stem}_{kind}_{stamp}{self.model.suffix}"),
            self.metadata.with_name(f"{self.metadata.stem}_{kind}_{stamp}{self.metadata.suffix}"),
        )

    def backups(self) -> list[tuple[str, ModelPaths]]:
        """(stamp, pair) of every complete backup, newest first."""
        prefix = f"{self.model.stem}_backup_"
        out = []
        for p in self.model.parent.glob(f"{prefix}*{self.model.suffix}"):
            stamp = p.stem[len(prefix):]
            pair = self.backup_pair(stamp)
            if pair.metadata.exists():
                out.append((stamp, pair))
        return sorted(out, key=lambda item: item[0], reverse=True)


def stamp_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d_%H%M%S_%f")


def read_metadata(paths: ModelPaths) -> dict[str, Any] | None:
    if not paths.metadata.exists():
        return None
    data: dict[str, Any] = json.loads(paths.metadata.read_text(encoding="utf-8"))
    return data


def model_metadata(settings: Settings) -> tuple[dict[str, Any] | None, str]:
    """The current model's metadata, or None and the reason there is none."""
    paths = ModelPaths.from_settings(settings)
    if not paths.model.exists():
        return None, f"Model file not found: {paths.model} (train one: {TRAIN_COMMAND})"
    try:
        meta = read_metadata(paths)
    except (OSError, ValueError) as exc:
        return None, f"cannot read {paths.metadata}: {exc}"
    if meta is None:
        return None, f"metadata file not found: {paths.metadata} (retrain: {TRAIN_COMMAND})"
    return meta, "ok"


def check_compatible(meta: dict[str, Any], settings: Settings) -> str | None:
    """None if the model fits this deployment, else the specification's size-mismatch message."""
    from santiway_anomaly.features.catalog import FEATURE_NAMES

    found = int(meta.get("input_channels", -1))
    expected = settings.input_channels
    if found != expected:
        return (f"size mismatch (expected {expected}, got {found}): the model at {settings.model_path} was trained "
                f"on {found} features but INPUT_CHANNELS={expected}. Retrain on {expected} features with "
                f"`{TRAIN_COMMAND}`" + (" (or `python ml/train_advanced_model.py --use-extended`)" if expected == 98
                                        else "") + f", or set INPUT_CHANNELS={found} to use this model.")
    names = list(meta.get("feature_names", []))
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if len(names) != found or unknown:
        return (f"size mismatch (expected {found} known feature names, got {len(names)}; unknown: {unknown[:5]}): "
                f"the model was trained on another feature catalog. Retrain with `{TRAIN_COMMAND}`.")
    return None


def model_status(settings: Settings) -> tuple[bool, str]:
    """(loaded, reason) for /health; reads only the metadata file, never imports torch."""
    meta, reason = model_metadata(settings)
    if meta is None:
        return False, reason
    problem = check_compatible(meta, settings)
    if problem:
        return False, problem
    return True, f"model {meta.get('model_version', '?')} trained {meta.get('trained_at', '?')}"


def backup_current(paths: ModelPaths) -> ModelPaths | None:
    """Copy the current model and metadata to timestamped backups; None if there is no model."""
    if not paths.model.exists():
        return None
    pair = paths.backup_pair(stamp_now())
    shutil.copy2(paths.model, pair.model)
    if paths.metadata.exists():
        shutil.copy2(paths.metadata, pair.metadata)
    else:
        pair.metadata.write_text("{}", encoding="utf-8")
    return pair


def install(paths: ModelPaths, model_tmp: Path, metadata: dict[str, Any]) -> ModelPaths | None:
    """Back up the current model, then move the new one in place (rename: never a half-written file)."""
    paths.model.parent.mkdir(parents=True, exist_ok=True)
    backup = backup_current(paths)
    meta_tmp = paths.metadata.with_suffix(".json.tmp")
    meta_tmp.write_text(json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(model_tmp, paths.model)
    os.replace(meta_tmp, paths.metadata)
    return backup


def rollback(paths: ModelPaths) -> tuple[str, ModelPaths]:
    """Restore the newest backup; the replaced model is kept as a `rolledback` pair. Returns (stamp, kept)."""
    backups = paths.backups()
    if not backups:
        raise FileNotFoundError(f"no backup next to {paths.model} (backups are made when a model is replaced)")
    stamp, pair = backups[0]
    kept = paths.backup_pair(stamp_now(), kind="rolledback")
    if paths.model.exists():
        os.replace(paths.model, kept.model)
    if paths.metadata.exists():
        os.replace(paths.metadata, kept.metadata)
    os.replace(pair.model, paths.model)
    os.replace(pair.metadata, paths.metadata)
    return stamp, kept
