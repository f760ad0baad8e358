"""Use cases of the weekly goal: set, show and turn it off, rest weeks, the week's first day, the
streak."""

from __future__ import annotations

from datetime import timedelta

from habits import commands as c
from habits import streaks
from habits import timekeeping as tk
from habits.catalogue import Form, M
from habits.context import CommandContext, UseCase
from habits.lines import FIRST_GOAL, ZONE_EXAMPLE, progress_line, schedule_line, step_text
from habits.messages import CommandRef, Part, Reply, StreakCard, YearCard, counted, say
from habits.model import GoalChange, WeekState


def show_goal(ctx: CommandContext, command: c.ShowGoal) -> Reply:
    member = ctx.preview()
    if member.goal_target is None:
        return Reply.of(say(M.NO_GOAL_YET, goal=FIRST_GOAL))
    goal = counted(member.goal_target, member.goal_label)
    first_day = tk.DAY_NAMES[member.week_starts_on]
    return Reply.of(
        say(M.YOUR_GOAL, goal=goal, first_day=first_day, zone=member.timezone),
        progress_line(ctx, member),
    )


def set_goal(ctx: CommandContext, command: c.SetGoal) -> Reply:
    member = ctx.member()
    first_goal = member.goal_target is None
    member.goal_target = command.target
    if command.label is not None:
        member.goal_label = command.label
    ctx.uow.history.add_goal_change(
        GoalChange(
            ctx.member_id(member), ctx.today(member), command.target, member.goal_label, ctx.now
        )
    )
    ctx.replan(member)
    goal = counted(command.target, member.goal_label)
    lines: list[Part] = [say(M.GOAL_SET, goal=goal, progress=progress_line(ctx, member))]
    if first_goal and ctx.this_week(member).state is not WeekState.MET:
        lines.append(say(M.START_NOW, step=step_text(ctx, member)))
    lines.append(schedule_line(ctx, member))
    if member.timezone == "UTC" and ctx.zone_hint is None:
        lines.append(say(M.UTC_HINT, timezone=ZONE_EXAMPLE))
    return Reply(tuple(lines))


def goal_off(ctx: CommandContext, command: c.GoalOff) -> Reply:
    member = ctx.existing()
    if member is None or member.goal_target is None:
        return Reply.of(say(M.NO_GOAL_TO_TURN_OFF, goal=FIRST_GOAL))
    member.goal_target = None
    ctx.uow.history.add_goal_change(
        GoalChange(ctx.member_id(member), ctx.today(member), None, member.goal_label, ctx.now)
    )
    ctx.replan(member)
    return Reply.of(say(M.GOAL_OFF, goal=FIRST_GOAL))


def rest(ctx: CommandContext, command: c.Rest) -> Reply:
    member = ctx.member()
    week = member.week_of(ctx.now)
    # A met week stays met: the rest covers the weeks it can help, from next week.
    met = ctx.this_week(member).state is WeekState.MET
    first = week + timedelta(days=7) if met else week
    weeks = [first + timedelta(days=7 * i) for i in range(command.weeks)]
    until = weeks[-1] + timedelta(days=7)
    ongoing = member.rest_until if member.is_resting(week) else None
    if ongoing is not None and ongoing >= until:
        end = CommandRef.to(Form.GOAL_REST_OFF)
        return Reply.of(say(M.ALREADY_RESTING, day=ctx.day(ongoing), end=end))
    ctx.uow.history.add_rest_weeks(ctx.member_id(member), weeks)
    member.rest_until = until
    ctx.replan(member)
    safe = say(M.REST_SAFE)
    if ongoing is not None:
        return Reply.of(say(M.REST_EXTENDED, until=ctx.day(until), was=ctx.day(ongoing), safe=safe))
    span = say(M.REST_SPAN, count=command.weeks)
    if met:
        return Reply.of(say(M.REST_AFTER_MET, span=span, until=ctx.day(until), safe=safe))
    span = say(M.REST_THIS_WEEK) if command.weeks == 1 else span
    return Reply.of(say(M.REST_STARTED, span=span, until=ctx.day(until), safe=safe))


def end_rest(ctx: CommandContext, command: c.EndRest) -> Reply:
    member = ctx.existing()
    if member is None or member.id is None or not member.is_resting(member.week_of(ctx.now)):
        return Reply.of(say(M.NOT_RESTING))
    week = member.week_of(ctx.now)
    planned = [
        day
        for day in ctx.uow.history.rest_weeks(member.id)
        if tk.week_start(day, member.week_starts_on) >= week
    ]
    ctx.uow.history.remove_rest_weeks(member.id, planned)
    member.rest_until = None
    ctx.publications_changed()  # the week's counts were made as a rest week's
    ctx.replan(member)
    return Reply.of(
        say(M.REST_ENDED, progress=progress_line(ctx, member)), schedule_line(ctx, member)
    )


def set_week_start(ctx: CommandContext, command: c.SetWeekStart) -> Reply:
    member = ctx.member()
    member.week_starts_on = command.starts_on
    if member.rest_until is not None:
        # Re-map the last rest week the way the streak maps stored rest weeks, so the coach
        # never rests (and stays quiet) through a week the streak then counts as missed.
        last_rest_week = member.rest_until - timedelta(days=7)
        member.rest_until = tk.week_start(last_rest_week, command.starts_on) + timedelta(7)
    ctx.replan(member)
    first_day = tk.DAY_NAMES[command.starts_on]
    return Reply.of(say(M.WEEK_START_SET, first_day=first_day, progress=progress_line(ctx, member)))


def set_freezes(ctx: CommandContext, command: c.SetFreezes) -> Reply:
    """Earned streak freezes on or off. They are read from the history whenever asked, so the
    setting applies to every week: off shows each frozen week as the miss it was."""
    member = ctx.member()
    member.freezes_enabled = command.on
    if not command.on:
        return Reply.of(say(M.FREEZES_OFF, on=CommandRef.to(Form.GOAL_FREEZES, state="on")))
    banked = ctx.streak(member).freezes or 0
    shown = say(M.FREEZES_BANKED, count=banked, most=streaks.MAX_FREEZES)
    return Reply.of(
        say(
            M.FREEZES_ON,
            weeks=streaks.WEEKS_PER_FREEZE,
            most=streaks.MAX_FREEZES,
            banked=shown,
        )
    )


def show_streak(ctx: CommandContext, command: c.ShowStreak) -> Reply:
    member = ctx.preview()
    streak = ctx.streak(member)
    year = YearCard.of(ctx.weeks(member), streak)
    return Reply.of(StreakCard(streak, member.goal_label), year)


USE_CASES: dict[type, UseCase] = {
    c.ShowGoal: show_goal,
    c.SetGoal: set_goal,
    c.GoalOff: goal_off,
    c.Rest: rest,
    c.EndRest: end_rest,
    c.SetWeekStart: set_week_start,
    c.SetFreezes: set_freezes,
    c.ShowStreak: show_streak,
}
