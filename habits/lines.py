"""The lines several replies and notices share: the week's progress, a step, the schedule.

Each is a catalogue message with its values (see :mod:`habits.messages`), built from a
:class:`~habits.context.MemberContext`; the examples they point at are typed command references.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from habits import coaching
from habits import timekeeping as tk
from habits.catalogue import Form, M
from habits.context import MemberContext
from habits.messages import CommandRef, MemberText, Say, Value, counted, say
from habits.model import Member, WeekState

# The example a first goal starts from.
FIRST_GOAL = CommandRef.to(Form.GOAL, count=1, label="post")
PUBLISH_EXAMPLE = CommandRef.to(
    Form.PUBLISHED_LINK, url="https://example.com/my-post", title="My first post"
)
ZONE_EXAMPLE = CommandRef.to(Form.TIMEZONE, zone="Europe/Berlin")


def described(title: str | None, url: str | None, otherwise: Say) -> Value:
    """A publication as a reply names it: its title in quotes, else its link."""
    if title:
        return say(M.QUOTED, text=MemberText(title))
    return MemberText(url) if url else otherwise


def step_words(step: coaching.Step, label: str) -> Say:
    """A coaching step's words, the member's goal label in them."""
    return say(step.message, label=MemberText(label))


def describe_days(mask: int) -> Value:
    days = tk.mask_days(mask)
    if days == list(range(7)):
        return say(M.EVERY_DAY)
    if days == list(range(5)):
        return say(M.WEEKDAYS)
    if days == [5, 6]:
        return say(M.WEEKENDS)
    return " ".join(tk.DAY_NAMES[d] for d in days)


def time_left(now: datetime, end: datetime, tz: ZoneInfo) -> Say:
    """'3 days left', '5 hours left', 'less than an hour left' (see ``tk.left_until``)."""
    days, hours = tk.left_until(now, end, tz)
    if days:
        return say(M.DAYS_LEFT, count=days)
    if hours:
        return say(M.HOURS_LEFT, count=hours)
    return say(M.LESS_THAN_AN_HOUR_LEFT)


def progress_line(ctx: MemberContext, member: Member) -> Say:
    week = ctx.this_week(member)
    label = member.goal_label
    if week.state is WeekState.REST:
        if week.count == 0:
            return say(M.PROGRESS_REST)
        return say(M.PROGRESS_REST_BONUS, published=counted(week.count, label))
    if week.target is None:
        return say(M.PROGRESS_NO_GOAL, published=counted(week.count, label))
    if week.state is WeekState.MET:
        return say(M.PROGRESS_MET, count=week.count, target=week.target)
    left = time_left(ctx.now, ctx.week_end(member), member.tz)
    return say(M.PROGRESS, count=week.count, target=week.target, left=left)


def step_text(ctx: MemberContext, member: Member) -> Say:
    """A regular-sized step's words (choosing it restarts the smaller-step ladder)."""
    return step_words(ctx.step(member), member.goal_label)


def schedule_line(ctx: MemberContext, member: Member) -> Say:
    days = describe_days(member.nudge_days)
    at = tk.describe_minute(member.nudge_minute)
    base = say(M.SCHEDULE, days=days, time=at, zone=member.timezone)
    if member.goal_target is None:
        return say(M.NUDGES_NEED_GOAL, schedule=base, goal=FIRST_GOAL)
    if not member.nudges_on:
        resume = CommandRef.to(Form.NUDGES_RESUME)
        return say(M.NUDGES_OFF_WOULD_BE, schedule=base, resume=resume)
    if member.unreachable:
        return say(M.NUDGES_UNREACHABLE, schedule=base)
    today = ctx.today(member)
    paused: Value = ""
    if member.rest_until is not None and member.rest_until > today:
        if member.paused_until is not None and member.paused_until > member.rest_until:
            paused = say(M.PAUSED_UNTIL, day=ctx.day(member.paused_until))
        else:
            paused = say(M.RESTING_UNTIL, day=ctx.day(member.rest_until))
    elif member.paused_until is not None and member.paused_until > today:
        paused = say(M.PAUSED_UNTIL, day=ctx.day(member.paused_until))
    checkin: Value = ""
    if member.next_checkin_at is not None:
        checkin = say(M.WEEKLY_CHECKIN, when=ctx.when(member.next_checkin_at, member))
        if tk.mask_days(member.nudge_days) == [member.week_starts_on]:
            # The check-in is that day's one message and carries the week's first step.
            first_day = "Sunday" if member.week_starts_on == tk.SUNDAY else "Monday"
            return say(
                M.NUDGES_FIRST_DAY_ONLY,
                schedule=base,
                paused=paused,
                first_day=first_day,
                when=ctx.when(member.next_checkin_at, member),
            )
    return say(
        M.NUDGES_NEXT,
        schedule=base,
        paused=paused,
        when=ctx.when(member.next_nudge_at, member),
        checkin=checkin,
    )
