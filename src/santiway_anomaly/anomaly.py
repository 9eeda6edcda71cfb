"""The anomaly record (DESIGN.md "An anomaly") and the one calibrated score scale.

Every detector maps its own evidence onto the same scale in [0, 1], higher = more anomalous:

    score < 0.50          no alarm
    0.50 <= score < 0.70  info       (suspicious, below the detector's warning level)
    0.70 <= score < 0.85  warning    (the detector's warning level, e.g. ML p95)
    score >= 0.85         critical   (the detector's critical level, e.g. ML p99)

so an operator reads 0.9 the same way whichever detector produced it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from santiway_anomaly.catalog import ANOMALY_TYPES

Severity = Literal["info", "warning", "critical"]

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")

ALARM_SCORE = 0.50
WARNING_SCORE = 0.70
CRITICAL_SCORE = 0.85


def severity_for(score: float) -> Severity | None:
    """Severity band of a calibrated score, or None below the alarm line."""
    if score >= CRITICAL_SCORE:
        return "critical"
    if score >= WARNING_SCORE:
        return "warning"
    if score >= ALARM_SCORE:
        return "info"
    return None


def calibrate(value: float, *, alarm: float, warning: float, critical: float) -> float:
    """Map a raw detector value onto the common scale by its three levels (increasing).

    alarm -> 0.50, warning -> 0.70, critical -> 0.85; linear between levels, below `alarm`
    linearly down to 0 at 0, and above `critical` a saturating approach to 1.
    """
    if not (0 <= alarm < warning < critical):
        raise ValueError(f"levels must satisfy 0 <= alarm < warning < critical, got {alarm}, {warning}, {critical}")
    if math.isnan(value):
        return 0.0
    if value < alarm:
        return max(0.0, ALARM_SCORE * value / alarm) if alarm > 0 else 0.0
    if value < warning:
        return ALARM_SCORE + (WARNING_SCORE - ALARM_SCORE) * (value - alarm) / (warning - alarm)
    if value < critical:
        return WARNING_SCORE + (CRITICAL_SCORE - WARNING_SCORE) * (value - warning) / (critical - warning)
    # Past critical: each further (critical - warning) step closes half the remaining gap to 1.
    steps = (value - critical) / (critical - warning)
    return float(1.0 - (1.0 - CRITICAL_SCORE) * 0.5**steps)


def anomaly_id(anomaly_type: str, subject: str, window_start: datetime, window_end: datetime) -> str:
    """Deterministic id: the same anomaly (type, subject, window) found twice has one id."""
    key = "|".join([anomaly_type, subject, _iso(window_start), _iso(window_end)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Anomaly:
    anomaly_type: str
    severity: str
    score: float
    window_start: datetime
    window_end: datetime
    device_id: str = ""
    folder: str = ""
    vendor: str = ""
    network_type: str = ""
    lat: float = 0.0
    lon: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    model_version: str = ""
    detected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    anomaly_id: str = ""

    def __post_init__(self) -> None:
        if self.anomaly_type not in ANOMALY_TYPES:
            raise ValueError(f"anomaly_type must be one of {ANOMALY_TYPES}, got {self.anomaly_type!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be in [0, 1], got {self.score}")
        if not self.anomaly_id:
            self.anomaly_id = anomaly_id(self.anomaly_type, self.subject, self.window_start, self.window_end)

    @property
    def subject(self) -> str:
        """What the anomaly is about: the device, or the folder for folder-level anomalies."""
        return self.device_id or f"folder:{self.folder}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("window_start", "window_end", "detected_at"):
            data[key] = _aware(data[key]).isoformat()
        return data

    def to_row(self) -> list[Any]:
        return [
            self.anomaly_id, _aware(self.detected_at), self.device_id, self.anomaly_type, self.severity,
            float(self.score), self.folder, self.vendor, self.network_type, float(self.lat), float(self.lon),
            _aware(self.window_start), _aware(self.window_end),
            json.dumps(self.details, ensure_ascii=False, default=_json_default), self.model_version,
        ]


ROW_COLUMNS: list[str] = [
    "anomaly_id", "detected_at", "device_id", "anomaly_type", "severity", "score", "folder", "vendor",
    "network_type", "lat", "lon", "window_start", "window_end", "details", "model_version",
]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
