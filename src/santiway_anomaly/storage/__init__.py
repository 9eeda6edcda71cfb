"""Storage: ClickHouse through clickhouse-connect (embedded chDB or a server)."""

from santiway_anomaly.storage.lock import StoreLockedError
from santiway_anomaly.storage.names import identifier
from santiway_anomaly.storage.store import Store, StoreError, StoreUnavailableError, StoreWriteError

__all__ = ["Store", "StoreError", "StoreLockedError", "StoreUnavailableError", "StoreWriteError", "identifier"]
