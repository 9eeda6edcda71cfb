-- Issue 16: the optional probe fields of a sighting. ADD COLUMN with a DEFAULT is a metadata change:
-- existing parts are not rewritten, old rows read the default, and a batch that does not name these
-- columns (a feed without them) is stored exactly as before.
ALTER TABLE santi.way_data ADD COLUMN IF NOT EXISTS seq Int16 DEFAULT -1 COMMENT '802.11 sequence number 0..4095, -1 = not reported';
ALTER TABLE santi.way_data ADD COLUMN IF NOT EXISTS ies String DEFAULT '' COMMENT 'information-element ids of the probe, comma-separated; empty = not reported';
ALTER TABLE santi.way_data ADD COLUMN IF NOT EXISTS ssid String DEFAULT '' COMMENT 'directed SSID of the probe; empty = broadcast or not reported';
