"""When a member hears from the coach next: nudge slots and the weekly check-in.

Each week opens with one check-in message at the member's nudge time on its first day: how the
week that closed went, plus the new week's first tiny step. Nudge slots on that first day are
left to the check-in, so a member never gets two messages at once. The week's last day gets
a nudge slot too, the heads-up (unless the member turned it off): where that day is a nudge day
already, its nudge is the heads-up, so the day still brings one message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from habits import timekeeping as tk
from habits.model import DeliveryKind


class Plannable(Protocol):
    """What planning reads of a member: a ``habits.model.Member`` or a :class:`Snapshot`."""

    @property
    def timezone(self) -> str: ...
    @property
    def tz(self) -> ZoneInfo: ...
    @property
    def week_starts_on(self) -> int: ...
    @property
    def goal_target(self) -> int | None: ...
    @property
    def nudge_days(self) -> int: ...
    @property
    def nudge_minute(self) -> int: ...
    @property
    def nudges_on(self) -> bool: ...
    @property
    def paused_until(self) -> date | None: ...
    @property
    def rest_until(self) -> date | None: ...
    @property
    def unreachable(self) -> bool: ...
    @property
    def heads_up_enabled(self) -> bool: ...


class Snapshot(NamedTuple):
    """A member's schedule as plain, hashable values: the sweep plans (and memoises) on it.

    A tuple, so hashing and comparing it in the sweep's memo run at C speed.
    """

    timezone: str
    week_starts_on: int
    goal_target: int | None
    nudge_days: int
    nudge_minute: int
    nudges_on: bool
    paused_until: date | None
    rest_until: date | None
    unreachable: bool
    heads_up_enabled: bool = True

    @property
    def tz(self) -> ZoneInfo:
        return tk.zone(self.timezone)


def resume_day(member: Plannable) -> date | None:
    """The first local day nudges may fire again after a pause or rest, if any."""
    days = [d for d in (member.paused_until, member.rest_until) if d is not None]
    return max(days) if days else None


def last_day(week: date) -> date:
    """The last local day of the week that starts on ``week``: the heads-up's day."""
    return week + timedelta(days=6)


def slot_days(member: Plannable) -> int:
    """The days of the member's nudge slots: their nudge days, and the week's last day for the
    heads-up (the same day bit when it is a nudge day already). A schedule with no days at
    all has no heads-up either."""
    if not member.heads_up_enabled or not member.nudge_days:
        return member.nudge_days
    return member.nudge_days | tk.days_mask([(member.week_starts_on + 6) % 7])


def nudge_kind(member: Plannable, instant: datetime) -> DeliveryKind:
    """What a nudge slot at ``instant`` is: the heads-up on the week's last local day (also a
    snoozed one, which the member asked to hear again), otherwise a nudge."""
    if not member.heads_up_enabled:
        return DeliveryKind.NUDGE
    try:
        tz = member.tz
    except KeyError:  # a zone tzdata no longer knows: planning unschedules the member
        return DeliveryKind.NUDGE
    day = tk.local_date(instant, tz)
    if day == last_day(tk.week_start(day, member.week_starts_on)):
        return DeliveryKind.HEADSUP
    return DeliveryKind.NUDGE


def next_nudge(member: Plannable, after: datetime, week_met: bool) -> datetime | None:
    if member.goal_target is None or member.unreachable or not member.nudges_on:
        return None
    tz = member.tz
    return tk.next_slot(
        slot_days(member),
        member.nudge_minute,
        tz,
        after,
        not_before=resume_day(member),
        skip_week=tk.week_of(after, tz, member.week_starts_on) if week_met else None,
        starts_on=member.week_starts_on,
        skip_first_days=True,  # the week's check-in speaks for its first day
    )


def next_checkin(member: Plannable, after: datetime) -> datetime | None:
    """The next weekly check-in (how the closed week went, plus a first step) after ``after``."""
    if member.goal_target is None or member.unreachable:
        return None
    tz = member.tz
    week = tk.week_of(after, tz, member.week_starts_on)
    for closed in (week - timedelta(days=7), week):
        instant = tk.checkin_instant(closed, tz, member.nudge_minute)
        if instant > after:
            return instant
    return tk.checkin_instant(week + timedelta(days=7), tz, member.nudge_minute)


def plan(
    member: Plannable, after: datetime, week_met: bool
) -> tuple[datetime | None, datetime | None]:
    return next_nudge(member, after, week_met), next_checkin(member, after)


def planning_key(snapshot: Snapshot) -> Snapshot:
    """The snapshot reduced to what :func:`plan` reads, so that memoised plans are shared.

    Planning asks only whether a goal is set (not its size) and when nudges may resume (the
    later of a pause and a rest): members with goals of 1 and 3, or paused until different
    days of a week already behind the resume day, plan alike. Keep in step with :func:`plan`.
    """
    return snapshot._replace(
        goal_target=None if snapshot.goal_target is None else 1,
        paused_until=resume_day(snapshot),
        rest_until=None,
    )


SPOKEN_FOR = "the weekly check-in spoke for it"
MISSED = "missed while the coach was down"
# One slot's log entries: (instant, None to send it | the reason it is skipped).
LogEntries = tuple[tuple[datetime, str | None], ...]


def settle_due(
    stored: datetime,
    now: datetime,
    grace: timedelta,
    catch_up: Callable[[], datetime | None],
    spoken_for: bool = False,
) -> LogEntries:
    """What to log for a slot that is due: send it, or skip it and perhaps catch up once.

    A slot within ``grace`` of now is sent. After downtime the stored slot may be long past,
    while a later slot of the same schedule (``catch_up()``: the first one within the grace
    period) passed only minutes ago: the old one is skipped and that one sent, once; slots in
    between are not logged at all. ``spoken_for``: a check-in goes out at the same time, so
    the nudge is skipped — one message at a time.
    """
    if now - stored <= grace:
        return ((stored, SPOKEN_FOR if spoken_for else None),)
    later = catch_up()
    if later is not None and stored < later <= now:
        return ((stored, MISSED), (later, SPOKEN_FOR if spoken_for else None))
    return ((stored, MISSED),)


def closed_week_of_checkin(member: Plannable, scheduled_for: datetime) -> date:
    return tk.week_of(scheduled_for, member.tz, member.week_starts_on) - timedelta(days=7)
