"""Every setting the coach reads, from the environment or a .env file: the only place that does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from habits import timekeeping as tk


def data_dir() -> Path:
    """This user's folder for the coach's files: the default SQLite database, console exports."""
    return Path(user_data_dir("habit-coach", appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'habit-coach.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    database_url: str = Field(default_factory=default_database_url)
    log_level: str = "WARNING"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for collectors
    default_timezone: str | None = None
    tz: str | None = None  # the C library's TZ: one of the console's hints for this machine
    sweep_interval_seconds: float = Field(default=5.0, gt=0, le=300)
    sweep_batch_size: int = Field(default=1000, ge=1, le=100_000)
    nudge_grace_hours: float = Field(default=6.0, gt=0)
    recap_grace_hours: float = Field(default=48.0, gt=0)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    delivery_concurrency: int = Field(default=8, ge=1, le=64)  # notices being sent at once
    db_threads: int = Field(default=4, ge=1, le=64)
    # How long the database may keep the coach waiting before that is an error (the member hears
    # "try again", the tick retries, /readyz answers 503) rather than a thread stuck for good:
    # connecting (PostgreSQL), one statement (on SQLite: waiting for the write lock), waiting
    # for a lock another replica holds (PostgreSQL).
    database_connect_timeout_seconds: float = Field(default=10.0, ge=2, le=300)
    database_statement_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    database_lock_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)

    # The one HTTP server of `habit-coach run`: /healthz, /readyz, /metrics and, in Slack HTTP
    # mode, /slack/events and the OAuth pages. Port 0 binds a free port (tests).
    http_host: str = "0.0.0.0"  # noqa: S104 - probes and Slack reach the process from outside
    http_port: int = Field(default=8080, ge=0, le=65535)
    # What a client may take before its connection is closed: its request head (from connecting,
    # or from a kept-alive request's first byte), its body (from the head), idle between
    # requests; and how many connections may be open at once.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    http_keepalive_timeout_seconds: float = Field(default=75.0, gt=0, le=3600)
    http_max_connections: int = Field(default=500, ge=1, le=100_000)

    # Discord: the adapter starts when DISCORD_TOKEN is set.
    discord_token: SecretStr | None = None
    discord_dev_guild_id: int | None = None  # sync commands to this guild only (instant)
    # Sharding across replicas: each holds DISCORD_SHARD_IDS of DISCORD_SHARD_COUNT shards.
    # Unset: one process holds every shard, as many as Discord recommends.
    discord_shard_count: int | None = Field(default=None, ge=1, le=10_000)
    discord_shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None  # "0,1"
    # Overrides for the tests' fake Discord; production leaves them unset.
    discord_api_base_url: str | None = None  # e.g. http://127.0.0.1:8080/api/v10
    discord_gateway_url: str | None = None  # e.g. ws://127.0.0.1:8080/gateway
    # Pacing of DMs (bot/discord/sender.py): the whole bot's requests per second (Discord
    # allows 50 per bot) and the invalid (401/403/429) answers it may get per 10 minutes before
    # it slows down (Discord bans an address at 10,000). A replica holding some of the shards
    # takes their share of both (see `discord_pacing_share`).
    discord_requests_per_second: float = Field(default=45.0, gt=0, le=50)
    discord_invalid_request_budget: int = Field(default=1000, ge=10, le=9000)

    # Slack: the adapter starts when SLACK_BOT_TOKEN is set (or, for many workspaces, the
    # OAuth pair). Socket Mode when SLACK_APP_TOKEN is set, HTTP mode otherwise.
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # Older names of HTTP_HOST/HTTP_PORT, from when Slack had a server of its own: used when
    # the new name is not set; when both are, HTTP_HOST/HTTP_PORT win (`doctor` names the clash).
    slack_http_host: str | None = None
    slack_http_port: int | None = Field(default=None, ge=0, le=65535)
    slack_api_base_url: str | None = None  # the tests' fake Slack, e.g. http://127.0.0.1:9/api/
    # Pacing of DMs (bot/slack/sender.py): the most messages per second per workspace; the
    # sender starts below it and halves on every 429.
    slack_workspace_messages_per_second: float = Field(default=10.0, gt=0, le=100)

    @property
    def discord_configured(self) -> bool:
        return self.discord_token is not None

    @property
    def discord_pacing_share(self) -> float:
        """The part of the bot's Discord budgets this process may use: the shards it holds out
        of the count (1/3 for one shard of three), 1 when it holds them all. Replicas split
        the gateway by shard, so they split the bot-wide request limits the same way."""
        if self.discord_shard_count is None or self.discord_shard_ids is None:
            return 1.0
        return len(self.discord_shard_ids) / self.discord_shard_count

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None or (
            self.slack_client_id is not None and self.slack_client_secret is not None
        )

    @model_validator(mode="after")
    def _older_http_names(self) -> Settings:
        """SLACK_HTTP_HOST/PORT stand in for HTTP_HOST/PORT when only the older name is set."""
        if "http_host" not in self.model_fields_set and self.slack_http_host is not None:
            self.http_host = self.slack_http_host
        if "http_port" not in self.model_fields_set and self.slack_http_port is not None:
            self.http_port = self.slack_http_port
        return self

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

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_list(cls, value: object) -> object:
        """DISCORD_SHARD_IDS is written "0,1" (or "0 1"); Python callers may pass numbers."""
        if not isinstance(value, str):
            return value
        parts = value.replace(",", " ").split()
        if not all(part.isdigit() for part in parts):
            raise ValueError(
                f"expected shard numbers separated by commas, like 0,1 (got {value!r})"
            )
        return tuple(int(part) for part in parts) or None

    @field_validator("discord_shard_ids")
    @classmethod
    def _shards_of_the_count(
        cls, value: tuple[int, ...] | None, info: ValidationInfo
    ) -> tuple[int, ...] | None:
        """Ids need the count they divide, each below it, none twice (Discord refuses the rest
        with close code 4010 only after the process started)."""
        if value is None:
            return None
        if "discord_shard_count" not in info.data:
            return value  # the count itself was refused; that error names it
        count = info.data["discord_shard_count"]
        if count is None:
            raise ValueError(
                "set DISCORD_SHARD_COUNT too: shard ids count out of a total "
                "(e.g. DISCORD_SHARD_COUNT=3 with DISCORD_SHARD_IDS=0)"
            )
        outside = sorted({shard for shard in value if not 0 <= shard < count})
        if outside:
            listed = ", ".join(str(shard) for shard in outside)
            raise ValueError(
                f"shard {listed} is out of range: with DISCORD_SHARD_COUNT={count} the shards "
                f"are 0 to {count - 1}"
            )
        repeated = sorted({shard for shard in value if value.count(shard) > 1})
        if repeated:
            listed = ", ".join(str(shard) for shard in repeated)
            raise ValueError(f"shard {listed} is listed more than once")
        return tuple(sorted(value))

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return upper
