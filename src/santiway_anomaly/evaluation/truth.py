"""Ground truth: one JSON object per line with anomaly_type, subject (a device MAC, or
`folder:<name>` for folder-level anomalies), device_id, folder, window_start, window_end (ISO-8601
UTC), scenario and details."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class TruthError(ValueError):
    """The truth file is malformed; the message names the line."""


@dataclass(frozen=True)
class TruthEvent:
    anomaly_type: str
    subject: str
    window_start: datetime
    window_end: datetime
    scenario: str = ""
    device_id: str = ""
    folder: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _time(value: Any, line: int, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise TruthError(f"line {line}: {name} is not an ISO-8601 time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def load_truth(path: Path) -> list[TruthEvent]:
    events: list[TruthEvent] = []
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise TruthError(f"line {n}: not JSON: {exc}") from None
            missing = [k for k in ("anomaly_type", "window_start", "window_end") if k not in obj]
            if missing:
                raise TruthError(f"line {n}: missing {', '.join(missing)}")
            device = str(obj.get("device_id") or "")
            folder = str(obj.get("folder") or "")
            subject = str(obj.get("subject") or device or f"folder:{folder}")
            events.append(TruthEvent(
                anomaly_type=str(obj["anomaly_type"]), subject=subject,
                window_start=_time(obj["window_start"], n, "window_start"),
                window_end=_time(obj["window_end"], n, "window_end"),
                scenario=str(obj.get("scenario") or ""), device_id=device, folder=folder,
                details=dict(obj.get("details") or {})))
    return events
