"""Small helpers the rule detectors share: UTC handling, metres on the globe, hour arithmetic."""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG_LAT = 111_320.0


def utc(value: datetime) -> datetime:
    """DateTime64(…, 'UTC') can come back naive from chDB: make it explicitly UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor_hour(value: datetime) -> datetime:
    return utc(value).replace(minute=0, second=0, microsecond=0)


def ceil_hour(value: datetime) -> datetime:
    floored = floor_hour(value)
    return floored if floored == utc(value) else floored + timedelta(hours=1)


def deg_lat(metres: float) -> float:
    """Degrees of latitude spanning `metres`."""
    return metres / M_PER_DEG_LAT


def haversine_m(lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike,
                lon2: npt.ArrayLike) -> npt.NDArray[np.float64]:
    la1, lo1, la2, lo2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2))
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1))), dtype=float)


def piecewise_level(value: float, points: tuple[float, float, float]) -> float:
    """Position of `value` on a 0..3 level scale whose alarm/warning/critical points are `points`:
    0 -> 0, points[0] -> 1, points[1] -> 2, points[2] -> 3, linear beyond the last step."""
    a, w, c = points
    if value <= 0 or math.isnan(value):
        return 0.0
    if value < a:
        return value / a
    if value < w:
        return 1 + (value - a) / (w - a)
    if value < c:
        return 2 + (value - w) / (c - w)
    return 3 + (value - c) / (c - w)


def round_or_none(value: float | None, digits: int = 2) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def as_date(value: object) -> date:
    """A plain date from a date, datetime, pandas Timestamp or numpy datetime64."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def records(df: pd.DataFrame) -> Iterator[Any]:
    """Rows as named tuples, typed loosely: the columns come from SQL, not from Python types.

    The same rows as `df.itertuples(index=False)` (same field names, the same Python values), built from
    each column's `tolist()`: itertuples walks an Arrow-backed string column element by element, several
    times slower over the tens of thousands of rows a large site returns (benchmarks/detect.py)."""
    row = namedtuple("Pandas", [str(c) for c in df.columns], rename=True)  # type: ignore[misc]
    return map(row._make, zip(*(df.iloc[:, k].tolist() for k in range(df.shape[1])), strict=True))
