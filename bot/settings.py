"""Every setting the coach reads, from the environment or a .env file: the only place that does."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from habits import timekeeping as tk


def default_database_url() -> str:
    path = Path(user_data_dir("habit-coach", appauthor=False)) / "habit-coach.db"
    return f"sqlite:///{path}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    database_url: str = Field(default_factory=default_database_url)
    log_level: str = "WARNING"
    default_timezone: str | None = None
    tz: str | None = None  # the C library's TZ: one of the console's hints for this machine
    sweep_interval_seconds: float = Field(default=5.0, gt=0, le=300)
    sweep_batch_size: int = Field(default=1000, ge=1, le=100_000)
    nudge_grace_hours: float = Field(default=6.0, gt=0)
    recap_grace_hours: float = Field(default=48.0, gt=0)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    db_threads: int = Field(default=4, ge=1, le=64)

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # The driver we ship is psycopg 3; accept the common short form.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in tk.known_zone_names():
            raise ValueError(f"DEFAULT_TIMEZONE {value!r} is not an IANA time zone")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return upper
