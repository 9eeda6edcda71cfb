"""Field types shared by schemas and routes (no imports from the rest of the API: no cycles)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

from santiway_anomaly.catalog import DETECTOR_NAMES as CATALOG_DETECTOR_NAMES

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    # pydantic would also read 0.5 or "1700000000" as a date: the contract says ISO 8601, so refuse.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO.match(value):
        return value
    raise ValueError("must be an ISO 8601 date-time such as 2026-01-15T10:00:00Z")


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]

# The detectors, from the one catalog (importing it imports no detector).
DETECTOR_NAMES = CATALOG_DETECTOR_NAMES
DETECTORS_PATTERN = rf"^({'|'.join(DETECTOR_NAMES)})(,({'|'.join(DETECTOR_NAMES)}))*$"
