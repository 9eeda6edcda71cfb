"""Schemas of GET /anomalies/{anomaly_id}/following (apart from the route: the dashboard's client imports
no FastAPI)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SensorPointPublic(BaseModel):
    time: datetime = Field(description="Start of the time bucket (SLOT_MINUTES)")
    lat: float
    lon: float
    folder: str
    sightings: int = Field(description="Sightings the sensor made in the bucket (any device)")


class FollowStopPublic(BaseModel):
    order: int = Field(description="1 = the first stop where the sensor heard the device")
    folder: str
    lat: float
    lon: float
    first_seen: datetime
    last_seen: datetime
    sightings: int
    rssi_mean: float


class FollowingEvidencePublic(BaseModel):
    """The evidence of a following anomaly: the moving sensor's path over the episode, and the stops
    where it heard the device, in time order."""

    anomaly_id: str
    device_id: str
    sensor_id: str
    start: datetime
    end: datetime
    sensor_path: list[SensorPointPublic]
    device_stops: list[FollowStopPublic]
