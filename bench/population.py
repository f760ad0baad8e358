"""A realistic membership, written fast with bulk INSERTs through SQLAlchemy Core.

Members get a mix of IANA zones (including half-hour and 45-minute offsets), weekly goals of 1-3,
mostly the default Monday/Thursday 09:00 nudges, a few pauses and rest weeks, their goal history
and up to eight weeks of publications. Their ``next_nudge_at``/``next_checkin_at`` come from
``habits.scheduling.plan`` — what the Coach itself stores — memoised per distinct schedule.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bench.bulk import after_bulk_load, write_dicts, write_rows
from habits import scheduling
from habits import timekeeping as tk
from habits.model import DEFAULT_NUDGE_DAYS, DEFAULT_NUDGE_MINUTE, Member
from storage.tables import goal_changes, members, publications, rest_weeks

# A Monday, 13:00 UTC: morning in the Americas, evening in Asia, the week just begun everywhere.
BENCH_NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
PLATFORMS = ("discord", "slack", "console")

# (zone, relative weight): where writers on a mixed Discord/Slack community might live.
ZONES = (
    ("America/New_York", 14),
    ("America/Chicago", 6),
    ("America/Denver", 3),
    ("America/Los_Angeles", 9),
    ("America/Toronto", 3),
    ("America/Mexico_City", 2),
    ("America/Sao_Paulo", 4),
    ("America/St_Johns", 1),
    ("Europe/London", 10),
    ("Europe/Berlin", 8),
    ("Europe/Paris", 5),
    ("Europe/Madrid", 3),
    ("Europe/Warsaw", 2),
    ("Europe/Kyiv", 2),
    ("Africa/Lagos", 2),
    ("Africa/Nairobi", 1),
    ("Asia/Kolkata", 6),
    ("Asia/Kathmandu", 1),
    ("Asia/Singapore", 2),
    ("Asia/Shanghai", 2),
    ("Asia/Tokyo", 3),
    ("Australia/Adelaide", 1),
    ("Australia/Sydney", 4),
    ("Pacific/Auckland", 2),
    ("UTC", 4),
)
ZONE_NAMES = tuple(name for name, _ in ZONES)
ZONE_WEIGHTS = tuple(weight for _, weight in ZONES)

# Schedules members chose instead of the default Monday/Thursday 09:00.
CUSTOM_SCHEDULES = (
    (tk.days_mask(range(5)), 18 * 60 + 30),
    (tk.days_mask([1, 4]), 7 * 60),
    (tk.days_mask([5, 6]), 10 * 60),
    (tk.days_mask([0, 2, 4]), 20 * 60),
)
LABELS = ("post", "post", "post", "post", "post", "post", "newsletter", "chapter")
HISTORY_WEEKS = 8
CHUNK = 10_000
PLAN_SAMPLE = 2_000


@dataclass
class Populated:
    members: int = 0
    goal_changes: int = 0
    publications: int = 0
    rest_weeks: int = 0
    distinct_plans: int = 0
    seconds_total: float = 0.0
    seconds_plan: float = 0.0  # memoised plan() look-ups while writing members
    seconds_insert_members: float = 0.0
    seconds_insert_history: float = 0.0
    plan_samples: list[tuple[Member, bool]] = field(default_factory=list, repr=False)

    @property
    def seconds_schedule(self) -> float:
        """Planning plus writing the member rows: what making N members schedulable costs."""
        return self.seconds_plan + self.seconds_insert_members


class _Calendar:
    """Memoised week arithmetic for the population's handful of zones."""

    def __init__(self, now: datetime):
        self.now = now
        self._weeks: dict[tuple[str, int], date] = {}
        self._bounds: dict[tuple[str, date], tuple[datetime, datetime]] = {}

    def current_week(self, zone: str, starts_on: int) -> date:
        key = (zone, starts_on)
        week = self._weeks.get(key)
        if week is None:
            week = self._weeks[key] = tk.week_of(self.now, tk.zone(zone), starts_on)
        return week

    def bounds(self, zone: str, week: date) -> tuple[datetime, datetime]:
        key = (zone, week)
        found = self._bounds.get(key)
        if found is None:
            found = self._bounds[key] = tk.week_bounds(week, tk.zone(zone))
        return found


class _Generator:
    def __init__(self, rng: random.Random, now: datetime, result: Populated):
        self.rng = rng
        self.now = now
        self.calendar = _Calendar(now)
        self.plans: dict[tuple[Any, ...], tuple[datetime | None, datetime | None]] = {}
        self.result = result

    def chunk(self, first_id: int, count: int) -> tuple[list[dict[str, Any]], ...]:
        member_rows: list[dict[str, Any]] = []
        change_rows: list[dict[str, Any]] = []
        publication_rows: list[dict[str, Any]] = []
        rest_rows: list[dict[str, Any]] = []
        for member_id in range(first_id, first_id + count):
            self._member(member_id, member_rows, change_rows, publication_rows, rest_rows)
        return member_rows, change_rows, publication_rows, rest_rows

    def _member(
        self,
        member_id: int,
        member_rows: list[dict[str, Any]],
        change_rows: list[dict[str, Any]],
        publication_rows: list[dict[str, Any]],
        rest_rows: list[dict[str, Any]],
    ) -> None:
        rng, now = self.rng, self.now
        roll = rng.random()
        if roll < 0.6:
            platform, workspace, user_id = "discord", "", str(400_000_000_000_000_000 + member_id)
        elif roll < 0.9:
            platform, workspace = "slack", f"T{rng.randrange(40):08X}"
            user_id = f"U{member_id:010X}"
        else:
            platform, workspace, user_id = "console", "", f"writer{member_id}"
        zone = rng.choices(ZONE_NAMES, ZONE_WEIGHTS)[0]
        tz = tk.zone(zone)
        starts_on = tk.SUNDAY if rng.random() < 0.08 else tk.MONDAY
        target = rng.randint(1, 3)
        label = rng.choice(LABELS)
        days, minute = DEFAULT_NUDGE_DAYS, DEFAULT_NUDGE_MINUTE
        if rng.random() < 0.12:
            days, minute = rng.choice(CUSTOM_SCHEDULES)
        created_at = now - timedelta(days=rng.uniform(1, 400))
        week = self.calendar.current_week(zone, starts_on)
        today = tk.local_date(now, tz)
        paused_until = rest_until = None
        roll = rng.random()
        if roll < 0.03:
            paused_until = today + timedelta(days=rng.randint(3, 21))
        elif roll < 0.05:
            rest_until = week + timedelta(days=7)
            rest_rows.append({"member_id": member_id, "week_start": week})

        # Goal history: set on the first day, sometimes changed once since.
        created_day = tk.local_date(created_at, tz)
        if rng.random() < 0.15:
            changed_at = created_at + (now - created_at) * rng.uniform(0.2, 0.9)
            change_rows.append(
                _change(member_id, created_day, rng.randint(1, 3), label, created_at)
            )
            change_rows.append(
                _change(member_id, tk.local_date(changed_at, tz), target, label, changed_at)
            )
        else:
            change_rows.append(_change(member_id, created_day, target, label, created_at))

        # Publications: each of the last weeks, each post of the goal with the member's diligence.
        diligence = rng.uniform(0.15, 0.95)
        this_week = 0
        serial = 0
        for back in range(HISTORY_WEEKS, -1, -1):
            start = week - timedelta(days=7 * back)
            begin, end = self.calendar.bounds(zone, start)
            begin, end = max(begin, created_at), min(end, now)
            if begin >= end:
                continue
            for _ in range(target):
                if rng.random() >= diligence:
                    continue
                at = begin + (end - begin) * rng.random()
                serial += 1
                this_week += back == 0
                publication_rows.append(
                    {
                        "member_id": member_id,
                        "published_at": at,
                        "local_day": at.astimezone(tz).date(),
                        "source": "command",
                        "url": (
                            f"https://blog.example/{member_id}/{serial}"
                            if rng.random() < 0.75
                            else None
                        ),
                        "title": f"Post {serial}" if rng.random() < 0.5 else None,
                    }
                )

        week_met = rest_until is None and this_week >= target
        started = time.perf_counter()
        key = (zone, starts_on, target, days, minute, paused_until, rest_until, week_met)
        plan = self.plans.get(key)
        if plan is None:
            planned = Member(
                platform=platform,
                workspace=workspace,
                user_id=user_id,
                created_at=created_at,
                timezone=zone,
                week_starts_on=starts_on,
                goal_target=target,
                nudge_days=days,
                nudge_minute=minute,
                paused_until=paused_until,
                rest_until=rest_until,
            )
            plan = self.plans[key] = scheduling.plan(planned, now, week_met)
            if len(self.result.plan_samples) < PLAN_SAMPLE:
                self.result.plan_samples.append((planned, week_met))
        self.result.seconds_plan += time.perf_counter() - started

        member_rows.append(
            {
                "id": member_id,
                "platform": platform,
                "workspace": workspace,
                "user_id": user_id,
                "display_name": f"Writer {member_id}",
                "created_at": created_at,
                "timezone": zone,
                "week_starts_on": starts_on,
                "goal_target": target,
                "goal_label": label,
                "nudge_days": days,
                "nudge_minute": minute,
                "nudges_on": True,
                "paused_until": paused_until,
                "rest_until": rest_until,
                "next_nudge_at": plan[0],
                "next_checkin_at": plan[1],
                "last_step": None,
                "unreachable": False,
            }
        )


def _change(member_id: int, day: date, target: int, label: str, at: datetime) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "local_day": day,
        "target": target,
        "label": label,
        "set_at": at,
    }


def populate(engine: Engine, count: int, now: datetime, seed: int) -> Populated:
    """Write ``count`` members (ids 1..count) and their history, committing every chunk.

    Bulk writes (executemany on SQLite, COPY on PostgreSQL); each publication's ``url`` is
    unique per member, as the application would have stored it.
    """
    result = Populated()
    generator = _Generator(random.Random(seed), now, result)
    started = time.perf_counter()
    for first in range(1, count + 1, CHUNK):
        size = min(CHUNK, count + 1 - first)
        member_rows, change_rows, publication_rows, rest_rows = generator.chunk(first, size)
        with engine.begin() as connection:
            mark = time.perf_counter()
            write_dicts(connection, members, member_rows)
            result.seconds_insert_members += time.perf_counter() - mark
            mark = time.perf_counter()
            write_dicts(connection, goal_changes, change_rows)
            write_dicts(connection, publications, publication_rows)
            write_dicts(connection, rest_weeks, rest_rows)
            result.seconds_insert_history += time.perf_counter() - mark
        result.members += len(member_rows)
        result.goal_changes += len(change_rows)
        result.publications += len(publication_rows)
        result.rest_weeks += len(rest_rows)
    after_bulk_load(engine)
    result.seconds_total = time.perf_counter() - started
    result.distinct_plans = len(generator.plans)
    return result


def member_zones(count: int, seed: int) -> list[tuple[int, str]]:
    """(member id, zone) pairs drawn like the population's, for the per-member job baseline."""
    rng = random.Random(seed)
    zones = rng.choices(ZONE_NAMES, ZONE_WEIGHTS, k=count)
    return list(enumerate(zones, start=1))


def plan_cost(samples: list[tuple[Member, bool]], now: datetime, rounds: int = 3) -> float:
    """Median seconds of one un-memoised ``scheduling.plan`` call over distinct schedules."""
    if not samples:
        return float("nan")
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        for member, week_met in samples:
            scheduling.plan(member, now, week_met)
        runs.append((time.perf_counter() - started) / len(samples))
    runs.sort()
    return runs[len(runs) // 2]


# --- members only, for the million-member phases ----------------------------------------------

MEMBER_COLUMNS = (
    "id",
    "platform",
    "workspace",
    "user_id",
    "display_name",
    "created_at",
    "timezone",
    "week_starts_on",
    "goal_target",
    "goal_label",
    "nudge_days",
    "nudge_minute",
    "nudges_on",
    "paused_until",
    "rest_until",
    "next_nudge_at",
    "next_checkin_at",
    "last_step",
    "unreachable",
)
MEMBER_CHUNK = 50_000


@dataclass
class MembersOnly:
    members: int = 0
    distinct_plans: int = 0
    seconds_generate: float = 0.0
    seconds_write: float = 0.0

    @property
    def seconds_total(self) -> float:
        return self.seconds_generate + self.seconds_write


class _MemberRows:
    """Member rows drawn like :class:`_Generator`'s, without history (no week is met yet).

    Instants come from ``scheduling.plan`` memoised per distinct schedule, and ``created_at``
    is a whole number of days back, so the bulk writer converts each distinct value once.
    """

    def __init__(self, now: datetime, seed: int):
        self.rng = random.Random(seed)
        self.now = now
        self.calendar = _Calendar(now)
        self.plans: dict[tuple[Any, ...], tuple[datetime | None, datetime | None]] = {}
        self.created = [now - timedelta(days=days, hours=5) for days in range(1, 400)]
        self.workspaces = [f"T{index:08X}" for index in range(40)]

    def chunk(self, first_id: int, count: int) -> list[tuple[Any, ...]]:
        rng, now = self.rng, self.now
        rows: list[tuple[Any, ...]] = []
        choices, zones, weights = rng.choices, ZONE_NAMES, ZONE_WEIGHTS
        for member_id in range(first_id, first_id + count):
            roll = rng.random()
            if roll < 0.6:
                platform, workspace = "discord", ""
                user_id = str(400_000_000_000_000_000 + member_id)
            elif roll < 0.9:
                platform, workspace = "slack", self.workspaces[rng.randrange(40)]
                user_id = f"U{member_id:010X}"
            else:
                platform, workspace, user_id = "console", "", f"writer{member_id}"
            zone = choices(zones, weights)[0]
            starts_on = tk.SUNDAY if rng.random() < 0.08 else tk.MONDAY
            target = rng.randint(1, 3)
            days, minute = DEFAULT_NUDGE_DAYS, DEFAULT_NUDGE_MINUTE
            if rng.random() < 0.12:
                days, minute = rng.choice(CUSTOM_SCHEDULES)
            paused_until = rest_until = None
            roll = rng.random()
            if roll < 0.03:
                paused_until = tk.local_date(now, tk.zone(zone)) + timedelta(
                    days=rng.randint(3, 21)
                )
            elif roll < 0.05:
                rest_until = self.calendar.current_week(zone, starts_on) + timedelta(days=7)
            key = (zone, starts_on, target, days, minute, paused_until, rest_until)
            plan = self.plans.get(key)
            if plan is None:
                plan = self.plans[key] = self._plan(platform, zone, key)
            rows.append(
                (
                    member_id,
                    platform,
                    workspace,
                    user_id,
                    f"Writer {member_id}",
                    self.created[rng.randrange(len(self.created))],
                    zone,
                    starts_on,
                    target,
                    "post",
                    days,
                    minute,
                    True,
                    paused_until,
                    rest_until,
                    plan[0],
                    plan[1],
                    None,
                    False,
                )
            )
        return rows

    def _plan(
        self, platform: str, zone: str, key: tuple[Any, ...]
    ) -> tuple[datetime | None, datetime | None]:
        _, starts_on, target, days, minute, paused_until, rest_until = key
        member = Member(
            platform=platform,
            workspace="",
            user_id="plan",
            created_at=self.now - timedelta(days=30),
            timezone=zone,
            week_starts_on=starts_on,
            goal_target=target,
            nudge_days=days,
            nudge_minute=minute,
            paused_until=paused_until,
            rest_until=rest_until,
        )
        return scheduling.plan(member, self.now, False)


def populate_members(engine: Engine, count: int, now: datetime, seed: int) -> MembersOnly:
    """Write ``count`` member rows (ids 1..count) planned at ``now``, no history: the fast path
    (executemany on SQLite, COPY on PostgreSQL) for the million-member phases."""
    result = MembersOnly()
    generator = _MemberRows(now, seed)
    for first in range(1, count + 1, MEMBER_CHUNK):
        size = min(MEMBER_CHUNK, count + 1 - first)
        started = time.perf_counter()
        rows = generator.chunk(first, size)
        result.seconds_generate += time.perf_counter() - started
        started = time.perf_counter()
        with engine.begin() as connection:
            result.members += write_rows(connection, members, MEMBER_COLUMNS, rows)
        result.seconds_write += time.perf_counter() - started
    started = time.perf_counter()
    after_bulk_load(engine)
    result.seconds_write += time.perf_counter() - started
    result.distinct_plans = len(generator.plans)
    return result
