"""Schemas of GET /devices/now (kept apart from the route so the dashboard's client imports no FastAPI)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class DeviceHerePublic(BaseModel):
    folder: str
    device_id: str
    vendor: str
    network_type: str
    status: str  # known | fixture | new | seen before
    mac: str  # stable | randomized
    first_seen_here: datetime
    last_seen: datetime
    first_day_ever: date | None
    sightings: int
    sensors: int
    rssi_avg: float
    rssi_max: int


class DevicesNowPublic(BaseModel):
    since: datetime
    until: datetime
    minutes: float
    count: int
    truncated: bool
    data: list[DeviceHerePublic]
