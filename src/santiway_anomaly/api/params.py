"""Shared parameter rules: time windows clamped to what ClickHouse can store, bounded look-backs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from santiway_anomaly.api.errors import invalid
from santiway_anomaly.config import Settings

# Shortest look-back: below a few minutes a window holds no complete minute of sightings.
MIN_HOURS = 0.1
# DateTime64's range in ClickHouse: a bound outside it means "everything on that side".
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, tzinfo=UTC)


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return min(max(aware, EARLIEST), LATEST)


def check_hours(hours: float, settings: Settings) -> None:
    if not MIN_HOURS <= hours <= settings.api_max_hours:
        message = f"hours must be between {MIN_HOURS:g} and {settings.api_max_hours:g} (API_MAX_HOURS)"
        invalid("query", "hours", message, hours)


def window(hours: float, until: datetime | None, settings: Settings) -> tuple[datetime, datetime]:
    """[until - hours, until), until defaulting to now, both inside ClickHouse's date range."""
    check_hours(hours, settings)
    end = utc(until) or datetime.now(UTC)
    start = end - timedelta(hours=hours) if end - EARLIEST > timedelta(hours=hours) else EARLIEST
    if start >= end:  # `until` at the very start of the range
        end = start + timedelta(hours=hours)
    return start, end
