-- device_days (migration 011) sums sightings: like the hourly tables (003), it must drop a re-sent
-- ingest batch instead of adding it twice.
ALTER TABLE anomaly_ml.device_days MODIFY SETTING non_replicated_deduplication_window = 100000;
