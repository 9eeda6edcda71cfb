"""Schemas of GET /folders/hourly (pydantic only: the dashboard's client imports them too)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class FolderHourPublic(BaseModel):
    folder: str
    hour: datetime = Field(description="Start of the UTC hour")
    unique_devices: int = Field(description="Distinct MACs seen in the folder in the hour")
    robust_devices: float = Field(description="Stable MACs + the 5-minute peak of randomized MACs: what is judged")
    p95_baseline: float | None = Field(description="p95 of the robust count in the folder's history (null: none yet)")
    baseline: str = Field(description="same_hour (same local hour on trailing days), all_hours, or none")
    baseline_samples: int
    score: float = Field(description="The density detector's calibrated score for the hour, [0, 1]")


class FolderSeriesPublic(BaseModel):
    since: datetime
    until: datetime
    history_days: int = Field(description="Trailing days the baselines are learned from (DETECT_HISTORY_DAYS)")
    folders: list[str]
    data: list[FolderHourPublic]
