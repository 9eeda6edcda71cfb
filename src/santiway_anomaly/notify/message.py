"""The notification JSON (SEED.md "Формат уведомления"), built once and sent as-is everywhere.

The specification's keys are kept exactly (`type`, `severity`, `title`, `text`, `anomaly{device_id,
type, score, folder, vendor, network_type, details}`, `coords{lat, lon}`); three keys are added,
which clients that only read the specification's keys ignore: `id` (the notification's sequence
number, for `?since=` on reconnect), `time` (when it was sent, UTC) and `anomaly.anomaly_id` (the
anomaly's id in the REST API, also the webhook's idempotency key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from santiway_anomaly.anomaly import Anomaly, _json_default

MESSAGE_TYPE = "anomaly.detected"

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}

# Title = "<severity word>: <what happened>" (SEED.md: "КРИТИЧНО: Скопление устройств").
SEVERITY_WORDS = {
    "ru": {"critical": "КРИТИЧНО", "warning": "ВНИМАНИЕ", "info": "ИНФО"},
    "en": {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"},
}
TYPE_NAMES = {
    "ru": {
        "density_spike": "Скопление устройств",
        "night_activity": "Активность ночью",
        "stationary_surveillance": "Стационарное наблюдение",
        "ml_behavior": "Необычное поведение устройства",
    },
    "en": {
        "density_spike": "Device crowd",
        "night_activity": "Night activity",
        "stationary_surveillance": "Stationary surveillance",
        "ml_behavior": "Unusual device behaviour",
    },
}
LABELS = {
    "ru": {"device": "Устройство", "folder": "Папка", "score": "Оценка"},
    "en": {"device": "Device", "folder": "Folder", "score": "Score"},
}
# The specification's text shows a MAC cut after three octets ("AA:BB:CC..."): enough to tell
# devices apart at a glance, the full id is in `anomaly.device_id`.
SHORT_MAC = 8


@dataclass(frozen=True)
class Notification:
    """One notification: its routing fields and the JSON text sent to every channel."""

    seq: int
    anomaly_id: str
    created_at: datetime
    subject: str
    anomaly_type: str
    severity: str
    folder: str
    text: str  # the JSON, serialised once
    # The anomaly's time window (None when unknown: a log row whose anomaly is not in the store). The
    # cooldown compares windows: a repeat continues the episode the last notification was about.
    window_start: datetime | None = None
    window_end: datetime | None = None

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text)
        return data


def title_for(anomaly: Anomaly, language: str) -> str:
    words = SEVERITY_WORDS[language]
    return f"{words[anomaly.severity]}: {TYPE_NAMES[language][anomaly.anomaly_type]}"


def text_for(anomaly: Anomaly, language: str) -> str:
    labels = LABELS[language]
    parts = []
    if anomaly.device_id:
        device = anomaly.device_id
        shown = device[:SHORT_MAC] + "..." if len(device) > SHORT_MAC else device
        parts.append(f"{labels['device']}: {shown}")
    if anomaly.folder:
        parts.append(f"{labels['folder']}: {anomaly.folder}")
    parts.append(f"{labels['score']}: {anomaly.score * 100:.1f}%")
    return " | ".join(parts)


def build_payload(anomaly: Anomaly, seq: int, created_at: datetime, language: str) -> dict[str, Any]:
    """The notification dict for one anomaly (`language` is `ru` or `en`)."""
    if language not in TYPE_NAMES:
        raise ValueError(f"language must be one of {sorted(TYPE_NAMES)}, got {language!r}")
    return {
        "type": MESSAGE_TYPE,
        "id": seq,
        "time": created_at.astimezone(UTC).isoformat(),
        "severity": anomaly.severity,
        "title": title_for(anomaly, language),
        "text": text_for(anomaly, language),
        "anomaly": {
            "anomaly_id": anomaly.anomaly_id,
            "device_id": anomaly.device_id,
            "type": anomaly.anomaly_type,
            "score": round(float(anomaly.score), 3),
            "folder": anomaly.folder,
            "vendor": anomaly.vendor,
            "network_type": anomaly.network_type,
            "details": anomaly.details,
        },
        "coords": {"lat": float(anomaly.lat), "lon": float(anomaly.lon)},
    }


def build_notification(anomaly: Anomaly, seq: int, created_at: datetime, language: str) -> Notification:
    payload = build_payload(anomaly, seq, created_at, language)
    return Notification(
        seq=seq,
        anomaly_id=anomaly.anomaly_id,
        created_at=created_at,
        subject=anomaly.subject,
        anomaly_type=anomaly.anomaly_type,
        severity=anomaly.severity,
        folder=anomaly.folder,
        text=json.dumps(payload, ensure_ascii=False, default=_json_default),
        window_start=_utc(anomaly.window_start),
        window_end=_utc(anomaly.window_end),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

