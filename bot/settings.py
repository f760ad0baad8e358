"""Every setting the coach reads, from the environment or a .env file: the only place that does.

Settings that `run` cannot work with are refused here, at start-up, for every command: a
placeholder where a secret belongs, a delivery lease a send could outlast. :func:`refusals`
words each refusal once, for the command line and for `habit-coach doctor` alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from platformdirs import user_data_dir
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.adapters import RECORD_WRITE_SECONDS, SEND_TIMEOUT_SECONDS
from habits import timekeeping as tk

# The error type of a setting refused for what it means (not for how it is written).
REFUSED = "refused_setting"

PLACEHOLDERS = frozenset(
    {
        "changeme", "change-me", "change_me", "changethis", "secret", "password", "token",
        "your-token-here", "your_token_here", "yourtoken", "placeholder", "example", "todo",
        "xxx", "none", "null", "test", "dummy", "fixme", "replace-me", "replaceme",
    }
)  # fmt: skip
_PLACEHOLDER_SHAPES = re.compile(
    r"^<.*>$|^\$\{.*\}$|^\.\.\.$|^x+$|your[-_ ]?.*[-_ ]?here|change[-_ ]?me|replace[-_ ]?me",
    re.IGNORECASE,
)

# Where each secret comes from: the fix for a placeholder here, and for a malformed one in doctor.
SECRET_SOURCES = {
    "DISCORD_TOKEN": "copy the bot token from the Developer Portal "
    "(your application → Bot → Reset Token)",
    "SLACK_BOT_TOKEN": "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions",
    "SLACK_APP_TOKEN": "create an app-level token (xapp-…) with connections:write under "
    "Basic Information",
    "SLACK_SIGNING_SECRET": "copy the Signing Secret from Basic Information → App Credentials",
    "SLACK_CLIENT_SECRET": "copy the Client Secret from Basic Information → App Credentials",
}


def is_placeholder(value: str) -> bool:
    folded = value.strip().lower()
    return folded in PLACEHOLDERS or bool(_PLACEHOLDER_SHAPES.search(folded))


def shortest_safe_lease(send_timeout: float) -> float:
    """The shortest delivery lease no send outlasts. The dispatcher extends a batch's leases
    once a third of the lease has passed, so one send (its pacing wait included) and the
    recording of its outcome must fit in the other two thirds."""
    return 1.5 * (send_timeout + RECORD_WRITE_SECONDS)


def _refused(problem: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError(REFUSED, "{problem}", {"problem": problem, "fix": fix})


@dataclass(frozen=True)
class Refusal:
    """A setting the coach cannot start with: which, what is wrong, what to do."""

    variable: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.problem} — fix: {self.fix}"


def refusals(error: ValidationError) -> list[Refusal]:
    """Each setting refused, named by its variable; never its value (it may be a secret)."""
    found = []
    for item in error.errors():
        variable = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        context = item.get("ctx") or {}
        if item["type"] == REFUSED:
            found.append(Refusal(variable, str(item["msg"]), str(context["fix"])))
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        found.append(
            Refusal(
                variable,
                f"{variable} is not valid: {message}",
                f"correct {variable} in the environment or .env (see .env.example)",
            )
        )
    return found


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
    # Also read by the name .env.example gave it before the product settled on "check-in".
    checkin_grace_hours: float = Field(
        default=48.0,
        gt=0,
        validation_alias=AliasChoices("checkin_grace_hours", "recap_grace_hours"),
    )
    # The longest one notice's send may take, its wait for the platform's pacing included;
    # only ever shorter than the adapters' own bound. The lease must outlast it.
    send_timeout_seconds: float = Field(
        default=SEND_TIMEOUT_SECONDS, ge=0.5, le=SEND_TIMEOUT_SECONDS
    )
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
        try:
            password = urlsplit(value).password
        except ValueError:  # unparseable: the database check says so, with the reason
            password = None
        if password is not None and is_placeholder(password):
            raise _refused(
                "the password in DATABASE_URL is a placeholder",
                "use the database user's real password",
            )
        return value

    @field_validator(
        "discord_token",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "slack_client_secret",
    )
    @classmethod
    def _not_a_placeholder(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and is_placeholder(value.get_secret_value()):
            variable = str(info.field_name).upper()
            raise _refused(
                f"{variable} is a placeholder, not the real secret", SECRET_SOURCES[variable]
            )
        return value

    @field_validator("delivery_lease_seconds")
    @classmethod
    def _lease_outlasts_a_send(cls, value: float, info: ValidationInfo) -> float:
        send_timeout = info.data.get("send_timeout_seconds")
        if send_timeout is None:
            return value  # the send timeout itself was refused; that error names it
        shortest = shortest_safe_lease(send_timeout)
        if value < shortest:
            raise _refused(
                f"DELIVERY_LEASE_SECONDS is {value:g} s, but a send may take up to "
                f"{send_timeout:g} s with its pacing and recording it {RECORD_WRITE_SECONDS:g} s "
                "more, which must fit in two thirds of the lease: another replica could take a "
                "delivery over while it is being sent, and send it again",
                f"set it to {shortest:g} or more (default 60), or lower SEND_TIMEOUT_SECONDS",
            )
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
