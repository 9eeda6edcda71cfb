#!/usr/bin/env bash
# Installs everything and runs the product on the embedded store (demo data when there is no feed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/santiway-anomaly demo "$@"
