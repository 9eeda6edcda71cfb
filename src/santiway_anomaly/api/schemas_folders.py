"""Schemas of GET /folders/hourly (pydantic only: the dashboard's client imports them too)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class FolderHourPublic(BaseModel):
    folder: str
    hour: datetime = Field(description="Start of the UTC hour")
    unique_devices: int = Field(description="Distinct MACs seen in the folder in the hour")
    robust_devices: float = Field(description="Stable MACs + the 5-minute peak of randomized probe fingerprints "
                                              "(ies|ssid, else the MAC): what is judged")
    people: float | None = Field(default=None, description="Occupancy estimate: mean people near a sensor over "
                                                           "the hour's 5-minute slots (GET /folders/occupancy)")
    people_low: float | None = Field(default=None, description="Lower end of the estimate's interval")
    people_high: float | None = Field(default=None, description="Upper end of the estimate's interval")
    p95_baseline: float | None = Field(description="p95 of the robust count in the folder's history (null: none yet)")
    baseline: str = Field(description="same_hour (same local hour on trailing days), same_hour_quiet_days (same local "
                          "hour on the folder's quiet weekdays, on such a day), all_hours, or none")
    baseline_samples: int
    score: float = Field(description="The density detector's calibrated score for the hour, [0, 1]")
    state: str = Field(default="ready", description="learning (too few covered days of history: no alarm) or ready")
    covered: bool = Field(default=True, description="Were the folder's sensors listening in this hour")


class FolderCoveragePublic(BaseModel):
    folder: str
    state: str = Field(description="learning (fewer than LEARNING_MIN_DAYS covered days: no baseline-relative "
                                   "alarm) or ready")
    covered_days: int = Field(description="Local days with at least COVERAGE_DAY_SHARE of their hours covered")
    covered_hours: int = Field(description="Hours in which the folder's sensors were listening")
    hours: int = Field(description="Hours in the look-back")
    fixed_sensors: int = Field(description="Sensors whose home is this folder (patrols excluded)")


class FoldersCoveragePublic(BaseModel):
    since: datetime
    until: datetime
    learning_min_days: int
    mobile_sensors: list[str] = Field(description="Sensors that move between folders: they define no coverage")
    data: list[FolderCoveragePublic]


class FolderSeriesPublic(BaseModel):
    since: datetime
    until: datetime
    history_days: int = Field(description="Trailing days the baselines are learned from (DETECT_HISTORY_DAYS)")
    folders: list[str]
    data: list[FolderHourPublic]


class OccupancyHourPublic(BaseModel):
    hour: datetime = Field(description="Start of the UTC hour")
    folder: str
    unique_devices: int = Field(description="Distinct MACs seen in the folder in the hour (raw)")
    people: float = Field(description="Estimated people: per 5-minute slot sqrt(near probe fingerprints, each "
                                      "weighted by its stay in the hour, x mid-range MACs), mean over the "
                                      "hour's heard slots (a person present all hour counts once); 0 when no "
                                      "reading in the hour reached the room cut")
    people_low: float = Field(description="Lower end: all cuts OCCUPANCY_RSSI_MARGIN dB closer")
    people_high: float = Field(description="Upper end: all cuts OCCUPANCY_RSSI_MARGIN dB farther")


class OccupancyPublic(BaseModel):
    since: datetime
    until: datetime
    room_rssi: int = Field(description="The room cut in dBm (OCCUPANCY_ROOM_RSSI): an hour with no reading "
                                       "this strong holds nobody in the room")
    near_rssi: int = Field(description="The near cut in dBm (OCCUPANCY_NEAR_RSSI)")
    mid_rssi: int = Field(description="The mid-range cut in dBm (OCCUPANCY_MID_RSSI)")
    data: list[OccupancyHourPublic]
    count: int
