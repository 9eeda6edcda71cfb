#!/bin/bash
# Run by the clickhouse image once, on an empty data directory (/docker-entrypoint-initdb.d/*.sh),
# after 001_schema.sql and 002_views.sql: applies clickhouse/migrations/NNN_*.sql in order.
# The service records and re-checks every file itself at start (schema_migrations), so these
# files are written to be safe to run twice.
set -euo pipefail
shopt -s nullglob
for file in /docker-entrypoint-initdb.d/migrations/*.sql; do
    echo "applying ${file}"
    clickhouse client --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD:-}" \
        --multiquery < "${file}"
done
