-- Materialized views feeding the hourly aggregates from santi.way_data.
-- Usable by hand: clickhouse-client --multiquery < clickhouse/views.sql (after schema.sql).
-- No window functions here: a materialized view sees one insert block at a time.

CREATE MATERIALIZED VIEW IF NOT EXISTS anomaly_ml.hourly_features_mv
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
    uniqExactState(toStartOfMinute(toDateTime(ts, 'UTC'))) AS active_minutes,
    uniqExactState(toString(sensor_id)) AS sensors,
    groupUniqArrayState(toString(folder)) AS folders,
    groupUniqArrayState(toString(sensor_id)) AS sensor_list,
    any(toString(network_type)) AS network_type,
    any(toString(vendor)) AS vendor,
    max(is_randomized) AS is_randomized
FROM santi.way_data
GROUP BY device_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS anomaly_ml.folder_hourly_mv
TO anomaly_ml.folder_hourly
AS SELECT
    folder,
    toStartOfHour(toDateTime(ts, 'UTC')) AS hour,
    count() AS sightings,
    uniqExactState(device_id) AS devices,
    uniqExactStateIf(device_id, is_randomized = 0) AS stable_devices,
    uniqExactStateIf(device_id, is_randomized = 1) AS randomized_devices,
    uniqExactState(toString(sensor_id)) AS sensors,
    sum(lat) AS lat_sum,
    sum(lon) AS lon_sum
FROM santi.way_data
GROUP BY folder, hour;

-- Finalised read views: one row per device-hour / folder-hour, aggregates merged.
-- The inner query merges the partial aggregates under other names, so that derived columns do not
-- refer to an alias of an aggregate (ClickHouse resolves aliases before columns).
CREATE VIEW IF NOT EXISTS anomaly_ml.hourly_features_v AS
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
    minutes AS active_minutes,
    n_sensors AS sensor_count,
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
        uniqExactMerge(active_minutes) AS minutes,
        uniqExactMerge(sensors) AS n_sensors,
        groupUniqArrayMerge(folders) AS folder_list,
        groupUniqArrayMerge(sensor_list) AS sensors_seen,
        any(network_type) AS net,
        any(vendor) AS vend,
        max(is_randomized) AS randomized
    FROM anomaly_ml.hourly_features
    GROUP BY device_id, hour
);

CREATE VIEW IF NOT EXISTS anomaly_ml.folder_hourly_v AS
SELECT
    folder,
    hour,
    n AS sightings,
    n_devices AS unique_devices,
    n_stable AS stable_devices,
    n_randomized AS randomized_devices,
    n_sensors AS sensor_count,
    s_lat / n AS lat_mean,
    s_lon / n AS lon_mean
FROM
(
    SELECT
        folder,
        hour,
        sum(sightings) AS n,
        uniqExactMerge(devices) AS n_devices,
        uniqExactMerge(stable_devices) AS n_stable,
        uniqExactMerge(randomized_devices) AS n_randomized,
        uniqExactMerge(sensors) AS n_sensors,
        sum(lat_sum) AS s_lat,
        sum(lon_sum) AS s_lon
    FROM anomaly_ml.folder_hourly
    GROUP BY folder, hour
);
