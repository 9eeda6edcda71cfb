"""The sighting contract (DESIGN.md "A sighting") as Arrow schemas.

`INPUT_FIELDS` is what a feed provides; `STORED_SCHEMA` is what `santi.way_data` receives.
"""

from __future__ import annotations

import pyarrow as pa

REQUIRED_FIELDS: tuple[str, ...] = ("ts", "device_id", "sensor_id", "folder", "rssi", "lat", "lon")
OPTIONAL_FIELDS: tuple[str, ...] = ("network_type", "vendor")
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
