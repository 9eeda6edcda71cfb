"""World families: one place that says what each family of worlds is made of.

Every family has ordinary life (staff with weekday rhythms, visitors, passers-by, phones with
randomized MACs rotating every 15-30 min, fixtures) and the injected anomalies of DESIGN.md's
detector table in its last `ANOMALY_DAYS` local days. What sets a family apart is the thing that
fooled the rule detectors before (issue 11): outages, sessions, weekly events, infrastructure,
sticky randomized MACs, patrols with long gaps, guarded folders, the size of the site.
"""

from __future__ import annotations

from dataclasses import dataclass

ANOMALY_DAYS = 3  # anomalies only in the last 3 local days (issue 11, item 7)
MIN_WARMUP_DAYS = 7  # clean days start after a warm-up of at least a week


@dataclass(frozen=True)
class FamilySpec:
    name: str
    notes: str
    timezone: str
    folders: int
    devices: int  # physical devices at scale 1 (a rotating phone is one device, many MACs)
    days: int = 17
    warmup_days: int = MIN_WARMUP_DAYS
    sensors_per_folder: tuple[int, int] = (1, 3)  # inclusive range
    # MAC behaviour of people's phones: shares of stable, sticky (one random MAC per network per day),
    # the rest rotate every 15-30 min.
    stable_share: float = 0.35
    sticky_share: float = 0.10
    fixtures_per_folder: tuple[int, int] = (2, 5)
    far_infra_per_folder: tuple[int, int] = (0, 1)  # always-on devices heard at -85..-95 dBm
    # dB added to every reading of a sensor, drawn per sensor: another sniffer model, or one mounted high
    # or behind a wall, reads the same room weaker (real sniffers differ by 10-20 dB).
    sensor_gain_db: tuple[float, float] = (0.0, 0.0)
    outages: bool = False
    sessions: bool = False
    weekly_event: bool = False
    mobile_sensors: int = 0
    night_staff_folders: int = 0  # folders with a busy night population (guards, night shift)
    crowds: int = 2
    night_intruders: int = 2
    lingering: int = 2
    returning: int = 1
    followers: int = 0
    changed: int = 8  # devices that changed (ml_behavior truth, simulate/families/changes.py)


FAMILIES: dict[str, FamilySpec] = {
    spec.name: spec for spec in (
        FamilySpec("outages", "sensors off for hours to days, partial days, a folder dark for a day and a half, "
                   "sensors restarting; missing data is not zero devices", "Europe/Prague", folders=5,
                   devices=1200, outages=True),
        FamilySpec("sessions", "lab/classroom sessions of 1-3 h with 10-40 people sitting near a sensor "
                   "(mostly randomized MACs, many kept for the whole session), weekly timetable",
                   "Europe/Prague", folders=4, devices=1000, sessions=True, sensors_per_folder=(1, 2)),
        FamilySpec("weekly_events", "a recurring weekly event (market day, Friday meeting) doubling a folder's "
                   "count at a fixed weekday and hour: normal once seen on the same weekday",
                   "Asia/Yekaterinburg", folders=4, devices=1200, weekly_event=True),
        FamilySpec("infrastructure", "many always-on devices in every folder: routers, Raspberry Pis, printers, "
                   "far network cards at -85..-95 dBm heard intermittently day and night", "UTC", folders=5,
                   devices=1000, fixtures_per_folder=(8, 16), far_infra_per_folder=(6, 12)),
        FamilySpec("sticky_random", "phones keep one randomized MAC per network for a whole day: a colleague "
                   "at work for 8 h is a new MAC every day", "America/New_York", folders=4, devices=1000,
                   stable_share=0.15, sticky_share=0.6),
        FamilySpec("patrols", "mobile sensors (guard patrol, delivery van) whose stops are 45-90 min apart; "
                   "a follower is heard at >= 4 stops of one round", "Europe/Moscow", folders=6, devices=1000,
                   mobile_sensors=2, followers=2, sensors_per_folder=(1, 2)),
        FamilySpec("guarded", "folders with night guards and night staff (a busy night population) where new "
                   "intruder devices at night must still be found", "Asia/Kolkata", folders=4, devices=1000,
                   night_staff_folders=3, night_intruders=3),
        FamilySpec("weak_sensors", "sensors that read everything 8-18 dB weaker (another sniffer model, "
                   "mounted high or behind a wall), each by its own offset: fixed dBm cuts do not hold, each "
                   "sensor's own signal levels must be learned", "Africa/Nairobi", folders=4, devices=1000,
                   sensor_gain_db=(-18.0, -8.0)),
        FamilySpec("small_site", "one or two folders, 150-300 devices", "Australia/Sydney", folders=2,
                   devices=240, sensors_per_folder=(1, 2), crowds=1, lingering=1, changed=6),
        FamilySpec("large_site", "20+ folders, 5,000+ devices, a patrol, some night staff", "Europe/Prague",
                   folders=22, devices=5200, days=21, mobile_sensors=1, followers=1, night_staff_folders=2,
                   crowds=4, night_intruders=3, lingering=3, returning=2, changed=16),
    )
}
