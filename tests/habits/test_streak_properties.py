"""Property tests over random histories: the streak a member sees week after week equals the
streak recomputed from their whole history, freezes banked never exceed two, rest never spends
one and the current week is never frozen, in zones with and without DST and for Sunday weeks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from habits import streaks
from habits.coach import Coach
from habits.model import ManualClock, MemberRef, WeekState, WeekSummary

MET, MISSED, REST, OFF = WeekState.MET, WeekState.MISSED, WeekState.REST, WeekState.OFF
IN_PROGRESS, FROZEN = WeekState.IN_PROGRESS, WeekState.FROZEN
W0 = date(2026, 10, 5)  # a Monday

# --- a reference written from the rules alone, forwards, week by week -------------------------


def reference(closed: list[WeekState], current: WeekState) -> tuple[int, int]:
    """(streak, freezes banked) from the rules: a met week grows the streak and every 4th in a
    row earns a freeze (2 at most); a missed one spends a freeze if there is one, otherwise it
    ends the streak; rest leaves both alone; a week with no goal ends the streak."""
    streak = banked = 0

    def met() -> None:
        nonlocal streak, banked
        streak += 1
        if streak % 4 == 0:
            banked = min(2, banked + 1)

    for state in closed:
        if state is MET:
            met()
        elif state is MISSED and banked:
            banked -= 1
        elif state in (MISSED, OFF):
            streak = 0
    if current is MET:
        met()
    return streak, banked


def weeks_of(states: list[WeekState]) -> list[WeekSummary]:
    return [WeekSummary(W0 + timedelta(weeks=i), 0, 1, s) for i, s in enumerate(states)]


closed_states = st.lists(st.sampled_from([MET, MET, MET, MISSED, REST, OFF]), max_size=40)
current_states = st.sampled_from([MET, IN_PROGRESS, REST])


@settings(max_examples=400, deadline=None)
@given(closed_states, current_states)
def test_the_ledger_agrees_with_the_rules_on_every_history(
    closed: list[WeekState], current: WeekState
) -> None:
    weeks = streaks.with_freezes(weeks_of([*closed, current]))

    assert (streaks.current_streak(weeks), streaks.banked_freezes(weeks)) == reference(
        closed, current
    )


@settings(max_examples=400, deadline=None)
@given(closed_states, current_states)
def test_adding_weeks_one_at_a_time_never_changes_the_weeks_before(
    closed: list[WeekState], current: WeekState
) -> None:
    history = [*closed, current]
    whole = streaks.with_freezes(weeks_of(history))

    for n in range(1, len(history) + 1):
        prefix = streaks.with_freezes(weeks_of(history[:n]))
        assert prefix == whole[:n]
        assert 0 <= streaks.banked_freezes(prefix) <= streaks.MAX_FREEZES


@settings(max_examples=400, deadline=None)
@given(closed_states, current_states)
def test_rest_is_never_frozen_nor_spends_a_freeze_and_the_current_week_never_freezes(
    closed: list[WeekState], current: WeekState
) -> None:
    history = [*closed, current]
    whole = streaks.with_freezes(weeks_of(history))

    for before, after in zip(history, whole, strict=True):
        assert after.state is before or (before is MISSED and after.state is FROZEN)
    assert whole[-1].state is current
    for n, state in enumerate(history):
        if state is REST and n:
            banked_before = streaks.banked_freezes(whole[:n])
            assert streaks.banked_freezes(whole[: n + 1]) == banked_before


# --- the same through the coach, as a member lives it -------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One week of a member's life: rest it, publish in it, log one in the week before."""

    rest: bool
    published: int
    backdated: bool


plans = st.lists(
    st.builds(
        Plan,
        rest=st.sampled_from([False, False, False, False, True]),
        published=st.sampled_from([0, 1, 1, 1, 2]),
        backdated=st.sampled_from([False, False, False, True]),
    ),
    min_size=1,
    max_size=14,
)
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
_names = itertools.count()


def local(day: date, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    week_plans=plans,
    zone_name=st.sampled_from(ZONES),
    sunday=st.booleans(),
    offset=st.integers(min_value=0, max_value=60),
)
def test_the_streak_lived_week_by_week_equals_the_one_recomputed_from_the_history(
    coach: Coach,
    clock: ManualClock,
    week_plans: list[Plan],
    zone_name: str,
    sunday: bool,
    offset: int,
) -> None:
    # Each example is a new member in the same database; the weeks span DST changes.
    ref = MemberRef.console(f"member-{next(_names)}")
    zone = ZoneInfo(zone_name)
    first = W0 + timedelta(weeks=offset) - timedelta(days=1 if sunday else 0)

    def run(text: str) -> None:
        reply = coach.handle(ref, text)
        assert reply.ok, (text, reply.text)

    clock.set(local(first, 9, zone))
    run(f"/timezone {zone_name}")
    run("/goal week sunday" if sunday else "/goal week monday")
    run("/goal 1 post")
    counts: list[int] = []
    rests: list[bool] = []
    for n, plan in enumerate(week_plans):
        start = first + timedelta(weeks=n)
        clock.set(local(start, 10, zone))
        if plan.rest:
            run("/goal rest")
        clock.set(local(start + timedelta(days=3), 12, zone))
        for k in range(plan.published):
            run(f"/published Week {n} piece {k}")
        counts.append(plan.published)
        rests.append(plan.rest)
        if plan.backdated and n:
            run(f"/published {(start - timedelta(days=1)).isoformat()} Logged late")
            counts[n - 1] += 1

        states = [REST if r else MET if c else MISSED for c, r in zip(counts, rests, strict=True)]
        *closed, _ = states
        current = REST if plan.rest else MET if counts[-1] else IN_PROGRESS
        card = coach.handle(ref, "/streak")
        assert card.streak is not None
        assert card.year is not None
        assert (card.streak.current, card.streak.freezes) == reference(closed, current)
        assert card.streak.freezes is not None
        assert card.streak.freezes <= streaks.MAX_FREEZES
        shown = [w.state for w in card.year.weeks[-len(states) :]]
        assert shown[-1] is current  # the current week is never frozen
        for was, now in zip(closed, shown, strict=False):
            assert now is was or (was is MISSED and now is FROZEN)  # rest is never frozen
