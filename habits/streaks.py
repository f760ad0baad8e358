"""Weeks and streaks from a member's history: pure functions over counts, goals and rests.

A week's target is the goal in force on its last day, so a goal changed mid-week applies to the
whole of that week. A goal that starts partway through a week (first set, or back on after
"off") counts that week if it is met, but never calls it missed: nobody misses a week they
joined on its last day. A publication belongs to the week of the local day it was logged on, so a
later time-zone change never moves history between weeks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from habits import timekeeping as tk
from habits.model import GoalChange, Streak, WeekState, WeekSummary

RECENT_WEEKS = 8
WEEKS_PER_FREEZE = 4  # one freeze earned each time the streak reaches a multiple of this
MAX_FREEZES = 2  # banked at most
STREAK_MILESTONES = (4, 12, 26, 52)  # weeks
PUBLICATION_MILESTONES = (10, 25, 50, 100)
# What keeps a streak without growing it: a rest week (free) or a frozen one (a freeze used).
_HELD = (WeekState.REST, WeekState.FROZEN)


def target_for_week(week: date, changes: Sequence[GoalChange], starts_on: int) -> int | None:
    """The goal in force at the end of ``week``; ``changes`` are in the order they were made."""
    last_day = week + timedelta(days=6)
    target: int | None = None
    for change in changes:
        if change.local_day <= last_day:
            target = change.target
    return target


def summarize(
    *,
    current_week: date,
    starts_on: int,
    publication_days: Iterable[date],
    changes: Sequence[GoalChange],
    rest_weeks: Iterable[date],
    freezes: bool = False,
) -> list[WeekSummary]:
    """One summary per week from the first goal ever set up to the current week; with
    ``freezes``, missed weeks kept by an earned freeze are frozen (:func:`freeze_ledger`)."""
    counts: Counter[date] = Counter(tk.week_start(day, starts_on) for day in publication_days)
    rests = {tk.week_start(day, starts_on) for day in rest_weeks}
    if not changes:
        count = counts.get(current_week, 0)
        return [WeekSummary(current_week, count, None, WeekState.OFF)]
    # A change dated after this week's last day was made in a zone that is ahead of the
    # member's current one: it is in force now, so it counts from this week.
    last_day = current_week + timedelta(days=6)
    changes = [
        change if change.local_day <= last_day else replace(change, local_day=last_day)
        for change in changes
    ]
    first = min(tk.week_start(c.local_day, starts_on) for c in changes)
    first = min(first, current_week)
    summaries = []
    previous_target: int | None = None
    for week in tk.weeks_between(first, current_week):
        count = counts.get(week, 0)
        target = target_for_week(week, changes, starts_on)
        joined_late = previous_target is None and _goal_began_after(week, changes)
        previous_target = target
        state = week_state(count, target, week in rests, week < current_week, joined_late)
        summaries.append(WeekSummary(week, count, target, state))
    return with_freezes(summaries) if freezes else summaries


def with_freezes(weeks: Sequence[WeekSummary]) -> list[WeekSummary]:
    """``weeks`` with earned freezes spent: a closed week missed while a freeze is banked is
    frozen instead (see :func:`freeze_ledger`)."""
    return freeze_ledger(weeks)[0]


def banked_freezes(weeks: Sequence[WeekSummary]) -> int:
    """The freezes banked after ``weeks`` (with or without freezes applied already)."""
    return freeze_ledger(weeks)[1]


def freeze_ledger(weeks: Sequence[WeekSummary]) -> tuple[list[WeekSummary], int]:
    """The weeks with freezes spent, and how many are banked after the last one.

    Derived from the weeks alone, never stored, so a change to the history (a backdated
    publication, a rest week, a removed one) gives the same answer as if it had always been so:
    a backdated publication that meets a frozen week gives its freeze back. One freeze is earned
    each time the streak reaches a multiple of :data:`WEEKS_PER_FREEZE` met weeks, at most
    :data:`MAX_FREEZES` banked. Only a closed missed week is frozen (the week in progress is
    never missed), rest weeks are free and never spend one, and a frozen week keeps the streak,
    and the way to the next freeze, where they were. A week with no goal ends the streak, and
    the way to the next freeze with it, but keeps what is banked.
    """
    result: list[WeekSummary] = []
    banked = run = 0
    for week in weeks:
        if week.state is WeekState.MET:
            run += 1
            if run % WEEKS_PER_FREEZE == 0:
                banked = min(MAX_FREEZES, banked + 1)
        elif week.state in (WeekState.MISSED, WeekState.FROZEN):
            if banked:
                banked -= 1
                week = replace(week, state=WeekState.FROZEN)
            else:
                week = replace(week, state=WeekState.MISSED)
                run = 0
        elif week.state is WeekState.OFF:
            run = 0
        result.append(week)
    return result, banked


def week_state(
    count: int, target: int | None, resting: bool, closed: bool, joined_late: bool = False
) -> WeekState:
    """The one rule for what a week is: rest, off, met, missed or still in progress."""
    if resting:
        return WeekState.REST
    if target is None:
        return WeekState.OFF
    if count >= target:
        return WeekState.MET
    if closed:
        return WeekState.OFF if joined_late else WeekState.MISSED
    return WeekState.IN_PROGRESS


def _goal_began_after(week: date, changes: Sequence[GoalChange]) -> bool:
    """Whether a goal was switched on in ``week`` after its first day (and none was on before)."""
    last_day = week + timedelta(days=6)
    in_force: int | None = None
    for change in changes:
        if change.local_day < week:
            in_force = change.target
        elif change.local_day <= last_day and in_force is None and change.target is not None:
            return change.local_day > week
    return False


def current_streak(weeks: Sequence[WeekSummary]) -> int:
    """Met weeks in a row ending with the last closed week, plus the current week once met
    (rest and frozen weeks keep it without counting)."""
    if not weeks:
        return 0
    *closed, this_week = weeks
    streak = 1 if this_week.state is WeekState.MET else 0
    for week in reversed(closed):
        if week.state in _HELD:
            continue
        if week.state is not WeekState.MET:
            break
        streak += 1
    return streak


def streak_through(weeks: Sequence[WeekSummary], last: date) -> int:
    """Met weeks in a row ending with the week that starts on ``last`` (rest and frozen weeks
    skipped)."""
    streak = 0
    for week in reversed(weeks):
        if week.start > last or week.state in _HELD:
            continue
        if week.state is not WeekState.MET:
            break
        streak += 1
    return streak


def longest_streak(weeks: Sequence[WeekSummary]) -> int:
    best = run = 0
    for week in weeks:
        if week.state in _HELD:
            continue
        if week.state is WeekState.MET:
            run += 1
            best = max(best, run)
        elif week.state is not WeekState.IN_PROGRESS:
            run = 0
    return best


def streak_milestone(weeks: Sequence[WeekSummary], last: date) -> int | None:
    """The streak milestone the week that starts on ``last`` reached, the first time any week
    did (so each is celebrated once, whatever the history): None when it reached none."""
    reached = streak_through(weeks, last)
    if reached not in STREAK_MILESTONES:
        return None
    if not any(w.start == last and w.state is WeekState.MET for w in weeks):
        return None  # a rest or frozen week holds a streak, it does not reach one
    if longest_streak([w for w in weeks if w.start < last]) >= reached:
        return None
    return reached


def publication_milestone(
    weeks: Sequence[WeekSummary], last: date, total_publications: int
) -> int | None:
    """The highest publication milestone crossed by the week that starts on ``last``: the
    total up to its end is at least the milestone and was below it when it began."""
    later = sum(w.count for w in weeks if w.start > last)
    through = total_publications - later
    before = through - sum(w.count for w in weeks if w.start == last)
    crossed = [m for m in PUBLICATION_MILESTONES if before < m <= through]
    return crossed[-1] if crossed else None


def is_comeback(weeks: Sequence[WeekSummary], last: date) -> bool:
    """Whether the week that starts on ``last`` is the first met week after a broken streak:
    a streak of one when weeks before it were met."""
    if streak_through(weeks, last) != 1:
        return False
    if not any(w.start == last and w.state is WeekState.MET for w in weeks):
        return False
    return any(w.start < last and w.state is WeekState.MET for w in weeks)


def missed_in_a_row(weeks: Sequence[WeekSummary]) -> int:
    """How many closed weeks in a row, ending with the latest closed one, were missed."""
    count = 0
    for week in reversed(weeks):
        if week.state is WeekState.MISSED:
            count += 1
        elif week.state in (WeekState.REST, WeekState.FROZEN, WeekState.IN_PROGRESS):
            continue  # a rest or a freeze is no miss; the week in progress is not closed yet
        else:
            break
    return count


def build_streak(
    weeks: Sequence[WeekSummary],
    total_publications: int,
    now: datetime,
    week_end: datetime,
    tz: ZoneInfo | None = None,
    freezes: int | None = None,
) -> Streak:
    """The streak card's figures; ``freezes`` banked (None: the member opted out of them)."""
    return Streak(
        current=current_streak(weeks),
        longest=longest_streak(weeks),
        total_publications=total_publications,
        this_week=weeks[-1],
        recent=tuple(weeks[-RECENT_WEEKS:]),
        time_left=tk.humanize_left(now, week_end, tz),
        freezes=freezes,
    )
