"""Train the advanced model: TCN + multi-head attention (the specification's command).

    python ml/train_advanced_model.py --days 10 --epochs 100 --use-extended --use-attention --device auto

A thin wrapper over `santiway-anomaly train` with the specification's flags: without
--use-extended it trains on the 20 basic features, without --use-attention the plain TCN.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without install

from santiway_anomaly.cli.main import app  # noqa: E402


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python ml/train_advanced_model.py",
        description="Train the TCN (+ attention) autoencoder; other options go to `santiway-anomaly train`.")
    parser.add_argument("--days", type=int, default=30, help="days of data to train on")
    parser.add_argument("--epochs", type=int, default=50, help="maximum epochs (default: 50)")
    parser.add_argument("--use-extended", action="store_true", help="all 98 features instead of the 20 basic")
    parser.add_argument("--use-attention", action="store_true", help="multi-head attention (8 heads)")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"], help="where to train")
    args, rest = parser.parse_known_args(argv)
    forwarded = ["train", "--days", str(args.days), "--epochs", str(args.epochs), "--device", args.device,
                 "--use-extended" if args.use_extended else "--basic-features",
                 "--use-attention" if args.use_attention else "--no-attention", *rest]
    app(forwarded, prog_name="python ml/train_advanced_model.py")


if __name__ == "__main__":
    main(sys.argv[1:])
