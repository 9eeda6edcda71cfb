"""SantiWay anomaly detection over WiFi/Bluetooth sightings stored in ClickHouse."""

__version__ = "0.1.0"
