-- Detectors (issue 3): the days on which each device was seen. "Known to the site" (seen on a few
-- earlier days) is asked about every device on every run; a day-level table answers it from ~1 row
-- per device per day instead of ~10 hourly rows.

CREATE TABLE IF NOT EXISTS anomaly_ml.device_days
(
    day        Date COMMENT 'UTC day',
    device_id  String,
    sightings  SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
-- Monthly partitions like the other aggregates.
PARTITION BY toYYYYMM(day)
-- Queries read a range of days for all devices: day first.
ORDER BY (day, device_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS anomaly_ml.device_days_mv
TO anomaly_ml.device_days
AS SELECT
    toDate(ts, 'UTC') AS day,
    device_id,
    count() AS sightings
FROM santi.way_data
GROUP BY day, device_id;

-- Backfill sightings stored before this migration (a device-day present twice still counts once
-- in uniqExact(day), the only question asked of this table).
INSERT INTO anomaly_ml.device_days
SELECT toDate(ts, 'UTC') AS day, device_id, count() AS sightings
FROM santi.way_data
GROUP BY day, device_id;
