"""Occupancy: how many people a folder holds per hour (and per 5 minutes), with an interval (issue 16).

Presence is counted, not probes or MACs. A person's phone probes near the room, stays a while, and
comes within the room. Per 5-minute slot two counts bracket the people near a sensor
(storage/queries/occupancy.py): `near`, probe fingerprints heard at the near cut (merged, close: it
undercounts, since phones of one model and OS share a fingerprint), each weighted by how long it
stayed in the hour (a passer-by's single probe burst weighs almost nothing), and `mid`, distinct MACs
heard at the mid cut (unmerged, farther: it overcounts rotations and the people next door). The
estimate is their geometric mean, sqrt(near x mid): zero when nobody is near, and on the lab captures
it follows the true number of people better than either count alone (docs/occupancy.md). Only near
fingerprints in the room count: in an hour in which no reading reached the room cut, the near phones
were outside (the corridor, next door), except those near in the slots just before, in an hour when
someone was inside: a person lingering after a session (OCCUPANCY_CARRY_MINUTES). Per hour, the mean
over the slots in which the folder heard anything, a slot with nobody near counting 0 (a silent slot
is missing data, not an empty room), so a person who stays the whole hour counts once and one who
stays 15 minutes a quarter, which is what an hourly mean occupancy measures. The raw distinct MACs
stay beside the estimate (`unique_devices`). The interval (`people_low`, `people_high`) is the same
estimate with all three cuts moved OCCUPANCY_RSSI_MARGIN dB closer and farther.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from santiway_anomaly.config import Settings
from santiway_anomaly.storage.queries.folders import folder_hours
from santiway_anomaly.storage.queries.occupancy import near_mid_slots
from santiway_anomaly.storage.store import Store

COLUMNS = ["hour", "folder", "unique_devices", "people", "people_low", "people_high"]
SLOT_COLUMNS = ["slot", "folder", "people", "people_low", "people_high"]
# Hundredths of a person: someone in the room for 3 of an hour's 60 minutes is 0.05 people, which tenths
# would round to the 0 of an empty room.
DECIMALS = 2


def _geometric_mean(a: pd.Series, b: pd.Series) -> pd.Series:
    return pd.Series(np.sqrt(a.astype(float) * b.astype(float)), index=a.index)


def occupancy_slots(store: Store, settings: Settings, since: datetime, until: datetime,
                    folders: list[str] | None = None,
                    hours: list[tuple[str, datetime]] | None = None) -> pd.DataFrame:
    """Per folder per 5-minute slot with sightings: people (float, sqrt(near x mid) over the near
    fingerprints in the room) and its interval. With `hours` ((folder, UTC hour start) pairs), only the
    slots of those folder-hours."""
    df = near_mid_slots(store, since, until, settings.occupancy_near_rssi, settings.occupancy_mid_rssi,
                        settings.occupancy_room_rssi, settings.occupancy_rssi_margin,
                        60 * settings.occupancy_dwell_minutes, 60 * settings.occupancy_carry_minutes, folders, hours)
    if hours is not None:  # the carry's earlier hours came back too
        wanted = {(f, pd.Timestamp(h).tz_convert("UTC") if pd.Timestamp(h).tzinfo else pd.Timestamp(h, tz="UTC"))
                  for f, h in hours}
        slot_hour = pd.to_datetime(df["slot"], utc=True).dt.floor("h")
        df = df[[(str(f), h) in wanted for f, h in zip(df["folder"], slot_hour, strict=True)]]
    people = _geometric_mean(df["near_room"], df["mid"])
    low = _geometric_mean(df["near_room_strict"], df["mid_strict"])
    high = _geometric_mean(df["near_room_loose"], df["mid_loose"])
    out = pd.DataFrame({"slot": pd.to_datetime(df["slot"], utc=True), "folder": df["folder"].astype(str),
                        "people": people.round(DECIMALS), "people_low": np.minimum(low, people).round(DECIMALS),
                        "people_high": np.maximum(high, people).round(DECIMALS)})
    return out[SLOT_COLUMNS]


def busiest_slot_people(store: Store, settings: Settings, hours: list[tuple[str, datetime]]) -> pd.DataFrame:
    """For each (folder, UTC hour start) of `hours` with sightings: `people` and `people_high` of its
    busiest 5-minute slot (the largest over the hour's slots), columns folder, hour, people, people_high.
    One read over just those folder-hours (the density detector's candidate alarms)."""
    if not hours:
        return pd.DataFrame(columns=["folder", "hour", "people", "people_high"])
    since = min(h for _, h in hours)
    until = max(h for _, h in hours) + timedelta(hours=1)
    slots = occupancy_slots(store, settings, since, until, sorted({f for f, _ in hours}), hours)
    slots["hour"] = slots["slot"].dt.floor("h")
    return slots.groupby(["folder", "hour"], as_index=False)[["people", "people_high"]].max()


def occupancy_hours(store: Store, settings: Settings, since: datetime, until: datetime,
                    folders: list[str] | None = None) -> pd.DataFrame:
    """Per folder per UTC hour with sightings: COLUMNS, people as the mean over the hour's heard slots."""
    raw = folder_hours(store, since, until, folders)
    if raw.empty:
        return pd.DataFrame(columns=COLUMNS)
    slots = occupancy_slots(store, settings, since, until, folders)
    slots["hour"] = slots["slot"].dt.floor("h")
    per_hour = slots.groupby(["folder", "hour"], as_index=False)[["people", "people_low", "people_high"]].mean()
    for col in ("people", "people_low", "people_high"):
        per_hour[col] = per_hour[col].round(DECIMALS)
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
    return {"since": since, "until": until, "room_rssi": settings.occupancy_room_rssi,
            "near_rssi": settings.occupancy_near_rssi,
            "mid_rssi": settings.occupancy_mid_rssi, "data": rows, "count": len(rows)}
