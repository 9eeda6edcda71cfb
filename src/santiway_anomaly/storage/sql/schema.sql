-- SantiWay anomaly detection: tables.
-- Usable by hand: clickhouse-client --multiquery < clickhouse/schema.sql
-- Applied by `santiway-anomaly schema apply` (and automatically on first use) as migration 001.
-- Keep statements separated by a semicolon at the end of a line; no semicolons inside comments.

CREATE DATABASE IF NOT EXISTS santi;
CREATE DATABASE IF NOT EXISTS anomaly_ml;

-- Raw sightings: one row per (device seen by sensor at time).
CREATE TABLE IF NOT EXISTS santi.way_data
(
    ts            DateTime64(3, 'UTC') COMMENT 'sighting time, UTC',
    device_id     String COMMENT 'MAC as AA:BB:CC:DD:EE:FF',
    sensor_id     LowCardinality(String),
    folder        LowCardinality(String) COMMENT 'named place, e.g. office',
    network_type  LowCardinality(String) COMMENT 'wifi, ble, ...',
    rssi          Int16 COMMENT 'dBm, -120..0',
    lat           Float64,
    lon           Float64,
    vendor        LowCardinality(String) COMMENT 'from the feed or the IEEE OUI registry',
    is_randomized UInt8 COMMENT '1 = locally administered (randomized) MAC',
    ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
-- Daily partitions: every detector reads whole trailing days, so a time window prunes to a few parts,
-- and retention (TTL / DROP PARTITION) works a day at a time.
PARTITION BY toDate(ts)
-- device_id first: per-device questions (profile, ML window, night history) read one contiguous range;
-- ts second keeps each device's sightings in time order for dwell and movement logic.
ORDER BY (device_id, ts)
-- The insert deduplication window makes a re-sent batch (same insert_deduplication_token) a no-op,
-- so re-ingesting a file or retrying after a crash never doubles the data.
SETTINGS non_replicated_deduplication_window = 100000;

-- Per device per hour aggregates, kept by a materialized view (views.sql).
-- AggregatingMergeTree: several insert blocks for the same hour merge into one row.
CREATE TABLE IF NOT EXISTS anomaly_ml.hourly_features
(
    device_id      String,
    hour           DateTime('UTC') COMMENT 'start of the UTC hour',
    event_count    SimpleAggregateFunction(sum, UInt64),
    rssi_sum       SimpleAggregateFunction(sum, Float64),
    rssi_sq_sum    SimpleAggregateFunction(sum, Float64),
    rssi_min       SimpleAggregateFunction(min, Int16),
    rssi_max       SimpleAggregateFunction(max, Int16),
    lat_sum        SimpleAggregateFunction(sum, Float64),
    lon_sum        SimpleAggregateFunction(sum, Float64),
    lat_sq_sum     SimpleAggregateFunction(sum, Float64),
    lon_sq_sum     SimpleAggregateFunction(sum, Float64),
    lat_min        SimpleAggregateFunction(min, Float64),
    lat_max        SimpleAggregateFunction(max, Float64),
    lon_min        SimpleAggregateFunction(min, Float64),
    lon_max        SimpleAggregateFunction(max, Float64),
    first_seen     SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen      SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    active_minutes AggregateFunction(uniqExact, DateTime),
    sensors        AggregateFunction(uniqExact, String),
    folders        AggregateFunction(groupUniqArray, String),
    sensor_list    AggregateFunction(groupUniqArray, String),
    network_type   SimpleAggregateFunction(any, String),
    vendor         SimpleAggregateFunction(any, String),
    is_randomized  SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
-- Monthly partitions: an hour row is small, and training reads 10-30 days at once.
PARTITION BY toYYYYMM(hour)
-- Feature windows read each device's consecutive hours: device first, then hour.
ORDER BY (device_id, hour);

-- Per folder per hour distinct devices, for the density detector.
CREATE TABLE IF NOT EXISTS anomaly_ml.folder_hourly
(
    folder              LowCardinality(String),
    hour                DateTime('UTC'),
    sightings           SimpleAggregateFunction(sum, UInt64),
    devices             AggregateFunction(uniqExact, String) COMMENT 'all distinct MACs',
    stable_devices      AggregateFunction(uniqExact, String) COMMENT 'distinct non-randomized MACs',
    randomized_devices  AggregateFunction(uniqExact, String) COMMENT 'distinct randomized MACs',
    sensors             AggregateFunction(uniqExact, String),
    lat_sum             SimpleAggregateFunction(sum, Float64),
    lon_sum             SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
-- The density baseline reads one folder's trailing hours: folder first.
ORDER BY (folder, hour);

-- Stored anomalies. ReplacingMergeTree on anomaly_id: the id is deterministic (type, subject, window),
-- so a second detection of the same anomaly collapses into one row; writers also skip ids already present.
CREATE TABLE IF NOT EXISTS anomaly_ml.anomalies
(
    anomaly_id    String,
    detected_at   DateTime64(3, 'UTC'),
    device_id     String COMMENT 'empty for folder-level anomalies',
    anomaly_type  LowCardinality(String),
    severity      LowCardinality(String),
    score         Float64 COMMENT 'calibrated, 0..1',
    folder        String,
    vendor        String,
    network_type  String,
    lat           Float64,
    lon           Float64,
    window_start  DateTime64(3, 'UTC'),
    window_end    DateTime64(3, 'UTC'),
    details       String COMMENT 'JSON object',
    model_version String
)
ENGINE = ReplacingMergeTree
-- Monthly partitions by detection window keep old anomalies cheap to drop.
PARTITION BY toYYYYMM(window_start)
-- anomaly_id is the dedup key of ReplacingMergeTree and the lookup key of the API.
ORDER BY anomaly_id;

-- Rows that failed validation at ingest, kept so nothing is silently dropped.
CREATE TABLE IF NOT EXISTS anomaly_ml.ingest_rejects
(
    rejected_at DateTime64(3, 'UTC') DEFAULT now64(3),
    source      String COMMENT 'file path or API batch id',
    line        UInt64 COMMENT '1-based line (CSV/NDJSON, header is line 1) or row index (Parquet/JSON)',
    field       String,
    reason      String,
    raw         String COMMENT 'the row as read, for re-import after correction'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(rejected_at)
-- Operators look rejects up by source file, newest first.
ORDER BY (source, line);

-- One row per stored ingest batch: lets a re-run report what was already stored.
CREATE TABLE IF NOT EXISTS anomaly_ml.ingest_batches
(
    source_hash String COMMENT 'sha256 of the file contents plus the mapping used',
    batch_no    UInt32,
    source      String,
    rows        UInt64,
    stored_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (source_hash, batch_no);

-- Devices an operator (or the fixture learner) marked as known: not alerted on for the given reason.
CREATE TABLE IF NOT EXISTS anomaly_ml.known_devices
(
    device_id  String,
    reason     LowCardinality(String) COMMENT 'anomaly type it is exempt from, or all',
    note       String,
    added_by   String,
    added_at   DateTime64(3, 'UTC') DEFAULT now64(3),
    active     UInt8 DEFAULT 1 COMMENT '0 = removed from the allowlist (latest row wins)'
)
ENGINE = ReplacingMergeTree(added_at)
ORDER BY (device_id, reason);
