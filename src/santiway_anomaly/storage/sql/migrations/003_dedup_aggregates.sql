-- A re-sent batch (same insert_deduplication_token) is dropped by santi.way_data, but the materialized
-- views would still aggregate it twice unless their target tables deduplicate too. With
-- deduplicate_blocks_in_dependent_materialized_views = 1 (set by the store on every insert) the view blocks
-- carry a token derived from the source block, so only true repeats are dropped.
ALTER TABLE anomaly_ml.hourly_features MODIFY SETTING non_replicated_deduplication_window = 100000;
ALTER TABLE anomaly_ml.folder_hourly MODIFY SETTING non_replicated_deduplication_window = 100000;
