-- Issue 16: count phones, not randomized MACs. A phone that randomizes shows a new MAC per probe
-- burst or every 15-30 minutes, but keeps its probe's information-element set and its directed
-- SSIDs; a MAC flood (one device cycling thousands of MACs) shows a handful of such sets. So each
-- 5-minute slot also keeps the distinct *fingerprints* of its randomized rows: "ies|ssid" when the
-- feed reports ies, else the MAC itself (a feed without probe fields counts exactly as before).
-- ADD COLUMN keeps the existing rows; the backfill below adds only the new state to each slot
-- (AggregatingMergeTree merges it with the slot's row: sums +0, unions with empty sets).

ALTER TABLE anomaly_ml.folder_5min ADD COLUMN IF NOT EXISTS randomized_fingerprints AggregateFunction(uniqExact, String) COMMENT 'distinct fingerprints (ies|ssid, else MAC) of randomized rows';

DROP VIEW IF EXISTS anomaly_ml.folder_5min_mv;

CREATE MATERIALIZED VIEW anomaly_ml.folder_5min_mv
TO anomaly_ml.folder_5min
AS SELECT
    folder,
    toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
    count() AS sightings,
    uniqExactStateIf(device_id, is_randomized = 0) AS stable_devices,
    uniqExactStateIf(device_id, is_randomized = 1) AS randomized_devices,
    groupUniqArray(toString(sensor_id)) AS sensors,
    sum(lat) AS lat_sum,
    sum(lon) AS lon_sum,
    uniqExactStateIf(if(ies = '', device_id, concat(ies, '|', ssid)), is_randomized = 1) AS randomized_fingerprints
FROM santi.way_data
GROUP BY folder, slot;

-- Backfill every stored slot (without ies the fingerprint is the MAC). The chained folder_hourly_mv receives rows of
-- zeros and empty states from this insert, which change nothing there.
INSERT INTO anomaly_ml.folder_5min (folder, slot, randomized_fingerprints)
SELECT
    folder,
    toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
    uniqExactStateIf(if(ies = '', device_id, concat(ies, '|', ssid)), is_randomized = 1) AS randomized_fingerprints
FROM santi.way_data
GROUP BY folder, slot;
