"""The coach's concepts: members, their goal and nudge schedule, publications, weeks, streaks.

Plain dataclasses with no persistence or chat code; storage maps them, adapters render them.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from habits import timekeeping as tk

DEFAULT_NUDGE_DAYS = tk.days_mask([0, 3])  # Monday and Thursday
DEFAULT_NUDGE_MINUTE = 9 * 60
MIN_TARGET, MAX_TARGET = 1, 21
MAX_LABEL = 30
MAX_TITLE = 200
MAX_URL = 2000
MAX_REST_WEEKS = 8
MAX_DISPLAY_NAME = 100  # chat display names are only shown back; longer ones are cut
MAX_REQUEST_KEY = 100  # a platform's id for one request (interaction id, view id + hash)
MAX_PLATFORM_ID = 64  # a user or workspace id as stored; real ones are far shorter
_DIGEST = 16  # hex digits of the original kept by an id that had to be cleaned


class Platform(StrEnum):
    DISCORD = "discord"
    SLACK = "slack"
    CONSOLE = "console"


def storable_text(value: str) -> str:
    """``value`` without what no backend stores alike: NUL bytes and lone surrogates (from a
    JSON ``\\ud800``), both refused by PostgreSQL and accepted by SQLite."""
    if "\x00" not in value and value.isascii():
        return value
    return "".join(ch for ch in value if ch != "\x00" and not "\ud800" <= ch <= "\udfff")


def storable_id(value: str) -> str:
    """A platform's id as stored: storable text of at most ``MAX_PLATFORM_ID`` characters.

    An id that had to change keeps a digest of the original in its last characters, so two
    different ids never become one member and the same id always becomes the same one; a clean
    id (every real one) is kept as it is, so cleaning twice changes nothing.
    """
    cleaned = storable_text(value)
    if cleaned == value and len(value) <= MAX_PLATFORM_ID:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    return f"{cleaned[: MAX_PLATFORM_ID - _DIGEST - 1]}~{digest}"


def storable_name(value: str) -> str:
    """A display name as stored and shown: one line of storable text, cut to fit (control
    characters become spaces; emoji joiners and the like are kept)."""
    cleaned = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch for ch in storable_text(value)
    )
    return " ".join(cleaned.split())[:MAX_DISPLAY_NAME]


@dataclass(frozen=True)
class MemberRef:
    """One chat identity. ``workspace`` is the Slack team id, and empty elsewhere.

    This is where identities from the platforms enter the engine, so it is where they are
    cleaned (see :func:`storable_id`): every adapter, and every backend, sees the same member.
    """

    platform: Platform
    user_id: str
    workspace: str = ""
    display_name: str = ""

    def __post_init__(self) -> None:
        for name, clean in (
            ("user_id", storable_id),
            ("workspace", storable_id),
            ("display_name", storable_name),
        ):
            value = getattr(self, name)
            cleaned = clean(value)
            if cleaned != value:
                object.__setattr__(self, name, cleaned)

    @classmethod
    def discord(cls, user_id: str | int, name: str = "") -> MemberRef:
        return cls(Platform.DISCORD, str(user_id), "", name)

    @classmethod
    def slack(cls, team_id: str, user_id: str, name: str = "") -> MemberRef:
        return cls(Platform.SLACK, user_id, team_id, name)

    @classmethod
    def console(cls, name: str) -> MemberRef:
        return cls(Platform.CONSOLE, name, "", name)


@dataclass(eq=False)
class Member:
    platform: str
    workspace: str
    user_id: str
    created_at: datetime
    display_name: str = ""
    timezone: str = "UTC"
    week_starts_on: int = tk.MONDAY
    goal_target: int | None = None
    goal_label: str = "post"
    nudge_days: int = DEFAULT_NUDGE_DAYS
    nudge_minute: int = DEFAULT_NUDGE_MINUTE
    nudges_on: bool = True
    paused_until: date | None = None
    rest_until: date | None = None
    next_nudge_at: datetime | None = None
    next_checkin_at: datetime | None = None
    last_step: str | None = None
    unreachable: bool = False
    freezes_enabled: bool = True  # earned streak freezes (/goal freezes off)
    heads_up_enabled: bool = True  # the last-day heads-up (/nudges heads-up off)
    id: int | None = None

    @property
    def tz(self) -> ZoneInfo:
        return tk.zone(self.timezone)

    def week_of(self, instant: datetime) -> date:
        return tk.week_of(instant, self.tz, self.week_starts_on)

    def is_resting(self, week: date) -> bool:
        return self.rest_until is not None and week < self.rest_until

    def is_paused(self, day: date) -> bool:
        return self.paused_until is not None and day < self.paused_until


@dataclass(eq=False)
class GoalChange:
    """A goal set or turned off (target None), effective for the week containing ``local_day``."""

    member_id: int
    local_day: date
    target: int | None
    label: str
    set_at: datetime
    id: int | None = None


@dataclass(eq=False)
class RestWeek:
    member_id: int
    week_start: date
    id: int | None = None


class Source(StrEnum):
    COMMAND = "command"
    BUTTON = "button"
    FEED = "feed"


@dataclass(eq=False)
class Publication:
    member_id: int
    published_at: datetime
    local_day: date
    source: str = Source.COMMAND
    url: str | None = None
    title: str | None = None
    # The chat platform's id for the request that logged it: a redelivered request logs nothing.
    request_key: str | None = None
    id: int | None = None


class WeekState(StrEnum):
    MET = "met"
    MISSED = "missed"
    REST = "rest"
    FROZEN = "frozen"  # closed missed, kept by an earned freeze
    IN_PROGRESS = "in progress"
    OFF = "off"


@dataclass(frozen=True)
class WeekSummary:
    start: date
    count: int
    target: int | None
    state: WeekState


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    total_publications: int
    this_week: WeekSummary
    recent: tuple[WeekSummary, ...]
    time_left: str
    freezes: int | None = None  # banked; None when the member opted out of freezes


class DeliveryKind(StrEnum):
    NUDGE = "nudge"
    CHECKIN = "checkin"
    # A nudge slot on the week's last day while the goal is open: sent from the nudge slots
    # (the same column, grace and one-message-a-day rule), logged under its own kind.
    HEADSUP = "headsup"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class DueDelivery:
    """A nudge or check-in the sweep recorded and a sender now owns (under a lease)."""

    id: int
    member_id: int
    platform: str
    workspace: str
    user_id: str
    kind: str
    scheduled_for: datetime
    attempts: int = 0
    owner: str = ""  # the process holding the lease; only it may finish the delivery


@dataclass(frozen=True)
class LoggedDelivery:
    """One entry of a member's delivery log as their export shows it: no ids, no lease."""

    platform: str
    kind: str
    scheduled_for: datetime
    status: str
    attempts: int
    not_before: datetime
    created_at: datetime
    finished_at: datetime | None
    detail: str


class Clock(Protocol):
    """Where the engine reads the time; always aware UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to: for tests, benchmarks and replays."""

    current: datetime

    def __post_init__(self) -> None:
        self.current = tk.require_aware(self.current).astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = tk.require_aware(moment).astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.current += delta
