"""What a simulation run is asked to produce (the CLI's options, validated in one place)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Mean sightings per hour of one present device at one sensor that hears it. Phones probe every
# 30-120 s and scanners keep every frame they decode, so ~40/h (one every 1.5 min) is a middle value.
DEFAULT_SIGHTINGS_PER_HOUR = 40.0
# Devices generated per vectorised batch: bounds memory (10k devices ~ 2-4 M rows, ~0.5 GB peak).
DEFAULT_CHUNK_DEVICES = 10_000


@dataclass(frozen=True)
class SimOptions:
    devices: int = 2000
    days: int = 14
    folders: int = 10
    seed: int = 42
    start: date | None = None  # local date of the first day; None = `days` days before today (UTC)
    anomaly_days: int = 3
    sightings_per_hour: float = DEFAULT_SIGHTINGS_PER_HOUR
    timezone: str = "UTC"
    mobile_sensors: int | None = None  # None = one per six folders (none under four folders)
    anomalies_per_day: int | None = None  # per scenario and anomaly day; None = scales with devices
    behaviour_changes: int | None = None  # ML behaviour-change devices; None = 1 % of devices (>= 10)
    chunk_devices: int = DEFAULT_CHUNK_DEVICES
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.devices < 20:
            raise ValueError("--devices must be at least 20 (every role needs a few members)")
        if self.days < 1:
            raise ValueError("--days must be at least 1")
        if self.folders < 1:
            raise ValueError("--folders must be at least 1")
        if self.anomaly_days < 0:
            raise ValueError("--anomaly-days must be >= 0")
        # A one-day run with the default of three anomaly days injects into its one day.
        object.__setattr__(self, "anomaly_days", min(self.anomaly_days, self.days))
        if not 0 < self.sightings_per_hour <= 3600:
            raise ValueError("--sightings-per-hour must be in (0, 3600]")
        if self.mobile_sensors is not None and self.mobile_sensors < 0:
            raise ValueError("--mobile-sensors must be >= 0")
        if self.anomalies_per_day is not None and self.anomalies_per_day < 0:
            raise ValueError("--anomalies-per-day must be >= 0")
        if self.behaviour_changes is not None and self.behaviour_changes < 0:
            raise ValueError("--behaviour-changes must be >= 0")
        if self.chunk_devices < 100:
            raise ValueError("chunk_devices must be >= 100")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}; use an IANA name such as Europe/Moscow") from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start_date(self) -> date:
        if self.start is not None:
            return self.start
        today = datetime.now(UTC).date()
        return today - timedelta(days=self.days)

    @property
    def per_day(self) -> int:
        """Injected anomalies per scenario per anomaly day."""
        if self.anomalies_per_day is not None:
            return self.anomalies_per_day
        return int(min(10, max(2, round(self.devices / 1000))))

    @property
    def n_behaviour_changes(self) -> int:
        if self.behaviour_changes is not None:
            return self.behaviour_changes
        return int(min(500, max(10, self.devices // 100)))
