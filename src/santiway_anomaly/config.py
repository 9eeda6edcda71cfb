"""One typed settings object, read from the environment and `.env`.

Variable names are the specification's (SEED.md "Конфигурация"); every other number that
matters lives here too, with its default and where that default comes from.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the variable and what is allowed."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _pairs(value: str, expected: str) -> list[tuple[str, str]]:
    """"a=x, b=y" -> [("a", "x"), ("b", "y")]; an item without a key or a value is refused, naming `expected`."""
    pairs = []
    for item in (part.strip() for part in value.split(",") if part.strip()):
        key, sep, val = item.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise ValueError(f"expected {expected} separated by commas, got {item!r}")
        pairs.append((key.strip(), val.strip()))
    return pairs


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- Storage -------------------------------------------------------------------------
    # No CLICKHOUSE_HOST -> embedded chDB under DATA_DIR; with it -> a ClickHouse server over HTTP.
    data_dir: Path = Field(default=Path("./data"), description="Where the embedded store and models live")
    clickhouse_host: str = Field(default="", description="ClickHouse server host; empty = embedded chDB")
    clickhouse_port: int = Field(default=8123, ge=1, le=65535)
    # Every product table goes in CLICKHOUSE_DATABASE; the raw sightings table (`way_data`) in
    # CLICKHOUSE_RAW_DATABASE, the host application's database (SEED.md: `santi.way_data`). SQL names
    # the canonical `anomaly_ml.` / `santi.`; the Store maps them (storage/databases.py, docs/storage.md).
    clickhouse_database: str = Field(default="anomaly_ml", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_raw_database: str = Field(default="santi", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_secure: bool = False
    # SEED.md retry table: connect 5 tries 2s->30s, query 3 tries 1s->10s.
    clickhouse_connect_tries: int = Field(default=5, ge=1, le=20)
    clickhouse_query_tries: int = Field(default=3, ge=1, le=20)
    # HTTP client time-outs (seconds). Connect: a server that does not accept within 10 s is down or
    # unreachable, and the connect retries above take over. Send/receive: the longest single query the
    # product runs (a detector pass over trailing weeks, a migration backfill) finishes well inside 10 min
    # on one node; clickhouse-connect's own default (300 s) would cut off a large first migration.
    clickhouse_connect_timeout: int = Field(default=10, ge=1, le=600)
    clickhouse_send_receive_timeout: int = Field(default=600, ge=1, le=86400)
    # Empty = one server. A cluster name (from the server's remote_servers) makes the schema
    # ON CLUSTER with Replicated*MergeTree local tables and Distributed tables in front (docs/cluster.md).
    clickhouse_cluster: str = Field(default="", pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$")

    # --- Security / API ------------------------------------------------------------------
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost", "http://localhost:8000", "http://localhost:3000"]
    )
    valid_api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_host: str = "0.0.0.0"
    api_port: int = Field(default=8001, ge=1, le=65535)
    api_reload: bool = False
    api_workers_threads: int = Field(default=8, ge=1, le=256, description="Thread pool for store calls")
    rate_limit_list: str = Field(default="100/minute", description="GET /anomalies (SEED.md table)")
    rate_limit_detect: str = Field(default="10/minute", description="POST /detect-and-notify (SEED.md)")
    rate_limit_default: str = Field(default="300/minute")
    # Each operator a key names (X-Operator) gets a bucket of their own; past this many names per key
    # and hour, new names share the key's own bucket, so that inventing names cannot multiply the limit.
    # 32 covers a control room's shift roster; one name per request would otherwise lift every limit.
    rate_limit_operators_per_key: int = Field(default=32, ge=1, le=10_000)

    # --- API -----------------------------------------------------------------------------
    # Off only for throughput measurement (benchmarks/api.py); the SEED.md limits apply otherwise.
    rate_limit_enabled: bool = True
    # Seconds a GET /anomalies or /anomalies/stats answer is reused; every save of anomalies in
    # this process invalidates it at once, so the TTL only bounds staleness from writers in other
    # processes (server mode) and how far a "last 24 h" window lags behind the clock.
    api_cache_ttl: float = Field(default=5.0, ge=0.0, le=300.0)
    api_cache_entries: int = Field(default=2048, ge=0, le=1_000_000)
    # Bytes of answers each cache may hold (0 = no bound but API_CACHE_ENTRIES). A page of 100 anomalies
    # is ~30 KB, so 16 MiB keeps ~500 of them, far more than a dashboard's distinct URLs within the TTL;
    # 2,048 entries of such pages held 60 MB per cache under a stream of distinct queries
    # (benchmarks/api.py, issue 17).
    api_cache_bytes: int = Field(default=16 * 1024 * 1024, ge=0, le=1 << 34)
    # Largest page of GET /anomalies (the specification's example asks for 100).
    api_max_limit: int = Field(default=1000, ge=1, le=100_000)
    # Longest look-back any `hours=` parameter accepts: 90 days, the longest retraining window in SEED.md.
    api_max_hours: float = Field(default=24 * 90, gt=0, le=24 * 366)
    # POST /ingest body cap: 32 MiB keeps one request's parse under a second and its memory bounded.
    api_max_ingest_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # POST /ingest bodies read and parsed at once: a 32 MiB body cost ~340 MB while parsed (issue 13),
    # so 2 keep the peak under ~0.7 GB however many clients post; further requests wait their turn.
    api_ingest_concurrency: int = Field(default=2, ge=1, le=64)
    # POST /ingest bodies larger than this are streamed to a temporary file as they arrive and read back
    # in batches (NDJSON, CSV) instead of held in memory; a sensor's usual batch (a few hundred rows,
    # well under 1 MiB) stays in memory, where it is parsed fastest.
    api_ingest_spill_bytes: int = Field(default=1024 * 1024, ge=0)
    # Failed sign-ins (wrong or missing key) per client address before 429, and the window they count in.
    api_auth_max_failures: int = Field(default=20, ge=1, le=100_000)
    api_auth_failure_window_s: float = Field(default=60.0, gt=0, le=86_400)
    # Retry-After sent with a 503 when the store cannot write (full disk, read-only, unreachable).
    api_store_retry_after_s: int = Field(default=30, ge=1, le=3600)
    # POST /comparison/compare: devices per request (pairwise overlap grows with the square).
    api_max_compare_devices: int = Field(default=10, ge=2, le=100)
    # Top-N lists in /anomalies/stats.
    api_stats_top: int = Field(default=10, ge=1, le=1000)
    # /health reports data as stale when the newest sighting is older than this (hours).
    api_stale_after_hours: float = Field(default=2.0, gt=0)
    # One log line per request (method, path without query, status, duration).
    api_log_requests: bool = True
    # --- end API -------------------------------------------------------------------------

    # --- Model ---------------------------------------------------------------------------
    # The trained model; empty = DATA_DIR/models/tcn_model.pt, so each data directory keeps its own model
    # (a relative default under the working directory let a second data directory use the first one's).
    model_path: Path = Path("")
    input_channels: int = Field(default=98, ge=1, le=512)
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    window_size: int = Field(default=24, ge=2, le=24 * 14)
    batch_size: int = Field(default=32, ge=1, le=65536)
    anomaly_threshold_95: float = Field(default=0.87, ge=0)
    anomaly_threshold_99: float = Field(default=0.92, ge=0)

    # --- Notifications -------------------------------------------------------------------
    django_url: str = ""
    detect_interval: int = Field(default=0, ge=0, description="Seconds between automatic runs; 0 = off")
    notify_language: Literal["ru", "en"] = "ru"

    # --- Time ----------------------------------------------------------------------------
    timezone: str = Field(default="UTC", description="IANA time zone for night / hour-of-day logic")
    # Per-folder override, e.g. "warehouse-3=Asia/Yekaterinburg,office=Europe/Moscow".
    folder_timezones: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # --- Ingest --------------------------------------------------------------------------
    ingest_batch_rows: int = Field(default=500_000, ge=1000, le=5_000_000)
    # Consecutive validated batches are stored in one insert of at least this many rows (issue 17):
    # the views aggregate bigger blocks and fewer parts are merged. Measured on 4 M simulated
    # sightings with the views attached: 1 M-row inserts took 25 % less CPU than 500k-row ones, 2 M
    # no less than 1 M. Reading stays at INGEST_BATCH_ROWS (the CSV reader holds a batch as Python rows).
    ingest_insert_rows: int = Field(default=1_000_000, ge=1000, le=10_000_000)
    # Limits on what one row may hold (issue 13): a sighting's fields are short, so anything far
    # larger is damage or an attack, rejected with its line instead of exhausting memory.
    ingest_max_field_chars: int = Field(default=4096, ge=128, le=1_000_000)
    ingest_max_row_bytes: int = Field(default=65_536, ge=1024, le=16_777_216)
    # A sighting is a flat object; JSON nested deeper than this is rejected (Python's parser would
    # otherwise recurse ~1000 levels and fail the whole body).
    ingest_max_json_depth: int = Field(default=16, ge=2, le=500)
    # Distinct days (ClickHouse partitions) per insert: ClickHouse refuses more than
    # max_partitions_per_insert_block (100) with TOO_MANY_PARTS, so a long span is split.
    ingest_max_days_per_insert: int = Field(default=90, ge=1, le=100)
    # Longest wait for ClickHouse to delete the aggregates of the days being rebuilt (schema repair, and the
    # automatic repair after a failed insert). A few days of hourly aggregates delete in about a second
    # here; a full disk holds the deletion back for ever, so past this the repair gives up and says why.
    aggregate_repair_timeout_s: float = Field(default=60.0, gt=0, le=3600)

    # --- ML ----------------------------------------------------------------------------
    # Feature history before the scored window: 7 days, so the personal profile features
    # (same hour on previous days) see a week of the device's own behaviour (issue 4).
    feature_history_hours: int = Field(default=168, ge=24, le=24 * 60)
    # Stride between training windows: one window per device-day (whole days, as the simulator labels).
    train_window_stride: int = Field(default=24, ge=1, le=24 * 7)
    # Share of the training days (the latest ones) held out for validation and thresholds.
    train_validation_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    # Early stopping patience in epochs (spec: "Early stopping + best model").
    train_patience: int = Field(default=8, ge=1, le=1000)
    # Devices with at least this many sightings in the scored window are "active" and get scored.
    ml_min_events: int = Field(default=1, ge=1)
    # Randomized (locally administered) MACs rotate: they have no personal history to learn, and the
    # simulator's 2,000 devices showed ~90k of them. The personal model skips them unless asked.
    ml_include_randomized: bool = False
    # A device that stays anomalous re-alarms at most once per this many hours (unless it escalates):
    # its 24-hour windows overlap from one hourly run to the next.
    ml_alarm_cooldown_hours: int = Field(default=24, ge=0, le=24 * 30)
    # How many contributing features an ML anomaly lists in `details`.
    ml_top_features: int = Field(default=5, ge=1, le=98)
    # Personal baseline (issue 12). False-alarm budget: normal devices alarm at most this often
    # (alarms per 1,000 devices per day), calibrated on held-out normal days (DESIGN.md).
    ml_budget_per_1000_devices_per_day: float = Field(default=1.0, gt=0, le=100)
    # Held-out normal days before the scored range on which the budget is calibrated (a time split:
    # each is judged against the device's days before them, as a scored day is).
    ml_holdout_days: int = Field(default=3, ge=1, le=14)
    # The alarm line never drops below this raw score (robust z of the day's most changed feature): a
    # very regular world must not make a 2-sigma day an alarm because its held-out tail was thin.
    ml_min_line: float = Field(default=3.0, gt=0)
    # --- end ML --------------------------------------------------------------------------

    # --- Detectors ---------------------------------------------------------------------
    # Shared by the three rule detectors (issue 3). Each default names its source.
    # Trailing days every baseline is learned from (SEED.md trains on 10-30 days; DESIGN.md "trailing days").
    detect_history_days: int = Field(default=14, ge=1, le=90)
    # Coverage (DESIGN.md "Coverage"): when the sensors were listening, derived from the sightings.
    # A fixed sensor's silence in an hour is an outage when it reported in that local hour of day on at
    # least this share of its active days (it normally reports then); else the hour is quiet, with 0 devices.
    coverage_normal_share: float = Field(default=0.5, gt=0, le=1)
    # A sensor reporting in fewer than this share of its hours in one folder moves between folders
    # (a patrol): it says nothing about any folder's coverage.
    coverage_home_share: float = Field(default=0.8, gt=0.5, le=1)
    # A folder-hour is covered when at least this share of the folder's fixed sensors was listening.
    coverage_min_share: float = Field(default=0.75, gt=0, le=1)
    # A local day (or night) is covered when at least this share of its hours is covered.
    coverage_day_share: float = Field(default=0.75, gt=0, le=1)
    # Subjects with fewer covered days of history than this are learning: no baseline-relative alarm.
    learning_min_days: int = Field(default=5, ge=1, le=60)
    # Per-sensor RSSI calibration (calibration.py, issue 16 point 1; docs/detectors.md "Sensor levels"):
    # real sniffers read one room 10-20 dB apart (model, antenna, mounting height, a wall), so each sensor's
    # level is learned from its own history and its readings are corrected by its offset before any fixed
    # dBm cut. Block by block (CALIB_BLOCK_DAYS) over CALIB_HISTORY_DAYS: CALIB_QUANTILE of the mean reading of
    # the devices that dwell at the sensor in the block (heard there in >= CALIB_MIN_HOURS distinct hours of
    # it, each device at the sensor hearing it best); the sensor's level is the highest level of its usable
    # blocks (enough dwellers, a level standing CALIB_MIN_SPAN_DB above the block's low tail). On by default: the
    # weak_sensors worlds regain their recall, and the lab captures' empty months (nobody near the sniffer)
    # no longer read as a weak sniffer (docs/detectors.md, measured figures). Pinned offsets
    # (CALIB_SENSOR_OFFSETS) apply either way: an operator who knows a sniffer reads weak says so.
    calib_learn: bool = True
    calib_quantile: float = Field(default=0.95, gt=0.5, lt=1)
    # ours: a person at a desk or a device on a shelf stays for hours; a rotating random MAC, a visitor or a
    # passer-by does not, and its reading says nothing about the sensor's level.
    calib_min_hours: int = Field(default=4, ge=1)
    # Fewer dwellers in a block than this: the block is not used (a quantile of a handful is its maximum); a
    # sensor without a usable block is learning (offset 0).
    calib_min_devices: int = Field(default=20, ge=5)
    # The memory: a sensor's gain is its hardware and mounting, not the season; who sits near it changes.
    # Blocks without dwellers near the sensor are refused and the best occupied block is kept through them,
    # for two years: a year of holidays and empty terms, and the same weeks of the next year. Measured on the
    # lab captures (most fortnights of 2023-05..11 without anybody near): with 364 days the occupied
    # fortnights of 2022-11 left the memory in 2023-11, the spring's (-59..-63 dBm) read the sniffer 7-12 dB
    # weak, and 2023-11..12 gained 2 alarms (seen on 2023-07..12: not a clean check of this choice).
    calib_history_days: int = Field(default=730, ge=7, le=3660)
    # One block of the memory: a fortnight, the former history (DETECT_HISTORY_DAYS). Shorter loses the
    # nearest dwellers of a weekly class: on the lab captures its students' laptops, 2-3 hours a week, are
    # heard >= CALIB_MIN_HOURS in a fortnight but not in a week, and weekly blocks read the occupied lab of
    # 2022-11 6-10 dB weaker than fortnights do.
    calib_block_days: int = Field(default=14, ge=1, le=365)
    # A block's level must stand this far above its low tail (1 - CALIB_QUANTILE of the same dwellers' means)
    # to count. Measured with fortnight blocks (docs/detectors.md "Sensor levels"): the worlds' sensors span
    # 17.1-45 dB (weak ones 17.3-24.1: the gain moves near and far dwellers alike, down to the floor), the
    # lab's occupied fortnights 20.4-36.5; the lab's fortnights with nobody near the sniffer (2023-05..11)
    # 4.5-15.5, two at 17.4 and 17.9 that no span tells from a weak sensor's (the memory's highest level
    # keeps such blocks from setting it while an occupied one is remembered).
    calib_min_span_db: float = Field(default=15.0, ge=0, le=60)
    # The level of the sensors the fixed cuts were set for (NEAR_RSSI_DBM, NIGHT_FAR_RSSI_DBM, the occupancy
    # cuts): a phone at a desk 1-3 m from the sniffer reads -45..-55 dBm on a Pigtail/CYT-class sniffer. The
    # simulated worlds' sensors (no gain) read -52 dBm median, sd 1.9 dB, over 92 sensors of 9 families.
    calib_reference_dbm: float = Field(default=-52.0, ge=-100, le=-20)
    # An offset smaller than this is the statistic's own spread between sensors of one model (3 sd of the
    # 92 reference sensors; they range -5.5..+5.6 dB): 0, the sensor reads like the reference.
    calib_tolerance_db: float = Field(default=6.0, ge=0, le=20)
    # Clamp (ours): real sniffers differ by up to 20 dB. Never above 0: a level above the reference is as
    # often an access point on the sensor's shelf as a stronger sniffer, and it would tighten the cuts.
    calib_min_offset_db: float = Field(default=-20.0, ge=-40, le=0)
    calib_max_offset_db: float = Field(default=0.0, ge=0, le=20)
    # Operators' pinned offsets, e.g. "position_1=0,hall-3-s2=-12": used as given instead of the learned
    # ones (not clamped). For a sensor nobody dwells near for weeks (a room empty over the holidays, a
    # corridor), whose nearest dwellers are the neighbours behind its wall: the statistic reads it as weak.
    calib_sensor_offsets: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    # Density (DESIGN.md: p95 of the same folder, trailing days, same hour of day where history allows).
    density_quantile: float = Field(default=0.95, gt=0, lt=1)  # SEED.md details "p95_baseline"
    density_min_same_hour_days: int = Field(default=5, ge=1, le=90)  # ours: fewer days -> all-hours fallback
    density_min_history_hours: int = Field(default=24, ge=1)  # ours: one full day before any baseline exists
    # The folder's weekly rhythm (issue 11: "far more than its own same-hour baseline"): on its quiet weekdays
    # (an office's weekend: every covered day of that weekday under this share of the folder's median day
    # level), an hour is judged against the same hour of its quiet days, not against the busy days' p95, so
    # a crowd on a Saturday shows. Ours: the weekend crowds the all-days p95 missed on seeds 7401/7402.
    density_quiet_day_share: float = Field(default=0.5, gt=0, lt=1)
    # ... with at least this many quiet days at that hour (fewer: the all-days same-hour baseline). Ours: 14
    # days of history hold 4 weekend days; 3 keep the median of 3 as the least a baseline is.
    density_min_quiet_days: int = Field(default=3, ge=2, le=90)
    # A quiet day is flat: its hour's baseline pools the quiet days' samples of this many hours either side
    # (ours: 4 weekend days x 3 hours give a p95 that 4 samples cannot; a lone Sunday bump of +10 devices in
    # outages-7301 passed the 2nd largest of 4 Sundays/Saturdays at 10:00, not the pooled p95). 0: no pooling.
    density_quiet_spread_hours: int = Field(default=1, ge=0, le=6)
    # Fire only above BOTH a ratio and an absolute excess over p95 (ours; ratio levels alarm/warning/critical).
    # p95 is already the folder's one-busy-hour-in-twenty, so 1.5x p95 with +10 devices is far above normal.
    density_ratio_alarm: float = Field(default=1.5, gt=1)
    density_ratio_warning: float = Field(default=2.5, gt=1)
    density_ratio_critical: float = Field(default=4.0, gt=1)
    density_min_excess: int = Field(default=10, ge=1)
    # Occupancy estimate (issue 16): per 5-minute slot, people = sqrt(near x mid), the geometric mean of
    # probe fingerprints whose strongest reading reaches the near cut (undercounts: phones of one model
    # share a fingerprint) and distinct MACs reaching the mid cut (overcounts: rotations, next door).
    # Tuned on the lab captures 2022-10..2023-06 (benchmarks/occupancy.py): a plateau for near -65..-70
    # and mid -75..-85 (Spearman 0.90-0.92 all hours, 0.70-0.73 occupied); -65 / -80 sit inside it.
    # The interval moves both cuts by the margin: low = both 5 dB closer, high = both 5 dB farther.
    occupancy_near_rssi: int = Field(default=-65, ge=-120, le=0)
    occupancy_mid_rssi: int = Field(default=-80, ge=-120, le=0)
    occupancy_rssi_margin: int = Field(default=5, ge=0, le=30)
    # A person stays: a near fingerprint weighs (time from its first to its last sighting at the mid cut
    # in the hour) / this, at most 1. One slot (5 min, ours): whoever is heard across a slot's length
    # counts fully; a passer-by's single probe burst (milliseconds) weighs almost nothing.
    occupancy_dwell_minutes: float = Field(default=5.0, gt=0, le=60)
    # Someone is in the room: in an hour with nobody inside, the phones near the sensor are behind its
    # wall (students waiting in the corridor, the office next door) and none comes closer than this.
    # Lab captures, tune period: every one of the 100 occupied hours had a reading >= -52 dBm, and 23 of
    # the 24 empty hours with near fingerprints none above -56 (one at -54); hours with no reading at
    # this cut held 0.02 of the people their near/mid counts suggest, against 0.71 in the others. With
    # nobody that close, the estimate is 0. -55 leaves 3 dB below the weakest occupied hour.
    occupancy_room_rssi: int = Field(default=-55, ge=-120, le=0)
    # A person stays in the room after the hour in which someone came within it: a fingerprint near the
    # sensor (near cut) in a slot of such an hour still counts, in the next hour, in the slots that start
    # within this many minutes of that slot. People linger after a session and wait outside before one
    # (ours, from the lab captures' tune period: the hours with one lingering person, true occupancy
    # 0.96 and 0.13, followed a session, the phone at -59..-60 dBm, never at the room cut; the ten empty
    # hours with students near the door came before a day's first session). Tune figures are the same
    # with 0, 15, 30 or 60 minutes (Spearman 0.958 all hours, 0.726 occupied): the 0.96 hour reads 3.7
    # instead of 0, and one empty hour after an unlabelled crowd 1.1 instead of 0. 15 (three slots) is
    # the shortest that bridges a phone's probe gap, so that a shared fingerprint carries the least.
    occupancy_carry_minutes: float = Field(default=15.0, ge=0, le=120)
    density_cooldown_hours: float = Field(default=3.0, ge=0)  # Merlion-style alarm suppression, ours
    # False-alarm budget (DESIGN.md): at most this many alarm days per folder per week on replayed history.
    density_budget_per_week: float = Field(default=1.0, gt=0, le=7)
    # ... but the budget never lifts a folder's alarm line above this ratio (a 2x crowd stays visible).
    density_budget_max_ratio: float = Field(default=2.0, gt=1)
    # Evidence factor when the baseline is over all hours, not this hour of day (ours: a weaker comparison).
    density_all_hours_factor: float = Field(default=0.8, ge=0, lt=1)
    # Evidence factor in the first covered hour after a gap: a restarting sensor hears everyone around at once
    # (ours: halves the evidence, so a crowd of 2x the alarm ratio still shows, e.g. a live feed's first hour).
    density_restart_factor: float = Field(default=0.5, ge=0, lt=1)
    # A crowd is people who are there (issue 11/16): an hour that would alarm, whose busiest 5-minute slot
    # holds fewer than DENSITY_MIN_EXCESS people at the upper end of the occupancy estimate's interval
    # (`people_high`, occupancy.py), is a flood of MACs with nobody near: its level is multiplied by this.
    # 0 vetoes it (ours: on the lab captures, 11 of main's 12 density alarms of 2023-07..12 fell in hours with
    # at most one person in the room, every one with people_high under 10; the busiest real session has 21 people).
    # 1 switches the rule off (and its read of the estimate).
    density_no_people_factor: float = Field(default=0.0, ge=0, le=1)
    # Night (SEED.md "активность ночью (0-6 часов)"), local time per folder (DESIGN.md "Local time").
    # Levels and evidence against: docs/detectors.md "night"; checked together at load_settings().
    night_start_hour: int = Field(default=0, ge=0, le=23)
    night_end_hour: int = Field(default=6, ge=0, le=23)
    # A device is judged by its own history with at least this many active days AND this many covered
    # nights since its first sighting (ours: three nights before "never at night" means anything); with
    # less it is new and judged against its folder's known night population.
    night_min_history_days: int = Field(default=3, ge=1)
    night_min_history_nights: int = Field(default=3, ge=1)
    # A device heard at night on >= max(nights, fraction * covered nights of its history) is a night device.
    night_regular_min_nights: int = Field(default=2, ge=1)  # ours (night-shift staff work several nights)
    night_regular_fraction: float = Field(default=0.2, ge=0, le=1)  # ours
    # ... or one without a daytime rhythm: its share of covered night hours heard is at least this ratio
    # times its share of covered day hours heard (ours: a far beacon heard at random hours has a ratio
    # near 1, a daytime employee 0, one early arrival in two weeks ~0.03).
    night_rhythm_ratio: float = Field(default=0.25, gt=0, le=1)
    night_min_sightings: int = Field(default=3, ge=1)  # Chasing-Your-Tail: >= 3 sightings before any alert
    # A new device must stay: a passer-by crosses a sensor's range in a few minutes, a visit lasts
    # longer (ours; Pigtail likewise ignores transient devices).
    night_new_device_min_minutes: float = Field(default=10, ge=0)
    # Active minutes at night: alarm / warning / critical levels (ours; 3 = CYT's three sightings).
    night_minutes_alarm: float = Field(default=3, gt=0)
    night_minutes_warning: float = Field(default=15, gt=0)
    night_minutes_critical: float = Field(default=45, gt=0)
    # A night session that starts this close to the night's end and runs on into the day is an early
    # arrival (or, mirrored, a late leave), not night activity (ours: the "arrives early once" case).
    night_grace_minutes: int = Field(default=60, ge=0, le=180)
    # A folder's known night population: stable devices heard at night there on at least this many
    # earlier covered nights (ours: one night may have been the intruder's own first visit).
    night_known_min_nights: int = Field(default=2, ge=1)
    # A new device that came and left with a known night person of the folder (both ends of its night
    # within this many minutes of theirs) is on their shift: a new colleague, not a stranger (ours: as
    # STATIONARY_SESSION_TOLERANCE_MINUTES; a shift starts and ends together within a quarter hour or so).
    night_shift_tolerance_minutes: float = Field(default=30, gt=0, le=180)
    # A device never heard closer than this tonight is beyond the folder's walls: a neighbour's laptop or
    # a far card (lab captures: device-hours with nobody in the room have a median strongest reading of
    # -84 dBm and 75 % below -80; people in the occupied lab -78 median, and the 3 night alarms of
    # 2023-07..12, all on empty nights, at -81 to -90; the infrastructure is at -85 to -95 dBm).
    night_far_rssi_dbm: int = Field(default=-80, ge=-120, le=0)
    # Randomized MACs at night, judged per folder as a population (peak per 5 minutes vs p95 of covered nights).
    night_random_ratio: float = Field(default=3.0, gt=1)  # ours
    night_random_min_excess: int = Field(default=5, ge=1)  # ours
    # --- Stationary surveillance (detectors/stationary*.py; docs/detectors.md) -------------
    slot_minutes: int = Field(default=5, ge=1, le=60)  # Chasing-Your-Tail: 5/10/15/20-minute windows
    stationary_radius_m: float = Field(default=100.0, gt=0)  # ours: one spot < AirGuard's 150 m location step
    # A dwell survives silences up to this long (ours: CYT's longest persistence window is 20 min; a sparse
    # scanner can miss a still device for a little longer, and a device back within 30 min has not left).
    stationary_max_gap_minutes: int = Field(default=30, ge=1)
    linger_hours_alarm: float = Field(default=2.0, gt=0)  # ours ("stays for hours"); CYT: >= 1 h persistence
    linger_hours_warning: float = Field(default=4.0, gt=0)
    linger_hours_critical: float = Field(default=8.0, gt=0)
    # A steady signal: median over the dwell's hours of the hourly RSSI standard deviation at the sensor
    # hearing the device best. Measured (5+ readings an hour): still devices 1.5-1.8 dB in the simulator
    # (fixtures, planted lingerers; p95 1.8) and 1.5-2.8 dB for the lab's always-on equipment (p95 2.8);
    # people moving about 5.0 dB (simulated staff, median), 5.7 (visitors), up to 7.5 (passers-by p95).
    # 4 dB sits between the two; the old 8 dB called nearly everything steady. Returning uses the same line
    # over its visits (a watcher stays still at its spot; visitors walking about: 4.2-4.6 dB on the check seeds).
    linger_max_rssi_std: float = Field(default=4.0, gt=0)
    linger_unsteady_factor: float = Field(default=0.3, ge=0, lt=1)  # ours: a moving device is rarely a watcher
    near_rssi_dbm: int = Field(default=-65, ge=-120, le=0)  # Pigtail/CYT: dwell "near" = RSSI >= -65 dBm
    linger_far_factor: float = Field(default=0.3, ge=0, lt=1)  # ours: far and steady = a neighbour's device
    # What is usual for the folder at an hour of day: per covered day of the history, the longest dwell of a
    # stranger (not a regular, see REGULAR_MIN_DAYS; dwelling >= LINGER_USUAL_MIN_MINUTES) covering that
    # hour, 0 if none; then this quantile over the covered days (0.5: a typical day - a weekly session or
    # one long visit is one day, not the norm; a new random MAC every working day is). A dwell shorter than
    # LINGER_USUAL_MARGIN times the usual one at its hours is ordinary there: LINGER_USUAL_FACTOR. (ours)
    linger_usual_quantile: float = Field(default=0.5, gt=0, lt=1)
    linger_usual_min_minutes: float = Field(default=30, ge=0)
    linger_usual_margin: float = Field(default=1.25, ge=1)
    linger_usual_factor: float = Field(default=0.3, ge=0, lt=1)
    # A group: other strangers dwelling in the folder for most of this dwell (lingering), or coming back to
    # the folder on the same days (returning). This many or more make a session, a class, a meeting or a
    # queue, not a lone watcher (Pigtail/CYT: a crowd is evidence against).
    stationary_crowd_min: int = Field(default=3, ge=1)
    # "Came and left together": both ends of the dwell within this many minutes (ours: a class or a meeting
    # starts and ends on the hour; people drift in and out within a quarter of an hour or so). A member came
    # *with* the group: its own ends each within half of this of the group's median ends (docs/detectors.md).
    stationary_session_tolerance_minutes: float = Field(default=30, gt=0, le=180)
    stationary_crowd_factor: float = Field(default=0.4, ge=0, lt=1)
    # Share of the dwell inside hours when the folder held a density spike: explained by the crowd, when the
    # device came and left with at least one other stranger (one that came and left alone is no member).
    linger_spike_share: float = Field(default=0.75, gt=0, le=1)
    linger_spike_factor: float = Field(default=0.3, ge=0, lt=1)
    # A shift: the stranger's presence in the folder that day began and ended within
    # LINGER_SHIFT_TOLERANCE_MINUTES of the presence of at least LINGER_SHIFT_MIN_REGULARS regulars of the
    # site (REGULAR_MIN_DAYS) there: it keeps the site's working hours, as a new colleague on the first day
    # does (or new equipment, with the always-on ones). A watcher keeps its own hours, not the site's.
    # Ours: people of one shift arrive and leave within about three quarters of an hour of each other
    # (commute, flexitime), looser than a class's STATIONARY_SESSION_TOLERANCE_MINUTES; three, as for a group.
    # On the world families' check seeds and seed 8101 all 9 false lingering alarms left were first-day
    # staff with >= 3 such regulars; no planted lingerer had more than 1.
    linger_shift_tolerance_minutes: float = Field(default=45, gt=0, le=180)
    linger_shift_min_regulars: int = Field(default=3, ge=1)
    linger_shift_factor: float = Field(default=0.3, ge=0, lt=1)
    # A randomized (locally administered) MAC: Android 10+ and iOS 14+ keep one random MAC per network, for a
    # day or longer, so a randomized MAC that persists is most often an ordinary phone; it needs twice the
    # evidence (ours). Applies to lingering and returning; following is judged by the places, not the MAC.
    stationary_randomized_factor: float = Field(default=0.5, ge=0, lt=1)
    # Back on several days with the same random MAC: the phone keeps a per-network MAC for this place's
    # network, so it uses that network - a regular of the place far more often than a watcher (ours).
    return_randomized_factor: float = Field(default=0.25, ge=0, lt=1)
    # A device alarmed for stationary surveillance stays quiet this many days unless the severity rises
    # (ours: a returner is one episode across its days, not one alarm a day).
    stationary_cooldown_days: float = Field(default=3.0, ge=0, le=30)
    # A returner watches from near the spot: mean RSSI at its best sensor over the look-back at least this
    # (ours: visitors flagged as returning on independent worlds sat at -77..-82 dBm, planted watchers at
    # -58..-68; Pigtail/CYT's -65 for one continuous dwell is stricter than a few short returns need).
    return_near_rssi_dbm: int = Field(default=-70, ge=-120, le=0)
    # A day of a returner counts as far from the spot only when its mean RSSI at the best sensor lies
    # below RETURN_NEAR_RSSI_DBM by more than this many standard errors of that mean (ours: z = 2, a
    # one-sided ~98 % normal bound; a planted returner at -68 dBm with 15 readings at 3 dB spread averaged
    # -70.1 on one day of weekly_events-8101 and was missed; 0 judges the bare mean).
    return_near_day_z: float = Field(default=2.0, ge=0, le=5)
    return_lookback_days: int = Field(default=7, ge=2, le=60)  # ours: "several different days" within a week
    return_days_alarm: int = Field(default=3, ge=2)  # ours: 3 days (CYT's >= 3 sightings, on days)
    return_days_warning: int = Field(default=4, ge=2)
    return_days_critical: int = Field(default=5, ge=2)
    return_min_minutes: int = Field(default=10, ge=1)  # ours: a day counts with >= 10 active minutes there
    # A returner is a stranger: seen on fewer than REGULAR_MIN_DAYS days of this many days before the
    # look-back (ours: four weeks hold a weekly visitor's visits and a two-week holiday's absence).
    return_history_days: int = Field(default=28, ge=1, le=120)
    # A stranger at the place for hours on a typical day of the look-back works there (a new hire, a
    # contractor): ours, a watcher comes back for a while (the returning cases we know: 20-80 min a visit).
    return_staff_hours: float = Field(default=4.0, gt=0)
    return_staff_factor: float = Field(default=0.3, ge=0, lt=1)
    # A stranger (not a regular) seen in the history on some days all the same: a part-timer, a colleague
    # back from leave, an occasional visitor - not new to the place, as a watcher is (ours: of the false
    # "lingering" and "returning" alarms on the world families' tuning seeds, all but one were staff or
    # visitors seen on one earlier day; every planted watcher was new). Lingering, returning.
    stationary_seen_before_factor: float = Field(default=0.3, ge=0, lt=1)
    # ours: seen on >= 2 earlier days = a regular, when its sightings span >= (this - 1) x 24 h: one
    # presence across midnight (a night shift) touches two days but is one visit (docs/detectors.md).
    regular_min_days: int = Field(default=2, ge=1)
    # AirGuard: followed >= 30/60/120 min across >= 2/3/4 locations at least 150 m apart.
    follow_minutes_alarm: float = Field(default=30, gt=0)
    follow_minutes_warning: float = Field(default=60, gt=0)
    follow_minutes_critical: float = Field(default=120, gt=0)
    follow_locations_alarm: int = Field(default=2, ge=2)
    follow_locations_warning: int = Field(default=3, ge=2)
    follow_locations_critical: int = Field(default=4, ge=2)
    follow_distance_m: float = Field(default=150.0, gt=0)
    follow_min_slots: int = Field(default=3, ge=1)  # CYT: >= 3 sightings (in distinct slots)
    # Following is judged along the sensor's round: its stops (places >= FOLLOW_DISTANCE_M apart where it
    # stayed >= FOLLOW_STOP_MIN_SLOTS slots) in order. A follower's episode goes on across long gaps while it
    # is at consecutive stops, and ends when the sensor made more than FOLLOW_MAX_MISSED_STOPS stops without
    # it, or after FOLLOW_MAX_GAP_MINUTES without it (ours: patrol stops 48-84 min apart, one of them
    # missed, must not split a round: up to ~170 min; a parked sensor's long break must not join two errands).
    follow_stop_min_slots: int = Field(default=2, ge=1)
    follow_max_missed_stops: int = Field(default=1, ge=0)
    follow_max_gap_minutes: int = Field(default=180, ge=1)
    # A follower is at (nearly) every stop the sensor made meanwhile; a device heard at fewer than this share
    # of them (a colleague's desk audible from two stops of a round) is weaker evidence (ours).
    follow_min_stop_share: float = Field(default=0.75, gt=0, le=1)
    follow_partial_factor: float = Field(default=0.5, ge=0, lt=1)
    # Pigtail/CYT: a crowd moving with the sensor (bus, train) is evidence against following.
    follow_crowd_max: int = Field(default=4, ge=0)
    follow_crowd_factor: float = Field(default=0.3, ge=0, lt=1)
    companion_min_days: int = Field(default=3, ge=1)  # ours: the sensor carrier's own devices, learned (veto)
    # Fixtures are learned relative to covered time (storage/queries/known.py): heard in >= FIXTURE_HOUR_COVERAGE
    # of the covered hours of a covered day ("most hours"; ours: a 9-hour working day is 0.38, a far card
    # at -90 dBm heard now and then in most hours ~0.7-1.0), on >= FIXTURE_DAY_SHARE of the covered days
    # since first heard ("most days"; ours: a weekday-only worker reaches 5/7 = 0.71 only on 12-hour days)
    # and on >= FIXTURE_MIN_DAYS days.
    fixture_min_days: float = Field(default=2.0, gt=0)
    fixture_hour_coverage: float = Field(default=0.6, gt=0.5, le=1)
    fixture_day_share: float = Field(default=0.7, gt=0.5, le=1)
    # A folder has a heartbeat when one stable device is heard in this share of the hours anything was heard
    # there: its sensor is then off whenever silent (ours: the lab's always-on Raspberry Pis reach 0.95-1.0).
    fixture_heartbeat_share: float = Field(default=0.9, gt=0.5, le=1)
    # --- end Detectors -------------------------------------------------------------------

    # --- Notifications (issue 6) ---------------------------------------------------------
    # (DJANGO_URL, DETECT_INTERVAL and NOTIFY_LANGUAGE are above.) Continuous detection looks back this
    # many hours on every run: the specification's detect-and-notify default, hours=24.
    detect_window_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    # Per subject and anomaly type: after a notification, the same subject and type stays quiet this
    # long unless the severity rises (ours: 15 min = three 5-minute sensor slots of a flapping device),
    # for anomalies whose window continues the notified one's (less than this apart); another episode is news.
    notify_cooldown_s: float = Field(default=900.0, ge=0)
    # WebSocket hub: messages queued per client before a slow client is disconnected (ours: ~1 min of a
    # detection burst), idle seconds between heartbeats (below the 30-60 s idle timeout of common
    # proxies), most missed notifications replayed on reconnect, most clients at once.
    notify_ws_queue: int = Field(default=256, ge=1, le=100_000)
    notify_ws_heartbeat_s: float = Field(default=20.0, gt=0, le=3600)
    notify_ws_replay_max: int = Field(default=1000, ge=0, le=100_000)
    notify_ws_max_clients: int = Field(default=1000, ge=1, le=100_000)
    # Webhook (SEED.md retry table, "HTTP to Django": 3 tries, 1 s -> 10 s, on HTTPError/Timeout).
    notify_webhook_tries: int = Field(default=3, ge=1, le=20)
    notify_webhook_wait_min_s: float = Field(default=1.0, ge=0)
    notify_webhook_wait_max_s: float = Field(default=10.0, ge=0)
    notify_webhook_timeout_s: float = Field(default=10.0, gt=0)
    # Sent as X-API-Key to the host application when set (its own key, not one of VALID_API_KEYS).
    # A SecretStr: `config show` and error messages never print it.
    notify_webhook_api_key: SecretStr = SecretStr("")
    # After a delivery pass fails (receiver down), the outbox tries again this many seconds later (ours).
    notify_outbox_retry_s: float = Field(default=30.0, gt=0)
    # Delivered and rejected outbox rows are deleted this many days after their last attempt (ours: a month
    # to answer "was it delivered?"; the notification log keeps every notification 90 days). 0 keeps them.
    notify_outbox_keep_days: float = Field(default=30.0, ge=0)
    # --- end Notifications ---------------------------------------------------------------

    # --- Dashboard (issue 7) -------------------------------------------------------------
    # SEED.md "Frontend: http://localhost:8501".
    dashboard_host: str = "0.0.0.0"
    dashboard_port: int = Field(default=8501, ge=1, le=65535)
    # The service the dashboard talks to (never the store): the backend's port 8001 from SEED.md.
    # In docker-compose this is http://backend:8001.
    dashboard_api_url: str = Field(default="http://127.0.0.1:8001", pattern=r"^https?://")
    # Key sent as X-API-Key; empty = the first of VALID_API_KEYS (none in development mode).
    dashboard_api_key: str = ""
    # Seconds one API call may take before the page says the service is not answering (ours:
    # device analysis on 30 days of data takes a few seconds on two cores).
    dashboard_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # Seconds between refreshes of the live and overview pages (ours: an operator glance).
    dashboard_refresh_s: float = Field(default=3.0, ge=1, le=3600)
    # Map tiles for the maps, fetched by the operator's browser from the internet: "" (default, no
    # tiles: points on longitude/latitude axes, works on an isolated network), or a tokenless plotly
    # style such as open-street-map, carto-positron, carto-darkmatter.
    dashboard_map_tiles: Literal["", "open-street-map", "carto-positron", "carto-darkmatter", "carto-voyager"] = ""
    # An offline background for the maps (issue 14): a PNG or JPEG of the site (a plan, or a map exported
    # once) and the longitude/latitude it covers as "west,south,east,north". The dashboard sends it with
    # the page, so it needs no network; ignored while DASHBOARD_MAP_TILES is set.
    dashboard_map_image: str = ""
    dashboard_map_image_bounds: str = ""
    # Dashboard sign-in (issue 14): a TOML file of operators and their Argon2 password hashes, written by
    # `santiway-anomaly operator add NAME`; empty = DATA_DIR/dashboard-users.toml. With no such file
    # and no OIDC ([auth] in .streamlit/secrets.toml, Streamlit's st.login), a production service
    # (VALID_API_KEYS set) shows nothing in the dashboard; development mode shows all without sign-in.
    dashboard_users_file: str = ""
    # --- end Dashboard -------------------------------------------------------------------

    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("allowed_origins", "valid_api_keys", mode="before")
    @classmethod
    def _csv_list(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("folder_timezones", mode="before")
    @classmethod
    def _folder_tz(cls, value: object) -> object:
        return dict(_pairs(value, "folder=Area/City pairs")) if isinstance(value, str) else value

    @field_validator("calib_sensor_offsets", mode="before")
    @classmethod
    def _sensor_offsets(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        expected = "sensor=dB pairs (dB in -40..40)"
        result: dict[str, float] = {}
        for sensor, db in _pairs(value, expected):
            try:
                result[sensor] = float(db)
            except ValueError:
                result[sensor] = float("nan")
            if not -40 <= result[sensor] <= 40:  # NaN fails this too
                raise ValueError(f"expected {expected} separated by commas, got {sensor + '=' + db!r}")
        return result

    @model_validator(mode="after")
    def _map_image_bounds(self) -> Settings:
        if self.dashboard_map_image:
            self.map_image_bounds()  # raises ValueError with what is wrong
        return self

    def map_image_bounds(self) -> tuple[float, float, float, float]:
        """DASHBOARD_MAP_IMAGE_BOUNDS as (west, south, east, north) degrees."""
        try:
            west, south, east, north = (float(v) for v in self.dashboard_map_image_bounds.split(","))
        except ValueError:
            raise ValueError("DASHBOARD_MAP_IMAGE_BOUNDS must be west,south,east,north in degrees (four numbers) "
                             f"when DASHBOARD_MAP_IMAGE is set, got {self.dashboard_map_image_bounds!r}") from None
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError(f"DASHBOARD_MAP_IMAGE_BOUNDS: need west < east and south < north within "
                             f"-180..180 / -90..90, got {self.dashboard_map_image_bounds!r}")
        return west, south, east, north

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        _zone(value)
        return value

    @field_validator("folder_timezones")
    @classmethod
    def _check_folder_tz(cls, value: dict[str, str]) -> dict[str, str]:
        for tz in value.values():
            _zone(tz)
        return value

    @field_validator("valid_api_keys")
    @classmethod
    def _no_placeholder_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if key.startswith("<") or key in {"your_strong_api_key_here", "changeme", "YOUR_API_KEY"}:
                raise ValueError("contains a placeholder; generate a key with "
                                 "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
            if len(key) < 8:
                raise ValueError("every key must be at least 8 characters long")
        return value

    @model_validator(mode="after")
    def _density_section(self) -> Settings:
        if not self.density_ratio_alarm < self.density_ratio_warning < self.density_ratio_critical:
            raise ValueError("DENSITY_RATIO_ALARM < DENSITY_RATIO_WARNING < DENSITY_RATIO_CRITICAL must hold, got "
                             f"{self.density_ratio_alarm}, {self.density_ratio_warning}, {self.density_ratio_critical}")
        if self.density_budget_max_ratio < self.density_ratio_alarm:
            raise ValueError(f"DENSITY_BUDGET_MAX_RATIO ({self.density_budget_max_ratio}) must be >= "
                             f"DENSITY_RATIO_ALARM ({self.density_ratio_alarm})")
        return self

    @model_validator(mode="after")
    def _occupancy_cuts(self) -> Settings:
        if self.occupancy_near_rssi > self.occupancy_room_rssi:
            raise ValueError(f"OCCUPANCY_NEAR_RSSI ({self.occupancy_near_rssi}) must be <= OCCUPANCY_ROOM_RSSI "
                             f"({self.occupancy_room_rssi}): the room cut is the closest of the three")
        if self.occupancy_mid_rssi > self.occupancy_near_rssi:
            raise ValueError(f"OCCUPANCY_MID_RSSI ({self.occupancy_mid_rssi}) must be <= OCCUPANCY_NEAR_RSSI "
                             f"({self.occupancy_near_rssi}): the mid-range count reaches farther than the near one")
        return self

    @model_validator(mode="after")
    def _model_under_data_dir(self) -> Settings:
        if self.model_path == Path(""):
            self.model_path = self.data_dir / "models" / "tcn_model.pt"
        return self

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Settings:
        if self.anomaly_threshold_99 < self.anomaly_threshold_95:
            raise ValueError("ANOMALY_THRESHOLD_99 must be >= ANOMALY_THRESHOLD_95")
        return self

    @model_validator(mode="after")
    def _night_levels(self) -> Settings:
        if self.night_start_hour == self.night_end_hour:
            raise ValueError("NIGHT_START_HOUR and NIGHT_END_HOUR must differ (the night would be empty)")
        if not self.night_minutes_alarm < self.night_minutes_warning < self.night_minutes_critical:
            raise ValueError("NIGHT_MINUTES_ALARM < NIGHT_MINUTES_WARNING < NIGHT_MINUTES_CRITICAL must hold, got "
                             f"{self.night_minutes_alarm:g}, {self.night_minutes_warning:g}, "
                             f"{self.night_minutes_critical:g}")
        if self.night_min_history_nights > self.detect_history_days:
            raise ValueError(f"NIGHT_MIN_HISTORY_NIGHTS ({self.night_min_history_nights}) cannot exceed "
                             f"DETECT_HISTORY_DAYS ({self.detect_history_days})")
        if self.fixture_min_days > self.detect_history_days:
            raise ValueError(f"FIXTURE_MIN_DAYS ({self.fixture_min_days:g}) cannot exceed "
                             f"DETECT_HISTORY_DAYS ({self.detect_history_days})")
        return self

    @model_validator(mode="after")
    def _stationary_levels(self) -> Settings:
        """Stationary surveillance: alarm < warning < critical for every level triple."""
        for prefix in ("linger_hours", "follow_minutes", "follow_locations", "return_days"):
            a, w, c = (getattr(self, f"{prefix}_{lvl}") for lvl in ("alarm", "warning", "critical"))
            if not a < w < c:
                name = prefix.upper()
                raise ValueError(f"{name}_ALARM < {name}_WARNING < {name}_CRITICAL must hold, got {a}, {w}, {c}")
        if self.return_days_critical > self.return_lookback_days:
            raise ValueError(f"RETURN_DAYS_CRITICAL ({self.return_days_critical}) cannot exceed RETURN_LOOKBACK_DAYS "
                             f"({self.return_lookback_days}): the level could never be reached")
        return self

    @property
    def embedded(self) -> bool:
        return not self.clickhouse_host

    @property
    def chdb_path(self) -> Path:
        return (self.data_dir / "clickhouse").resolve()

    @property
    def dashboard_users_path(self) -> Path:
        return Path(self.dashboard_users_file) if self.dashboard_users_file else self.data_dir / "dashboard-users.toml"

    @property
    def dev_mode(self) -> bool:
        return not self.valid_api_keys

    def zone_for(self, folder: str | None = None) -> ZoneInfo:
        return _zone(self.folder_timezones.get(folder or "", self.timezone))


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Moscow") from exc


_SECRET_VARIABLES = {"VALID_API_KEYS", "CLICKHOUSE_PASSWORD"}


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's error into one message per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            shown = "***" if name in _SECRET_VARIABLES else repr(err.get("input"))
            lines.append(f"{name}: {err['msg']} (got {shown})")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
