-- Detectors (issue 3): distinct devices per folder per 5 minutes, stable and randomized apart.
-- A phone with a randomized MAC shows one MAC at a time but several per hour; the peak of
-- distinct randomized MACs in any 5-minute slot of an hour is a count robust to that rotation
-- (density_spike), and the night detector judges randomized MACs as a population with it.
-- uniqExact states are set unions, so the backfill below and the view may overlap harmlessly.

CREATE TABLE IF NOT EXISTS anomaly_ml.folder_5min
(
    folder              LowCardinality(String),
    slot                DateTime('UTC') COMMENT 'start of the 5-minute slot, UTC',
    stable_devices      AggregateFunction(uniqExact, String) COMMENT 'distinct non-randomized MACs',
    randomized_devices  AggregateFunction(uniqExact, String) COMMENT 'distinct randomized MACs'
)
ENGINE = AggregatingMergeTree
-- Monthly partitions like the hourly tables: baselines read 2-3 weeks at a time.
PARTITION BY toYYYYMM(slot)
-- Detectors read one folder's trailing slots: folder first, then time.
ORDER BY (folder, slot);

CREATE MATERIALIZED VIEW IF NOT EXISTS anomaly_ml.folder_5min_mv
TO anomaly_ml.folder_5min
AS SELECT
    folder,
    toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
    uniqExactStateIf(device_id, is_randomized = 0) AS stable_devices,
    uniqExactStateIf(device_id, is_randomized = 1) AS randomized_devices
FROM santi.way_data
GROUP BY folder, slot;

-- Backfill sightings stored before this migration.
INSERT INTO anomaly_ml.folder_5min
SELECT
    folder,
    toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
    uniqExactStateIf(device_id, is_randomized = 0) AS stable_devices,
    uniqExactStateIf(device_id, is_randomized = 1) AS randomized_devices
FROM santi.way_data
GROUP BY folder, slot;
