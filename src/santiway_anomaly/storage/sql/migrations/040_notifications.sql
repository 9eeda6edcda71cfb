-- Notifications (issue 6): the notification log, the webhook outbox, operator feedback.

-- Every notification the service sent, in the order it was sent. The WebSocket hub replays it to a
-- client that reconnects with ?since=<seq or time>, the cooldown is rebuilt from it after a restart,
-- an anomaly_id found here is never notified again.
CREATE TABLE IF NOT EXISTS anomaly_ml.notifications
(
    seq           UInt64 COMMENT 'notification id: increasing, unique per service',
    anomaly_id    String,
    created_at    DateTime64(3, 'UTC'),
    subject       String COMMENT 'device_id, or folder:<name> for folder-level anomalies',
    anomaly_type  LowCardinality(String),
    severity      LowCardinality(String),
    folder        String,
    payload       String COMMENT 'the notification JSON exactly as sent',
    -- "Was this anomaly notified before?" looks up ids among all rows: a bloom filter skips granules.
    INDEX idx_anomaly_id anomaly_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = MergeTree
-- Monthly partitions: old notifications are cheap to drop.
PARTITION BY toYYYYMM(created_at)
-- Replay reads a seq range in order: seq is the sort key.
ORDER BY seq
-- Replay and cooldown look back minutes to days: 90 days is the API's longest look-back (API_MAX_HOURS).
TTL toDateTime(created_at) + INTERVAL 90 DAY;

-- Webhook deliveries to the host application (DJANGO_URL). A row is written as pending before the
-- first attempt, so a crash or restart loses nothing, and each state change inserts a newer version.
CREATE TABLE IF NOT EXISTS anomaly_ml.notify_outbox
(
    seq           UInt64,
    anomaly_id    String COMMENT 'the idempotency key sent to the receiver',
    state         LowCardinality(String) COMMENT 'pending, delivered or rejected (4xx: never retried)',
    attempts      UInt32,
    last_error    String,
    created_at    DateTime64(3, 'UTC'),
    updated_at    DateTime64(3, 'UTC'),
    version       UInt64 COMMENT 'nanoseconds, the newest version of a seq wins',
    payload       String
)
ENGINE = ReplacingMergeTree(version)
-- One row per notification after merges, delivery walks pending rows oldest first, by seq.
ORDER BY seq;

-- Operator feedback on anomalies (false alarm, confirmed), the newest verdict per anomaly wins.
CREATE TABLE IF NOT EXISTS anomaly_ml.anomaly_feedback
(
    anomaly_id    String,
    verdict       LowCardinality(String) COMMENT 'false_alarm or confirmed',
    note          String,
    added_by      String COMMENT 'who gave it: a key id, never the key',
    added_at      DateTime64(3, 'UTC'),
    device_id     String,
    anomaly_type  LowCardinality(String)
)
ENGINE = ReplacingMergeTree(added_at)
-- Looked up by anomaly: anomaly_id is the key and the replacement key.
ORDER BY anomaly_id;
