"""Use cases of the nudge schedule and the zone it runs in: days and time, pause, resume, off,
snooze, a smaller step, /timezone."""

from __future__ import annotations

from datetime import datetime, timedelta

from habits import coaching, grammar
from habits import commands as c
from habits import timekeeping as tk
from habits.catalogue import DateStyle, Form, M
from habits.context import CommandContext, UseCase
from habits.lines import FIRST_GOAL, ZONE_EXAMPLE, schedule_line, step_words
from habits.messages import CommandRef, Reply, When, refusal, say
from habits.model import DeliveryKind, WeekState

SNOOZE_LATER = timedelta(hours=3)
# A snooze answers a nudge (or check-in) sent this recently; with none, it moves nothing.
SNOOZE_ANSWERS = timedelta(hours=12)
LAST_NUDGE_HOUR = 21  # a snooze "for later" that would land after this local hour waits a day


def show_nudges(ctx: CommandContext, command: c.ShowNudges) -> Reply:
    return Reply.of(schedule_line(ctx, ctx.preview()))


def set_nudges(ctx: CommandContext, command: c.SetNudges) -> Reply:
    member = ctx.member()
    if command.days is not None:
        member.nudge_days = command.days
    if command.minute_of_day is not None:
        member.nudge_minute = command.minute_of_day
    member.nudges_on = True
    ctx.replan(member)
    return Reply.of(schedule_line(ctx, member))


def pause(ctx: CommandContext, command: c.PauseNudges) -> Reply:
    member = ctx.member()
    today = ctx.today(member)
    if command.until is not None:
        until = command.until
        example = grammar.pause_until_example(today)
        if until <= today:
            iso = When(today, DateStyle.ISO)
            return refusal(say(M.PICK_DATE_AFTER_TODAY, today=iso), example)
        if until > today + timedelta(days=366):
            return refusal(say(M.PAUSE_UP_TO_A_YEAR), example)
    else:
        until = today + timedelta(weeks=command.weeks or 0, days=command.days or 0)
    member.paused_until = until
    ctx.replan(member)
    resume = CommandRef.to(Form.NUDGES_RESUME)
    return Reply.of(say(M.PAUSED, day=ctx.day(until), resume=resume))


def resume(ctx: CommandContext, command: c.ResumeNudges) -> Reply:
    member = ctx.member()
    member.paused_until = None
    member.nudges_on = True
    ctx.replan(member)
    return Reply.of(say(M.RESUMED, schedule=schedule_line(ctx, member)))


def nudges_off(ctx: CommandContext, command: c.NudgesOff) -> Reply:
    member = ctx.member()
    member.nudges_on = False
    ctx.replan(member)
    return Reply.of(say(M.NUDGES_OFF, resume=CommandRef.to(Form.NUDGES_RESUME)))


def snooze(ctx: CommandContext, command: c.Snooze) -> Reply:
    member = ctx.existing()
    if member is None or member.goal_target is None or not member.nudges_on:
        return Reply.of(say(M.NOTHING_TO_SNOOZE))
    if ctx.this_week(member).state is not WeekState.IN_PROGRESS:
        return Reply.of(say(M.NO_MORE_NUDGES_TO_SNOOZE))
    tz = member.tz
    today = ctx.today(member)
    tomorrow = tk.to_instant(
        datetime.combine(today + timedelta(days=1), datetime.min.time())
        + timedelta(minutes=member.nudge_minute),
        tz,
    )
    at = tomorrow
    if command.until is c.SnoozeFor.LATER:
        later = (ctx.now + SNOOZE_LATER).astimezone(tz)
        # "Later today" never means the middle of the night: past 21:00 it's tomorrow.
        if later.date() == today and later.hour < LAST_NUDGE_HOUR:
            at = later.astimezone(ctx.now.tzinfo)
    scheduled = member.next_nudge_at
    # A snooze answers a nudge just sent (again at ``at``) or postpones the next one; it
    # never brings the next nudge forward.
    answers_a_nudge = member.id is not None and any(
        ctx.uow.deliveries.logged_since(member.id, kind, ctx.now - SNOOZE_ANSWERS)
        for kind in DeliveryKind
    )
    if not answers_a_nudge and (scheduled is None or scheduled >= at):
        if scheduled is None:
            return Reply.of(say(M.NO_RECENT_NUDGE))
        next_one, earliest = ctx.when(scheduled, member), ctx.when(at, member)
        return Reply.of(say(M.NO_RECENT_NUDGE_NEXT, next=next_one, at=earliest))
    member.next_nudge_at = at
    return Reply.of(say(M.SNOOZED, at=ctx.when(at, member)))


def smaller(ctx: CommandContext, command: c.SmallerStep) -> Reply:
    member = ctx.existing()  # an old button after /habit forget brings nobody back
    if member is None or member.goal_target is None:
        return Reply.of(say(M.NO_STEP_TO_SHRINK, goal=FIRST_GOAL))
    state = ctx.this_week(member).state
    if state is WeekState.MET:
        return Reply.of(say(M.MET_NOTHING_TO_DO))
    if state is WeekState.REST:
        return Reply.of(say(M.REST_NO_STEPS))
    # Each answer is a rung below the last step given, down to the phase's smallest, which
    # then stays (on the last day that is publishing, even after a shorter mid-week step);
    # the next nudge or check-in brings a regular-sized step again.
    phase = ctx.phase(member)
    step = coaching.smaller_step(phase, member.last_step)
    message = M.SMALLER_STEP
    if step is None:
        step, message = coaching.smallest_step(phase), M.SMALLEST_STEP
    member.last_step = step.id
    return Reply.of(say(message, step=step_words(step, member.goal_label)))


def set_heads_up(ctx: CommandContext, command: c.SetHeadsUp) -> Reply:
    """The last-day heads-up on or off, leaving every other nudge as it is."""
    member = ctx.member()
    member.heads_up_enabled = command.on
    ctx.replan(member)
    if command.on:
        return Reply.of(say(M.HEADS_UP_ON), schedule_line(ctx, member))
    on = CommandRef.to(Form.NUDGES_HEADS_UP, state="on")
    return Reply.of(say(M.HEADS_UP_OFF, on=on))


def show_timezone(ctx: CommandContext, command: c.ShowTimezone) -> Reply:
    member = ctx.preview()
    local = When(ctx.now.astimezone(member.tz), DateStyle.WEEKDAY_TIME)
    any_zone = CommandRef.to(Form.TIMEZONE_ANY)
    return Reply.of(
        say(M.YOUR_ZONE, zone=member.timezone, local=local, any=any_zone, example=ZONE_EXAMPLE)
    )


def set_timezone(ctx: CommandContext, command: c.SetTimezone) -> Reply:
    member = ctx.member()
    member.timezone = command.name
    ctx.replan(member)
    local = When(ctx.now.astimezone(member.tz), DateStyle.WEEKDAY_TIME)
    return Reply.of(say(M.ZONE_SET, zone=command.name, local=local))


USE_CASES: dict[type, UseCase] = {
    c.ShowNudges: show_nudges,
    c.SetNudges: set_nudges,
    c.PauseNudges: pause,
    c.ResumeNudges: resume,
    c.NudgesOff: nudges_off,
    c.Snooze: snooze,
    c.SmallerStep: smaller,
    c.SetHeadsUp: set_heads_up,
    c.ShowTimezone: show_timezone,
    c.SetTimezone: set_timezone,
}
