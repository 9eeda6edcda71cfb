"""One typed settings object, read from the environment and `.env`.

Variable names are the specification's (SEED.md "Конфигурация"); every other number that
matters lives here too, with its default and where that default comes from.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the variable and what is allowed."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


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
    clickhouse_database: str = Field(default="anomaly_ml", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_secure: bool = False
    # SEED.md retry table: connect 5 tries 2s->30s, query 3 tries 1s->10s.
    clickhouse_connect_tries: int = Field(default=5, ge=1, le=20)
    clickhouse_query_tries: int = Field(default=3, ge=1, le=20)

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

    # --- Model ---------------------------------------------------------------------------
    model_path: Path = Path("models/tcn_model.pt")
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
    ingest_batch_rows: int = Field(default=200_000, ge=1000, le=5_000_000)

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
        if isinstance(value, str):
            result: dict[str, str] = {}
            for item in _split_csv(value):  # type: ignore[union-attr]
                folder, sep, tz = str(item).partition("=")
                if not sep or not folder.strip() or not tz.strip():
                    raise ValueError(f"expected folder=Area/City pairs separated by commas, got {item!r}")
                result[folder.strip()] = tz.strip()
            return result
        return value

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
    def _thresholds_ordered(self) -> Settings:
        if self.anomaly_threshold_99 < self.anomaly_threshold_95:
            raise ValueError("ANOMALY_THRESHOLD_99 must be >= ANOMALY_THRESHOLD_95")
        return self

    @property
    def embedded(self) -> bool:
        return not self.clickhouse_host

    @property
    def chdb_path(self) -> Path:
        return (self.data_dir / "clickhouse").resolve()

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
