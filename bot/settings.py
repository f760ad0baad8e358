"""Every setting the coach reads, from the environment or a .env file: the only place that does."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
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

    # Discord: the adapter starts when DISCORD_TOKEN is set.
    discord_token: SecretStr | None = None
    discord_dev_guild_id: int | None = None  # sync commands to this guild only (instant)
    # Overrides for the tests' fake Discord; production leaves them unset.
    discord_api_base_url: str | None = None  # e.g. http://127.0.0.1:8080/api/v10
    discord_gateway_url: str | None = None  # e.g. ws://127.0.0.1:8080/gateway

    # Slack: the adapter starts when SLACK_BOT_TOKEN is set (or, for many workspaces, the
    # OAuth pair). Socket Mode when SLACK_APP_TOKEN is set, HTTP mode otherwise.
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_http_host: str = "0.0.0.0"  # noqa: S104 - HTTP mode serves Slack's requests
    slack_http_port: int = Field(default=3000, ge=0, le=65535)
    slack_api_base_url: str | None = None  # the tests' fake Slack, e.g. http://127.0.0.1:9/api/

    @property
    def discord_configured(self) -> bool:
        return self.discord_token is not None

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None or (
            self.slack_client_id is not None and self.slack_client_secret is not None
        )

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
