"""Occupancy: how many people a folder holds per hour (and per 5 minutes), with an interval (issue 16).

Presence is counted, not probes or MACs: per 5-minute slot, the distinct probe fingerprints heard
near a sensor (storage/queries/occupancy.py); per hour, the mean over its twelve slots (a slot without
sightings holds nobody), so a person who stays the whole hour counts once and one who stays 15 minutes
counts a quarter, which is what an hourly mean occupancy measures. The raw distinct MACs stay beside
the estimate (`unique_devices`). The interval (`people_low`, `people_high`) spans the two ways the
estimate can be wrong: a stricter near cut with fingerprints merged, a looser one counting raw MACs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.queries.folders import folder_hours
from santiway_anomaly.storage.queries.occupancy import near_slots
from santiway_anomaly.storage.store import Store

COLUMNS = ["hour", "folder", "unique_devices", "people", "people_low", "people_high"]
SLOT_COLUMNS = ["slot", "folder", "people", "people_low", "people_high"]
SLOTS_PER_HOUR = 12


def occupancy_slots(store: Store, settings: Settings, since: datetime, until: datetime,
                    folders: list[str] | None = None) -> pd.DataFrame:
    """Per folder per 5-minute slot with sightings: people (near fingerprints) and its interval."""
    df = near_slots(store, since, until, settings.occupancy_near_rssi, settings.occupancy_rssi_margin, folders)
    out = pd.DataFrame({"slot": pd.to_datetime(df["slot"], utc=True), "folder": df["folder"].astype(str),
                        "people": df["near"].astype(int), "people_low": df["near_low"].astype(int),
                        # never below the estimate: a MAC count at a looser cut is not always larger
                        "people_high": df[["near_high", "near"]].max(axis=1).astype(int)})
    return out[SLOT_COLUMNS]


def occupancy_hours(store: Store, settings: Settings, since: datetime, until: datetime,
                    folders: list[str] | None = None) -> pd.DataFrame:
    """Per folder per UTC hour with sightings: COLUMNS, people as the mean over the hour's slots."""
    raw = folder_hours(store, since, until, folders)
    if raw.empty:
        return pd.DataFrame(columns=COLUMNS)
    slots = occupancy_slots(store, settings, since, until, folders)
    slots["hour"] = slots["slot"].dt.floor("h")
    per_hour = slots.groupby(["folder", "hour"], as_index=False)[["people", "people_low", "people_high"]].sum()
    for col in ("people", "people_low", "people_high"):
        per_hour[col] = (per_hour[col] / SLOTS_PER_HOUR).round(1)
    raw = raw[["folder", "hour", "unique_devices"]].copy()
    raw["hour"] = pd.to_datetime(raw["hour"], utc=True)
    raw["folder"] = raw["folder"].astype(str)
    out = raw.merge(per_hour, on=["folder", "hour"], how="left").fillna(
        {"people": 0.0, "people_low": 0.0, "people_high": 0.0})
    out["unique_devices"] = out["unique_devices"].astype(int)
    return out[COLUMNS].sort_values(["hour", "folder"], kind="stable").reset_index(drop=True)


def occupancy_report(store: Store, settings: Settings, since: datetime, until: datetime,
                     folder: str | None = None) -> dict[str, Any]:
    """What GET /folders/occupancy and the CLI export return: OccupancyPublic's fields."""
    df = occupancy_hours(store, settings, since, until, [folder] if folder is not None else None)
    rows = [{"hour": pd.Timestamp(r["hour"]).to_pydatetime(), "folder": str(r["folder"]),
             "unique_devices": int(r["unique_devices"]), "people": float(r["people"]),
             "people_low": float(r["people_low"]), "people_high": float(r["people_high"])}
            for r in df.to_dict("records")]
    return {"since": since, "until": until, "near_rssi": settings.occupancy_near_rssi, "data": rows,
            "count": len(rows)}
