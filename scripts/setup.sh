#!/usr/bin/env bash
# Creates .venv (if missing) and installs the package with its dependencies.
# torch is pinned to 2.13.0 in pyproject.toml: pip takes the CPU wheel where one is on disk (find-links).
# Every other version comes from constraints.txt (scripts/lock.py), so a fresh clone installs what was tested.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
extras="${1:-}"
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
