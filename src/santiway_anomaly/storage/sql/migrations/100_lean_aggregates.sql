-- Ingest speed (issue 2): the four materialized views on santi.way_data cost more than storing the
-- sightings themselves. This migration rebuilds the aggregate tables so that an insert costs less
-- while every column the detectors read keeps its meaning and its exact value:
--   * hourly_features: distinct minutes as a 60-bit minute mask (groupBitOr) instead of a uniqExact
--     state, folders and sensors as plain arrays merged by groupUniqArrayArray, and no separate
--     distinct-sensor state (it is the length of the sensor list),
--   * folder_5min gains the sighting count, the sensor list and the position sums, and folder_hourly
--     is chained from it (a view of a view: it reads the few 5-minute rows, not every sighting),
--   * folder_hourly drops its all-devices state: stable and randomized MACs are disjoint sets (the
--     locally administered bit decides), so all devices = stable + randomized, exactly,
--   * device_days is chained from hourly_features.
-- Only two views now read every sighting. The aggregates are rebuilt from santi.way_data, the source
-- of truth, so re-running this file after a crash half way through is safe.

DROP VIEW IF EXISTS anomaly_ml.hourly_features_mv;
DROP VIEW IF EXISTS anomaly_ml.folder_hourly_mv;
DROP VIEW IF EXISTS anomaly_ml.folder_5min_mv;
DROP VIEW IF EXISTS anomaly_ml.device_days_mv;
DROP VIEW IF EXISTS anomaly_ml.hourly_features_v;
DROP VIEW IF EXISTS anomaly_ml.folder_hourly_v;
DROP TABLE IF EXISTS anomaly_ml.hourly_features;
DROP TABLE IF EXISTS anomaly_ml.folder_hourly;
DROP TABLE IF EXISTS anomaly_ml.folder_5min;
DROP TABLE IF EXISTS anomaly_ml.device_days;

-- Per device per hour aggregates.
CREATE TABLE anomaly_ml.hourly_features
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
    minute_mask    SimpleAggregateFunction(groupBitOr, UInt64) COMMENT 'bit m set = seen in minute m of the hour',
    folders        SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    sensor_list    SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    network_type   SimpleAggregateFunction(any, String),
    vendor         SimpleAggregateFunction(any, String),
    is_randomized  SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
-- Monthly partitions: an hour row is small, and training reads 10-30 days at once.
PARTITION BY toYYYYMM(hour)
-- Feature windows read each device's consecutive hours: device first, then hour.
ORDER BY (device_id, hour)
-- A re-sent ingest batch must not be aggregated twice (see migration 003).
SETTINGS non_replicated_deduplication_window = 100000;

-- The days on which each device was seen (see migration 011).
CREATE TABLE anomaly_ml.device_days
(
    day        Date COMMENT 'UTC day',
    device_id  String,
    sightings  SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
-- Queries read a range of days for all devices: day first.
ORDER BY (day, device_id)
SETTINGS non_replicated_deduplication_window = 100000;

-- Per folder per 5 minutes (see migration 010), now also the source of folder_hourly.
CREATE TABLE anomaly_ml.folder_5min
(
    folder              LowCardinality(String),
    slot                DateTime('UTC') COMMENT 'start of the 5-minute slot, UTC',
    sightings           SimpleAggregateFunction(sum, UInt64),
    stable_devices      AggregateFunction(uniqExact, String) COMMENT 'distinct non-randomized MACs',
    randomized_devices  AggregateFunction(uniqExact, String) COMMENT 'distinct randomized MACs',
    sensors             SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    lat_sum             SimpleAggregateFunction(sum, Float64),
    lon_sum             SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(slot)
-- Detectors read one folder's trailing slots: folder first, then time.
ORDER BY (folder, slot)
SETTINGS non_replicated_deduplication_window = 100000;

-- Per folder per hour, for the density detector. All distinct devices = stable + randomized.
CREATE TABLE anomaly_ml.folder_hourly
(
    folder              LowCardinality(String),
    hour                DateTime('UTC'),
    sightings           SimpleAggregateFunction(sum, UInt64),
    stable_devices      AggregateFunction(uniqExact, String) COMMENT 'distinct non-randomized MACs',
    randomized_devices  AggregateFunction(uniqExact, String) COMMENT 'distinct randomized MACs',
    sensors             SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    lat_sum             SimpleAggregateFunction(sum, Float64),
    lon_sum             SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
-- The density baseline reads one folder's trailing hours: folder first.
ORDER BY (folder, hour)
SETTINGS non_replicated_deduplication_window = 100000;

CREATE MATERIALIZED VIEW anomaly_ml.hourly_features_mv
TO anomaly_ml.hourly_features
AS SELECT
    device_id,
    toStartOfHour(toDateTime(ts, 'UTC')) AS hour,
    count() AS event_count,
    sum(toFloat64(rssi)) AS rssi_sum,
    sum(toFloat64(rssi) * rssi) AS rssi_sq_sum,
    min(rssi) AS rssi_min,
    max(rssi) AS rssi_max,
    sum(lat) AS lat_sum,
    sum(lon) AS lon_sum,
    sum(lat * lat) AS lat_sq_sum,
    sum(lon * lon) AS lon_sq_sum,
    min(lat) AS lat_min,
    max(lat) AS lat_max,
    min(lon) AS lon_min,
    max(lon) AS lon_max,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    groupBitOr(bitShiftLeft(toUInt64(1), toMinute(toDateTime(ts, 'UTC')))) AS minute_mask,
    groupUniqArray(toString(folder)) AS folders,
    groupUniqArray(toString(sensor_id)) AS sensor_list,
    any(toString(network_type)) AS network_type,
    any(toString(vendor)) AS vendor,
    max(is_randomized) AS is_randomized
FROM santi.way_data
GROUP BY device_id, hour;

-- Chained: fires on the rows hourly_features_mv writes, one per device-hour of the insert.
CREATE MATERIALIZED VIEW anomaly_ml.device_days_mv
TO anomaly_ml.device_days
AS SELECT
    toDate(hour) AS day,
    device_id,
    sum(event_count) AS sightings
FROM anomaly_ml.hourly_features
GROUP BY day, device_id;

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
    sum(lon) AS lon_sum
FROM santi.way_data
GROUP BY folder, slot;

-- Chained: merges the 5-minute states of the insert into hourly ones (a union of distinct sets).
CREATE MATERIALIZED VIEW anomaly_ml.folder_hourly_mv
TO anomaly_ml.folder_hourly
AS SELECT
    folder,
    toStartOfHour(slot) AS hour,
    sum(sightings) AS sightings,
    uniqExactMergeState(stable_devices) AS stable_devices,
    uniqExactMergeState(randomized_devices) AS randomized_devices,
    groupUniqArrayArray(sensors) AS sensors,
    sum(lat_sum) AS lat_sum,
    sum(lon_sum) AS lon_sum
FROM anomaly_ml.folder_5min
GROUP BY folder, hour;

-- Rebuild from the stored sightings; the chained views fill device_days and folder_hourly.
INSERT INTO anomaly_ml.hourly_features
SELECT
    device_id,
    toStartOfHour(toDateTime(ts, 'UTC')) AS hour,
    count() AS event_count,
    sum(toFloat64(rssi)) AS rssi_sum,
    sum(toFloat64(rssi) * rssi) AS rssi_sq_sum,
    min(rssi) AS rssi_min,
    max(rssi) AS rssi_max,
    sum(lat) AS lat_sum,
    sum(lon) AS lon_sum,
    sum(lat * lat) AS lat_sq_sum,
    sum(lon * lon) AS lon_sq_sum,
    min(lat) AS lat_min,
    max(lat) AS lat_max,
    min(lon) AS lon_min,
    max(lon) AS lon_max,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    groupBitOr(bitShiftLeft(toUInt64(1), toMinute(toDateTime(ts, 'UTC')))) AS minute_mask,
    groupUniqArray(toString(folder)) AS folders,
    groupUniqArray(toString(sensor_id)) AS sensor_list,
    any(toString(network_type)) AS network_type,
    any(toString(vendor)) AS vendor,
    max(is_randomized) AS is_randomized
FROM santi.way_data
GROUP BY device_id, hour;

INSERT INTO anomaly_ml.folder_5min
SELECT
    folder,
    toStartOfFiveMinutes(toDateTime(ts, 'UTC')) AS slot,
    count() AS sightings,
    uniqExactStateIf(device_id, is_randomized = 0) AS stable_devices,
    uniqExactStateIf(device_id, is_randomized = 1) AS randomized_devices,
    groupUniqArray(toString(sensor_id)) AS sensors,
    sum(lat) AS lat_sum,
    sum(lon) AS lon_sum
FROM santi.way_data
GROUP BY folder, slot;

-- Finalised read views, same columns as before (views.sql explains the inner query).
CREATE VIEW anomaly_ml.hourly_features_v AS
SELECT
    device_id,
    hour,
    n AS event_count,
    s_rssi / n AS rssi_mean,
    sqrt(greatest(s_rssi2 / n - pow(s_rssi / n, 2), 0)) AS rssi_std,
    mn_rssi AS rssi_min,
    mx_rssi AS rssi_max,
    s_lat / n AS lat_mean,
    s_lon / n AS lon_mean,
    sqrt(greatest(s_lat2 / n - pow(s_lat / n, 2), 0)) AS lat_std,
    sqrt(greatest(s_lon2 / n - pow(s_lon / n, 2), 0)) AS lon_std,
    mn_lat AS lat_min,
    mx_lat AS lat_max,
    mn_lon AS lon_min,
    mx_lon AS lon_max,
    t0 AS first_seen,
    t1 AS last_seen,
    toUInt64(bitCount(mask)) AS active_minutes,
    toUInt64(length(sensors_seen)) AS sensor_count,
    folder_list AS folders,
    sensors_seen AS sensor_list,
    net AS network_type,
    vend AS vendor,
    randomized AS is_randomized
FROM
(
    SELECT
        device_id,
        hour,
        sum(event_count) AS n,
        sum(rssi_sum) AS s_rssi,
        sum(rssi_sq_sum) AS s_rssi2,
        min(rssi_min) AS mn_rssi,
        max(rssi_max) AS mx_rssi,
        sum(lat_sum) AS s_lat,
        sum(lon_sum) AS s_lon,
        sum(lat_sq_sum) AS s_lat2,
        sum(lon_sq_sum) AS s_lon2,
        min(lat_min) AS mn_lat,
        max(lat_max) AS mx_lat,
        min(lon_min) AS mn_lon,
        max(lon_max) AS mx_lon,
        min(first_seen) AS t0,
        max(last_seen) AS t1,
        groupBitOr(minute_mask) AS mask,
        groupUniqArrayArray(folders) AS folder_list,
        groupUniqArrayArray(sensor_list) AS sensors_seen,
        any(network_type) AS net,
        any(vendor) AS vend,
        max(is_randomized) AS randomized
    FROM anomaly_ml.hourly_features
    GROUP BY device_id, hour
);

CREATE VIEW anomaly_ml.folder_hourly_v AS
SELECT
    folder,
    hour,
    n AS sightings,
    n_stable + n_randomized AS unique_devices,
    n_stable AS stable_devices,
    n_randomized AS randomized_devices,
    toUInt64(length(sensor_set)) AS sensor_count,
    s_lat / n AS lat_mean,
    s_lon / n AS lon_mean
FROM
(
    SELECT
        folder,
        hour,
        sum(sightings) AS n,
        uniqExactMerge(stable_devices) AS n_stable,
        uniqExactMerge(randomized_devices) AS n_randomized,
        groupUniqArrayArray(sensors) AS sensor_set,
        sum(lat_sum) AS s_lat,
        sum(lon_sum) AS s_lon
    FROM anomaly_ml.folder_hourly
    GROUP BY folder, hour
);
