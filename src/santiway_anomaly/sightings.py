"""The sighting contract (DESIGN.md "A sighting") as Arrow schemas.

`INPUT_FIELDS` is what a feed provides; `STORED_SCHEMA` is what `santi.way_data` receives.
"""

from __future__ import annotations

import pyarrow as pa

REQUIRED_FIELDS: tuple[str, ...] = ("ts", "device_id", "sensor_id", "folder", "rssi", "lat", "lon")
# Optional probe fields (issue 16) that sniffers such as Kismet and ESP32 report: the 802.11 sequence
# number, the probe's information-element ids and its directed SSID. They help merge the randomized
# MACs of one phone; a feed without them is stored exactly as before (the columns keep their defaults).
PROBE_FIELDS: tuple[str, ...] = ("seq", "ies", "ssid")
OPTIONAL_FIELDS: tuple[str, ...] = ("network_type", "vendor", *PROBE_FIELDS)
INPUT_FIELDS: tuple[str, ...] = REQUIRED_FIELDS + OPTIONAL_FIELDS

RSSI_MIN, RSSI_MAX = -120, 0

# A feed's sightings with every field present (what the simulator writes).
INPUT_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("sensor_id", pa.string(), nullable=False),
        pa.field("folder", pa.string(), nullable=False),
        pa.field("network_type", pa.string(), nullable=False),
        pa.field("rssi", pa.int16(), nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("vendor", pa.string(), nullable=False),
    ]
)
STORED_SCHEMA = INPUT_SCHEMA.append(pa.field("is_randomized", pa.uint8(), nullable=False))
STORED_COLUMNS: list[str] = STORED_SCHEMA.names
# Appended to a stored batch only when its source had at least one probe field: a batch without them
# inserts the base columns, and santi.way_data's defaults (seq -1, ies '', ssid '') fill the rest.
PROBE_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int16(), nullable=False),
        pa.field("ies", pa.string(), nullable=False),
        pa.field("ssid", pa.string(), nullable=False),
    ]
)
SEQ_MAX = 4095  # 802.11 sequence numbers are 12 bits
SEQ_MISSING = -1
MAX_IES_CHARS = 1024  # up to 256 element ids written as "221,1,50,..."
MAX_SSID_CHARS = 64  # an SSID is at most 32 bytes; anonymised forms may be longer
