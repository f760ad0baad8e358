"""The messages the coach starts: a nudge mid-week, the heads-up on the week's last day and the
weekly check-in, each built from the member's state when it is about to be sent (None: nothing
worth saying any more)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from habits import coaching, scheduling, streaks
from habits.catalogue import Form, M
from habits.context import MemberContext
from habits.lines import progress_line, step_text, step_words
from habits.messages import (
    HEADS_UP_ACTIONS,
    NUDGE_ACTIONS,
    Action,
    ActionId,
    CommandRef,
    MemberText,
    Notice,
    Part,
    Value,
    counted,
    say,
)
from habits.model import DeliveryKind, Member, WeekState, WeekSummary


def nudge(ctx: MemberContext) -> Notice | None:
    member = ctx.existing()
    if member is None or member.goal_target is None or not member.nudges_on:
        return None
    if member.unreachable or member.is_paused(ctx.today(member)):
        return None
    if ctx.this_week(member).state is not WeekState.IN_PROGRESS:
        return None
    body = (progress_line(ctx, member), say(M.TINY_NEXT_STEP, step=step_text(ctx, member)))
    return Notice(ctx.ref, DeliveryKind.NUDGE, body, NUDGE_ACTIONS)


def heads_up(ctx: MemberContext) -> Notice | None:
    """The last day's one message while the goal is open: what's left and the smallest step
    that still counts. Nothing once the goal is met, in a rest, paused, with nudges or the
    heads-up off, or when it comes too late for the week it was planned in."""
    member = ctx.existing()
    if member is None or member.goal_target is None or not member.nudges_on:
        return None
    if not member.heads_up_enabled or member.unreachable:
        return None
    today = ctx.today(member)
    week = ctx.this_week(member)
    if member.is_paused(today) or week.state is not WeekState.IN_PROGRESS:
        return None
    if today != scheduling.last_day(week.start):  # held up past the week's end
        return None
    target = week.target or 0
    left = counted(target - week.count, member.goal_label)
    step = coaching.heads_up_step(member.last_step)
    member.last_step = step.id
    body: tuple[Part, ...] = (
        say(M.HEADS_UP_LEFT, left=left, count=week.count, target=target),
        say(M.HEADS_UP_STEP, step=step_words(step, member.goal_label)),
    )
    if member.freezes_enabled:
        banked = streaks.banked_freezes(ctx.weeks(member))
        body += (say(M.HEADS_UP_FREEZES, count=banked) if banked else say(M.HEADS_UP_NO_FREEZE),)
    return Notice(ctx.ref, DeliveryKind.HEADSUP, body, HEADS_UP_ACTIONS)


def checkin(ctx: MemberContext, scheduled_for: datetime) -> Notice | None:
    """The week-opening message: how last week went (if it had a goal) and a first step."""
    member = ctx.existing()
    if member is None or member.unreachable or member.goal_target is None:
        return None  # "/goal off" since the sweep logged it: stay quiet
    parts, actions = last_week(
        ctx, member, scheduling.closed_week_of_checkin(member, scheduled_for)
    )
    if member.goal_target is not None and member.nudges_on:
        week = ctx.this_week(member)
        if not member.is_paused(ctx.today(member)) and week.state is WeekState.IN_PROGRESS:
            parts.append(progress_line(ctx, member))
            parts.append(say(M.FIRST_TINY_STEP, step=step_text(ctx, member)))
            actions = actions + NUDGE_ACTIONS
    if not parts:
        return None
    return Notice(ctx.ref, DeliveryKind.CHECKIN, tuple(parts), actions)


def milestones(
    ctx: MemberContext, member: Member, weeks: list[WeekSummary], closed: date
) -> list[Part]:
    """The streak and publication milestones the week that closed reached. The check-in for a
    week celebrates what the week before it reached, and a milestone is only reached once in a
    history, so each is celebrated once without anything stored."""
    parts: list[Part] = []
    streak = streaks.streak_milestone(weeks, closed)
    if streak is not None:
        parts.append(say(M.MILESTONE_STREAK, count=streak))
    total = ctx.streak(member).total_publications
    published = streaks.publication_milestone(weeks, closed, total)
    if published is not None:
        parts.append(say(M.MILESTONE_PUBLICATIONS, count=published))
    return parts


def last_week(
    ctx: MemberContext, member: Member, closed: date
) -> tuple[list[Part], tuple[Action, ...]]:
    """What the check-in says about the week that closed: met (a comeback after a broken
    streak), kept by a freeze, missed (with a smaller goal after two missed in a row) or welcome
    back after a rest; then the milestones that week reached, each celebrated once."""
    weeks = ctx.weeks(member)
    summary = next((w for w in weeks if w.start == closed), None)
    parts: list[Part] = []
    actions: tuple[Action, ...] = ()
    if summary is None:
        return parts, actions
    if summary.state is WeekState.REST:
        if not member.is_resting(summary.start + timedelta(days=7)):  # not while it goes on
            parts.append(say(M.WELCOME_BACK))
        return parts + milestones(ctx, member, weeks, closed), actions
    if summary.state not in (WeekState.MET, WeekState.MISSED, WeekState.FROZEN):
        return parts, actions
    salt = summary.start.toordinal()
    result: dict[str, Value] = {"done": summary.count, "target": summary.target or 0}
    streak = streaks.streak_through(weeks, summary.start)
    if summary.state is WeekState.FROZEN:
        banked = streaks.banked_freezes([w for w in weeks if w.start <= closed])
        left = say(M.FREEZES_LEFT, count=banked) if banked else say(M.NO_FREEZES_LEFT)
        if streak:
            parts.append(say(M.LAST_WEEK_FROZEN, **result, count=streak, left=left))
        else:
            parts.append(say(M.LAST_WEEK_FROZEN_NO_STREAK, **result, left=left))
        return parts + milestones(ctx, member, weeks, closed), actions
    if summary.state is WeekState.MET:
        cheer = say(coaching.encouragement(True, salt))
        if streaks.is_comeback(weeks, summary.start):
            parts.append(say(M.LAST_WEEK_COMEBACK, **result, cheer=cheer))
        else:
            parts.append(say(M.LAST_WEEK_MET, **result, count=streak, cheer=cheer))
        banked = streaks.banked_freezes([w for w in weeks if w.start <= closed])
        earned = banked > streaks.banked_freezes([w for w in weeks if w.start < closed])
        if member.freezes_enabled and earned:
            parts.append(say(M.FREEZE_EARNED, count=banked, most=streaks.MAX_FREEZES))
        return parts + milestones(ctx, member, weeks, closed), actions
    cheer = say(coaching.encouragement(False, salt))
    parts.append(say(M.LAST_WEEK_MISSED, **result, cheer=cheer))
    parts += milestones(ctx, member, weeks, closed)
    closed_weeks = [w for w in weeks if w.start <= summary.start]
    target = member.goal_target
    if streaks.missed_in_a_row(closed_weeks) < 2 or not target:
        return parts, actions
    label = member.goal_label
    if target > 1:
        goal = counted(target - 1, label)
        parts.append(say(M.SMALLER_GOAL_HINT, goal=goal))
        smaller = CommandRef.to(Form.GOAL_COUNT, count=target - 1)
        button = say(M.SMALLER_GOAL_BUTTON, goal=goal)
        actions = (Action(ActionId.SMALLER_GOAL, button, smaller),)
    else:
        rest = CommandRef.to(Form.GOAL_REST)
        parts.append(say(M.SMALLER_STILL, label=MemberText(label), rest=rest))
    return parts, actions
