"""Train the basic TCN autoencoder (the specification's `python ml/train_model.py`).

A thin wrapper over `santiway-anomaly train`: 30 days, 98 features, no attention unless asked.
Any option of `santiway-anomaly train --help` is accepted and passed on.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without install

from santiway_anomaly.cli.main import app  # noqa: E402

if __name__ == "__main__":
    app(["train", *sys.argv[1:]], prog_name="python ml/train_model.py")
