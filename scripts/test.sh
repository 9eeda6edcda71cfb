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
# The whole suite runs twice: embedded chDB, and once more against a ClickHouse server over HTTP (the
# stand-in under tests/clickhouse_http, backed by chDB) for every test that opens a store: storage, ingest,
# detectors, notifications, the API, the CLI, features, ML, the live feed, occupancy; the production path,
# with its faults. tests/conftest.py keeps only the tests that open a store in that pass (the rest would
# repeat the embedded one). docs/storage.md says more. Each pass is mostly one busy core, so with no
# selection asked for the two run side by side (each with its own temporary directory), which takes the
# suite from the sum of the two to about the longer one; the HTTP pass's output follows the embedded one's.
if [ "$#" -ne 0 ]; then
  echo "== pytest"
  .venv/bin/pytest "$@"
  status=$?
  [ "$status" -eq 5 ] && { echo "pytest collected no tests: that is a failure here" >&2; exit 1; }
  exit "$status"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== pytest against the ClickHouse HTTP stand-in (the tests that open a store), in the background"
SANTIWAY_TEST_STORE=http .venv/bin/pytest tests -p no:cacheprovider --basetemp "$tmp/http" >"$tmp/http.log" 2>&1 &
http_pid=$!
echo "== pytest (embedded chDB)"
.venv/bin/pytest --basetemp "$tmp/embedded"
status=$?
wait "$http_pid"
http_status=$?
echo "== pytest against the ClickHouse HTTP stand-in: its output"
cat "$tmp/http.log"
for code in "$status" "$http_status"; do
  [ "$code" -eq 5 ] && { echo "pytest collected no tests: that is a failure here" >&2; exit 1; }
done
[ "$status" -eq 0 ] || exit "$status"
exit "$http_status"
