#!/usr/bin/env bash
# Installs everything (with the dev tools) and runs lint, types and the test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev || exit 1
echo "== ruff"
.venv/bin/ruff check . || exit 1
echo "== mypy"
.venv/bin/mypy || exit 1
echo "== pytest"
.venv/bin/pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
