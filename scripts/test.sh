#!/usr/bin/env bash
# Installs everything (with the dev tools) and runs lint, types and the test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev || exit 1
# The browser test drives Debian's Chromium; the deployment tests use nginx -t and shellcheck.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "== installing chromium, nginx-light, shellcheck (Debian packages) for the browser and deploy tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium nginx-light shellcheck >/dev/null) || echo "warning: apt-get failed; those tests will say why they skip" >&2
fi
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
[ "$status" -eq 0 ] || exit "$status"
# Every test that opens a store once more against a ClickHouse server over HTTP (the stand-in under
# tests/clickhouse_http, backed by chDB): storage, ingest, detectors, notifications, the API, the CLI,
# features, ML, the live feed, occupancy; the production path, with its faults. tests/conftest.py keeps
# only the tests that open a store (the rest would repeat the pass above). docs/storage.md says more.
# Skipped when a selection of tests was asked for.
if [ "$#" -eq 0 ]; then
  echo "== pytest against the ClickHouse HTTP stand-in (the tests that open a store)"
  SANTIWAY_TEST_STORE=http .venv/bin/pytest tests
  status=$?
  [ "$status" -eq 5 ] && { echo "pytest collected no tests: that is a failure here" >&2; exit 1; }
fi
exit "$status"
