"""Response and request schemas, named by role (FastAPI template: `AnomalyPublic`, `AnomaliesPublic`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from santiway_anomaly.api.fields import IsoDateTime

MAC_EXAMPLE = "AA:BB:CC:DD:EE:FF"


class ErrorPublic(BaseModel):
    detail: str = Field(description="What went wrong and, for bad input, what is allowed")


class AnomalyPublic(BaseModel):
    """One anomaly (DESIGN.md contract)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "anomaly_id": "6f1c0e3a9b2d4c5e8f7a6b5c4d3e2f1a",
                    "detected_at": "2026-01-15T03:05:00Z",
                    "device_id": MAC_EXAMPLE,
                    "anomaly_type": "night_activity",
                    "severity": "warning",
                    "score": 0.74,
                    "folder": "office",
                    "vendor": "Apple, Inc.",
                    "network_type": "wifi",
                    "lat": 55.7558,
                    "lon": 37.6173,
                    "window_start": "2026-01-15T02:00:00Z",
                    "window_end": "2026-01-15T03:00:00Z",
                    "details": {"night_events": 42, "history_night_share": 0.01},
                    "model_version": "",
                }
            ]
        }
    )

    anomaly_id: str
    detected_at: datetime
    device_id: str = Field(description="Empty for folder-level anomalies (density_spike)")
    anomaly_type: str = Field(description="density_spike | night_activity | stationary_surveillance | ml_behavior")
    severity: str = Field(description="info | warning | critical")
    score: float = Field(description="Calibrated score in [0, 1]; 0.5 alarm, 0.7 warning, 0.85 critical")
    folder: str
    vendor: str
    network_type: str
    lat: float
    lon: float
    window_start: datetime
    window_end: datetime
    details: dict[str, Any] = Field(description="The numbers that made it fire")
    model_version: str = Field(description="ML model version (ml_behavior only)")


class AnomaliesPublic(BaseModel):
    """A page of anomalies, newest window first."""

    data: list[AnomalyPublic]
    count: int = Field(description="Anomalies matching the filters (all pages)")
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page, null on the last page")


class CountItem(BaseModel):
    key: str
    count: int


class HourItem(BaseModel):
    hour: datetime
    count: int


class TopItem(BaseModel):
    key: str
    count: int
    max_score: float


class OccupancyItem(BaseModel):
    folder: str
    hours: int = Field(description="Hours of the window with sightings in the folder")
    unique_devices_peak: int = Field(description="Most distinct MACs in one hour (raw)")
    people_peak: float = Field(description="Most estimated people in one hour (GET /folders/occupancy)")
    people_peak_low: float = Field(description="Lower end of the interval in that hour")
    people_peak_high: float = Field(description="Upper end of the interval in that hour")
    people_mean: float = Field(description="Mean estimated people over the hours with sightings")


class StatsPublic(BaseModel):
    """Anomaly counts over a time window."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-01-14T12:00:00Z",
                    "until": "2026-01-15T12:00:00Z",
                    "hours": 24.0,
                    "total": 3,
                    "by_type": [{"key": "night_activity", "count": 2}, {"key": "density_spike", "count": 1}],
                    "by_severity": [{"key": "warning", "count": 2}, {"key": "critical", "count": 1}],
                    "by_folder": [{"key": "office", "count": 3}],
                    "by_hour": [{"hour": "2026-01-15T02:00:00Z", "count": 3}],
                    "top_devices": [{"key": MAC_EXAMPLE, "count": 2, "max_score": 0.74}],
                    "top_folders": [{"key": "office", "count": 3, "max_score": 0.9}],
                }
            ]
        }
    )

    since: datetime
    until: datetime
    hours: float
    total: int
    by_type: list[CountItem]
    by_severity: list[CountItem]
    by_folder: list[CountItem]
    by_hour: list[HourItem]
    top_devices: list[TopItem]
    top_folders: list[TopItem]
    occupancy: list[OccupancyItem] = Field(
        default_factory=list, description="Per folder over the window: raw distinct MACs beside estimated people")


class StoreHealth(BaseModel):
    reachable: bool
    target: str
    schema_version: int | None
    error: str | None = None
    # The last write the store refused (full disk, read-only), while it is recent.
    write_error: str | None = None


class HealthPublic(BaseModel):
    """Service health. `status` is `unhealthy` (HTTP 503) when the store cannot be used, `degraded` when
    it cannot write (full disk, read-only) or data are stale. Details only with a valid key."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "healthy",
                    "version": "0.1.0",
                    "store": {
                        "reachable": True,
                        "target": "chdb:///data/clickhouse",
                        "schema_version": 2,
                        "error": None,
                    },
                    "model_loaded": False,
                    "model_reason": "no model at models/tcn_model.pt: run python ml/train_model.py",
                    "latest_sighting": "2026-01-15T11:59:58Z",
                    "data_age_seconds": 2.0,
                    "data_stale": False,
                    "dev_mode": True,
                    "warnings": ["development mode: VALID_API_KEYS is empty, API keys are not checked"],
                    "checked_at": "2026-01-15T12:00:00Z",
                }
            ]
        }
    )

    status: Literal["healthy", "degraded", "unhealthy"]
    checked_at: datetime
    # The details below need a valid X-API-Key (or development mode): they name paths, processes
    # and versions an anonymous caller has no business knowing. Without one only `status` is sent.
    version: str | None = None
    store: StoreHealth | None = None
    model_loaded: bool | None = None
    model_reason: str | None = None
    latest_sighting: datetime | None = None
    data_age_seconds: float | None = None
    data_stale: bool | None = None
    dev_mode: bool | None = None
    warnings: list[str] | None = None


class WindowPublic(BaseModel):
    start: datetime
    end: datetime


class DetectRunPublic(BaseModel):
    """What one detection run found and what was handed to the notification layer."""

    window: WindowPublic
    detected: int = Field(description="Anomalies found in the window (including ones stored before)")
    new: int = Field(description="Anomalies stored for the first time by this run (these are notified)")
    notified: int
    by_type: dict[str, int]
    timings: dict[str, float] = Field(description="Seconds per detector")
    errors: dict[str, str] = Field(description="Detectors that failed, with the reason")
    skipped: dict[str, str] = Field(description="Detectors that did not run (e.g. no trained model), with why")
    anomalies: list[AnomalyPublic] = Field(description="The new anomalies")


class RejectPublic(BaseModel):
    line: int = Field(description="1-based index of the row in the array, or line in the NDJSON body")
    field: str
    reason: str


class IngestPublic(BaseModel):
    """Outcome of one ingest batch: nothing accepted is lost, every rejected row has a reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "api:1f2e3d4c",
                    "accepted": 2,
                    "rejected": 1,
                    "rejects": [{"line": 3, "field": "rssi", "reason": "rssi must be an integer between -120 and 0"}],
                }
            ]
        }
    )

    source: str
    accepted: int
    rejected: int
    duplicates: int = Field(default=0, description="Good rows not stored again: the same sighting (ts, device, "
                            "sensor, network) is stored already or came earlier in the body")
    rejects: list[RejectPublic] = Field(description="The first 1000 rejected rows, in order")
    rejects_truncated: bool = False


class HourActivity(BaseModel):
    hour: datetime
    events: int
    active_minutes: int
    sensors: int
    rssi_mean: float
    folders: list[str]


class PlacePublic(BaseModel):
    folder: str
    lat: float
    lon: float
    sightings: int
    dwell_minutes: int = Field(description="Distinct minutes the device was seen here")
    first_seen: datetime
    last_seen: datetime
    sensors: list[str]


class FolderDwell(BaseModel):
    folder: str
    sightings: int
    dwell_minutes: int
    first_seen: datetime
    last_seen: datetime


class SignalStats(BaseModel):
    sightings: int
    rssi_mean: float
    rssi_std: float
    rssi_min: int
    rssi_max: int
    rssi_p10: float
    rssi_p50: float
    rssi_p90: float


class MovementStats(BaseModel):
    path_km: float = Field(description="Sum of distances between consecutive sightings")
    radius_of_gyration_m: float
    max_speed_mps: float = Field(description="Fastest move between sightings at least 30 s apart")
    folder_changes: int
    distinct_folders: int
    distinct_sensors: int


class MlScorePublic(BaseModel):
    """The device's personal-ML verdict on its last model window (WINDOW_SIZE hours)."""

    available: bool
    score: float | None = Field(description="Calibrated score in [0, 1] (0.7 at p95, 0.85 at p99)")
    raw_score: float | None = Field(description="Reconstruction error of the window")
    threshold_95: float | None = Field(description="Raw p95 threshold of the model")
    threshold_99: float | None = Field(description="Raw p99 threshold of the model")
    level: str | None = Field(description="normal | above_p95 | above_p99")
    severity: str | None = None
    model_version: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    top_features: list[Any] = Field(default_factory=list, description="Features that drove the error most")
    reason: str = Field(description="Why there is no score, or how it was computed")


class DeviceProfilePublic(BaseModel):
    """Everything known about one device in a window."""

    device_id: str
    since: datetime
    until: datetime
    vendor: str
    network_type: str
    is_randomized: bool
    first_seen: datetime | None
    last_seen: datetime | None
    activity_by_hour: list[HourActivity]
    folders: list[FolderDwell]
    places: list[PlacePublic]
    signal: SignalStats | None
    movement: MovementStats | None
    anomalies: list[AnomalyPublic]
    ml: MlScorePublic


class CompareRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"device_ids": [MAC_EXAMPLE, "11:22:33:44:55:66"], "hours": 24}]}
    )

    device_ids: list[str] = Field(min_length=2, description="Two or more MACs, any common notation")
    hours: float = Field(default=24.0, ge=0.1, description="Look-back window in hours")
    until: IsoDateTime | None = Field(default=None, description="End of the window (default: now)")


class DeviceFeatures(BaseModel):
    device_id: str
    vendor: str
    network_type: str
    is_randomized: bool
    sightings: int
    active_hours: int
    active_minutes: int
    rssi_mean: float | None
    lat_mean: float | None
    lon_mean: float | None
    night_share: float = Field(description="Share of sightings between 00:00 and 06:00 local time")
    folders: list[str]
    sensors: list[str]
    hourly_profile: list[int] = Field(description="Sightings per local hour of day (24 values)")


class PairOverlap(BaseModel):
    device_a: str
    device_b: str
    shared_hours: int = Field(description="Hours in which both were seen (anywhere)")
    shared_minutes: int = Field(description="Minutes in which both were seen (anywhere)")
    co_located_minutes: int = Field(description="Minutes in which both were seen by the same sensor")
    co_location_ratio: float = Field(description="co_located_minutes / the smaller device's active minutes")
    co_located_folders: list[str]
    shared_folders: list[str]
    shared_sensors: list[str]
    activity_similarity: float = Field(description="Cosine similarity of the hour-of-day profiles")
    place_similarity: float = Field(description="Jaccard similarity of the sensor sets")
    similarity: float = Field(description="Mean of activity, place and co-location similarity, [0, 1]")


class ComparisonPublic(BaseModel):
    since: datetime
    until: datetime
    devices: list[DeviceFeatures]
    pairs: list[PairOverlap]


class ExplainRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"device_id": MAC_EXAMPLE, "hours": 24}]})

    device_id: str = Field(description="MAC, any common notation")
    hours: int | None = Field(
        default=None,
        description="Window length in hours; the model judges whole "
        "windows, so it must equal WINDOW_SIZE (the default)",
    )
    top: int = Field(default=20, ge=1, le=98, description="How many features to return")


class Attribution(BaseModel):
    feature: str
    attribution: float = Field(description="Share of the reconstruction error attributed to the feature")
    value: float | None = Field(default=None, description="Mean of the feature over the window")
    last_hour_value: float | None = None
    group: str = ""
    unit: str = ""
    description: str


class ExplainPublic(BaseModel):
    device_id: str
    score: float | None = Field(description="Calibrated ML score of the window")
    raw_score: float | None
    method: str
    attributions: list[Attribution] = Field(description="Sorted by absolute attribution, largest first")


class ModelPublic(BaseModel):
    loaded: bool
    reason: str
    metadata: dict[str, Any]
