-- Anomalies sorted for their queries (issue 17): every listing is newest window first and most filters
-- are a time range (the API's since/until, the stats window, the dashboard's look-back), but the table was
-- sorted by anomaly_id, so each of them read and sorted the whole table. This migration rebuilds the
-- table with the detection window first in the sort key and moves the stored anomalies into it.
--
-- Idempotent storage is unchanged: anomaly_id is a hash of (type, subject, window_start, window_end), so
-- one anomaly always has one (window_start, anomaly_id) and ReplacingMergeTree still collapses a second
-- copy of it into one row; writers still skip ids already stored (storage/anomalies.py).
--
-- Safe to re-run after a crash at any step: a half-filled new table is dropped first, the copy reads
-- whatever `anomalies` holds (old or, after the exchange, already new), and the exchange is atomic.

DROP TABLE IF EXISTS anomaly_ml.anomalies_by_time;

CREATE TABLE anomaly_ml.anomalies_by_time
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
    model_version String,
    -- Lookups by id (a link to one anomaly, the writers' "already stored?" check, feedback, replay)
    -- no longer follow the sort key: a bloom filter skips the granules that cannot hold the id.
    INDEX idx_anomaly_id anomaly_id TYPE bloom_filter GRANULARITY 1,
    -- "Window ends after `since`" (every time filter is an overlap with [since, until)): windows are
    -- short and rows sorted by window_start, so each granule's window_end range is narrow and this
    -- index skips all granules that end before `since`; `window_start < until` uses the key itself.
    INDEX idx_window_end window_end TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
-- Monthly partitions by detection window keep old anomalies cheap to drop.
PARTITION BY toYYYYMM(window_start)
-- Time first: "newest window first" reads the key backwards and stops after a page, a since/until
-- filter reads only its range. anomaly_id second: the key of ReplacingMergeTree is (window, id), which
-- names one anomaly exactly as the id alone did (the id is derived from the window).
ORDER BY (window_start, anomaly_id)
-- Pages are 100 rows and a day holds a few thousand anomalies: 1,024-row granules read less around a
-- page or a short range than the default 8,192.
SETTINGS index_granularity = 1024;

INSERT INTO anomaly_ml.anomalies_by_time SELECT * FROM anomaly_ml.anomalies FINAL;

EXCHANGE TABLES anomaly_ml.anomalies AND anomaly_ml.anomalies_by_time;

DROP TABLE anomaly_ml.anomalies_by_time;
