#!/bin/bash
# Run by the clickhouse image once, on an empty data directory (/docker-entrypoint-initdb.d/*.sh),
# after 001_schema.sql and 002_views.sql: applies clickhouse/migrations/NNN_*.sql in order, then
# records every file in anomaly_ml.schema_migrations exactly as the product's runner does
# (storage/migrations.py: version, name, sha256 of the file), so that the backend's first start finds
# the schema applied and re-applies nothing (no rebuild of the aggregates inside its start-up).
set -euo pipefail
shopt -s nullglob
INIT=${INIT_DIR:-/docker-entrypoint-initdb.d}  # overridable for the test (tests/clickhouse_http)

ch() {
    clickhouse client --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD:-}" "$@"
}

record() {  # version name file
    local checksum
    checksum=$(sha256sum "$3" | cut -d' ' -f1)
    ch --query "INSERT INTO anomaly_ml.schema_migrations (version, name, checksum) VALUES ($1, '$2', '${checksum}')"
}

for file in "${INIT}"/migrations/*.sql; do
    echo "applying ${file}"
    ch --multiquery < "${file}"
done

# The runner's versions table (storage/migrations.py, _VERSIONS_DDL; a test keeps the two equal).
ch --query "
CREATE TABLE IF NOT EXISTS anomaly_ml.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version"
record 1 schema.sql "${INIT}/001_schema.sql"
record 2 views.sql "${INIT}/002_views.sql"
for file in "${INIT}"/migrations/*.sql; do
    base=$(basename "${file}")
    record "$((10#${base%%_*}))" "migrations/${base}" "${file}"
done
echo "recorded $(ch --query 'SELECT count() FROM anomaly_ml.schema_migrations FINAL') migrations"
