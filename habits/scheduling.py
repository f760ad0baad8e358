"""When a member hears from the coach next: nudge slots and the weekly check-in.

Each week opens with one check-in message at the member's nudge time on its first day: the recap
of the week that closed plus the new week's first tiny step. Nudge slots on that first day are
left to the check-in, so a member never gets two messages at once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from habits import timekeeping as tk
from habits.model import Member


def resume_day(member: Member) -> date | None:
    """The first local day nudges may fire again after a pause or rest, if any."""
    days = [d for d in (member.paused_until, member.rest_until) if d is not None]
    return max(days) if days else None


def next_nudge(member: Member, after: datetime, week_met: bool) -> datetime | None:
    if member.goal_target is None or member.unreachable or not member.nudges_on:
        return None
    tz = member.tz
    current_week = tk.week_of(after, tz, member.week_starts_on)
    for index, slot in enumerate(
        tk.nudge_slots(member.nudge_days, member.nudge_minute, tz, after, resume_day(member))
    ):
        if index > 400:
            return None
        week = tk.week_of(slot, tz, member.week_starts_on)
        if week_met and week == current_week:
            continue
        if tk.local_date(slot, tz) == week:
            continue  # the week's check-in speaks for the first day
        return slot
    return None


def next_checkin(member: Member, after: datetime) -> datetime | None:
    """The next weekly check-in (recap of the closed week plus a first step) after ``after``."""
    if member.goal_target is None or member.unreachable:
        return None
    tz = member.tz
    week = tk.week_of(after, tz, member.week_starts_on)
    for closed in (week - timedelta(days=7), week):
        instant = tk.recap_instant(closed, tz, member.nudge_minute)
        if instant > after:
            return instant
    return tk.recap_instant(week + timedelta(days=7), tz, member.nudge_minute)


def plan(
    member: Member, after: datetime, week_met: bool
) -> tuple[datetime | None, datetime | None]:
    return next_nudge(member, after, week_met), next_checkin(member, after)


def closed_week_of_checkin(member: Member, scheduled_for: datetime) -> date:
    return tk.week_of(scheduled_for, member.tz, member.week_starts_on) - timedelta(days=7)
