"""Weeks and streaks from a member's history: counts, goal changes and rest weeks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import pytest

from habits import streaks
from habits import timekeeping as tk
from habits.model import GoalChange, WeekState, WeekSummary

MET, MISSED, REST = WeekState.MET, WeekState.MISSED, WeekState.REST
IN_PROGRESS, OFF = WeekState.IN_PROGRESS, WeekState.OFF

W0 = date(2026, 10, 5)  # a Monday


def week(n: int) -> date:
    """The Monday ``n`` weeks after W0."""
    return W0 + timedelta(days=7 * n)


def day(n: int, weekday: int = 0) -> date:
    return week(n) + timedelta(days=weekday)


def change(local_day: date, target: int | None) -> GoalChange:
    return GoalChange(
        member_id=1,
        local_day=local_day,
        target=target,
        label="post",
        set_at=datetime.combine(local_day, time(12), tzinfo=UTC),
    )


def summarize(
    current: date,
    publications: Iterable[date] = (),
    changes: Sequence[GoalChange] = (),
    rests: Iterable[date] = (),
    starts_on: int = tk.MONDAY,
) -> list[WeekSummary]:
    return streaks.summarize(
        current_week=current,
        starts_on=starts_on,
        publication_days=list(publications),
        changes=list(changes),
        rest_weeks=list(rests),
    )


def states(weeks: Sequence[WeekSummary]) -> list[WeekState]:
    return [w.state for w in weeks]


def summaries(*week_states: WeekState) -> list[WeekSummary]:
    """Week summaries with the given states, one a week from W0; only the states matter."""
    return [WeekSummary(week(i), 0, 1, state) for i, state in enumerate(week_states)]


# --- summarize ---------------------------------------------------------------------------------


def test_without_any_goal_only_the_current_week_is_shown_as_off() -> None:
    weeks = summarize(week(3), publications=[day(3, 1), day(3, 2), day(1)])
    assert weeks == [WeekSummary(week(3), 2, None, OFF)]


def test_weeks_run_from_the_first_goal_to_the_current_week() -> None:
    weeks = summarize(week(3), changes=[change(day(1, 2), 1)])
    assert [w.start for w in weeks] == [week(1), week(2), week(3)]


def test_publications_before_the_first_goal_are_not_weeks() -> None:
    weeks = summarize(week(2), publications=[day(0, 3)], changes=[change(day(1), 1)])
    assert [w.start for w in weeks] == [week(1), week(2)]


def test_a_closed_week_is_met_when_the_count_reaches_the_target() -> None:
    weeks = summarize(week(1), publications=[day(0, 1), day(0, 6)], changes=[change(day(0), 2)])
    assert weeks[0] == WeekSummary(week(0), 2, 2, MET)


def test_a_closed_week_below_target_is_missed() -> None:
    weeks = summarize(week(1), publications=[day(0, 1)], changes=[change(day(0), 2)])
    assert weeks[0] == WeekSummary(week(0), 1, 2, MISSED)


def test_the_current_week_below_target_is_in_progress() -> None:
    weeks = summarize(week(0), publications=[day(0, 1)], changes=[change(day(0), 2)])
    assert weeks == [WeekSummary(week(0), 1, 2, IN_PROGRESS)]


def test_the_current_week_is_met_as_soon_as_the_count_reaches_the_target() -> None:
    weeks = summarize(week(0), publications=[day(0, 1)], changes=[change(day(0), 1)])
    assert weeks == [WeekSummary(week(0), 1, 1, MET)]


def test_a_publication_on_sunday_counts_for_the_week_it_closes() -> None:
    weeks = summarize(week(1), publications=[day(0, 6)], changes=[change(day(0), 1)])
    assert states(weeks) == [MET, IN_PROGRESS]


def test_a_rest_week_is_rest_whatever_was_published() -> None:
    weeks = summarize(
        week(2),
        publications=[day(1, 2)],
        changes=[change(day(0), 1)],
        rests=[week(0), week(1)],
    )
    assert states(weeks) == [REST, REST, IN_PROGRESS]


def test_a_rest_week_may_be_given_by_any_day_inside_it() -> None:
    weeks = summarize(week(1), changes=[change(day(0), 1)], rests=[day(0, 4)])
    assert states(weeks) == [REST, IN_PROGRESS]


def test_the_current_week_can_be_a_rest_week() -> None:
    weeks = summarize(week(0), changes=[change(day(0), 1)], rests=[week(0)])
    assert states(weeks) == [REST]


def test_a_goal_raised_mid_week_applies_to_the_whole_week() -> None:
    weeks = summarize(
        week(1),
        publications=[day(0, 0), day(0, 1)],
        changes=[change(day(0), 1), change(day(0, 2), 3)],
    )
    assert weeks[0] == WeekSummary(week(0), 2, 3, MISSED)


def test_a_goal_lowered_mid_week_applies_to_the_whole_week() -> None:
    weeks = summarize(
        week(1),
        publications=[day(0, 0)],
        changes=[change(day(0), 3), change(day(0, 4), 1)],
    )
    assert weeks[0] == WeekSummary(week(0), 1, 1, MET)


def test_a_goal_lowered_on_the_last_day_still_counts_for_that_week() -> None:
    weeks = summarize(
        week(1),
        publications=[day(0, 2)],
        changes=[change(day(0), 2), change(day(0, 6), 1)],
    )
    assert weeks[0].state is MET


def test_a_goal_changed_next_week_leaves_the_previous_week_alone() -> None:
    weeks = summarize(
        week(1),
        publications=[day(0, 2), day(1, 0)],
        changes=[change(day(0), 1), change(day(1), 2)],
    )
    assert [(w.target, w.state) for w in weeks] == [(1, MET), (2, IN_PROGRESS)]


def test_a_goal_turned_off_mid_week_makes_the_week_off() -> None:
    weeks = summarize(
        week(1),
        publications=[day(0, 0)],
        changes=[change(day(0), 1), change(day(0, 3), None)],
    )
    assert weeks[0] == WeekSummary(week(0), 1, None, OFF)


def test_a_goal_turned_off_and_on_in_the_same_week_is_on() -> None:
    weeks = summarize(
        week(1),
        publications=[day(0, 0)],
        changes=[change(day(0), 1), change(day(0, 2), None), change(day(0, 3), 1)],
    )
    assert weeks[0].state is MET


def test_weeks_while_the_goal_was_off_stay_off_until_it_is_set_again() -> None:
    weeks = summarize(
        week(3),
        publications=[day(0, 1), day(1, 1), day(2, 1), day(3, 1)],
        changes=[change(day(0), 1), change(day(1), None), change(day(2, 5), 1)],
    )
    assert states(weeks) == [MET, OFF, MET, MET]


def test_the_latest_change_made_wins_even_with_an_earlier_local_day() -> None:
    # After moving west, a change can carry an earlier local day than the one before it.
    weeks = summarize(week(1), changes=[change(day(0, 3), 1), change(day(0, 2), 4)])
    assert weeks[0].target == 4


def test_undo_removing_the_only_publication_turns_a_met_week_back_to_in_progress() -> None:
    changes = [change(day(0), 1)]
    before = summarize(week(0), publications=[day(0, 2)], changes=changes)
    after = summarize(week(0), publications=[], changes=changes)
    assert before[0].state is MET
    assert after[0] == WeekSummary(week(0), 0, 1, IN_PROGRESS)


def test_undo_of_a_closed_weeks_publication_turns_it_missed() -> None:
    changes = [change(day(0), 2)]
    kept = [day(0, 1)]
    assert summarize(week(1), [*kept, day(0, 4)], changes)[0].state is MET
    assert summarize(week(1), kept, changes)[0].state is MISSED


def test_local_days_fixed_at_logging_survive_a_time_zone_change() -> None:
    # Logged on Sunday 23:30 in Los Angeles (already Monday in UTC), then the member moved
    # to Berlin: the stored local day still puts it in the week that Sunday closes.
    los_angeles = tk.zone("America/Los_Angeles")
    sunday_day = tk.local_date(datetime(2026, 10, 12, 6, 30, tzinfo=UTC), los_angeles)
    assert sunday_day == day(0, 6)
    weeks = summarize(week(1), publications=[sunday_day], changes=[change(day(0), 1)])
    assert states(weeks) == [MET, IN_PROGRESS]


def test_sunday_weeks_regroup_a_sunday_publication_into_the_next_week() -> None:
    sunday = day(0, 6)
    changes = [change(day(0), 1)]
    monday_weeks = summarize(week(1), publications=[sunday], changes=changes)
    sunday_weeks = summarize(sunday, publications=[sunday], changes=changes, starts_on=tk.SUNDAY)
    assert states(monday_weeks) == [MET, IN_PROGRESS]
    assert [(w.start, w.state) for w in sunday_weeks] == [
        (day(0) - timedelta(days=1), OFF),  # the goal began on its Monday: not "missed"
        (sunday, MET),
    ]


def test_sunday_weeks_group_a_saturday_with_the_sunday_before() -> None:
    saturday = day(1, 5)
    weeks = summarize(
        day(1, 6),
        publications=[saturday],
        changes=[change(day(1), 1)],
        starts_on=tk.SUNDAY,
    )
    assert [(w.start, w.count) for w in weeks] == [(day(0, 6), 1), (day(1, 6), 0)]


def test_sunday_weeks_across_the_year_end() -> None:
    changes = [change(date(2026, 12, 27), 1)]
    weeks = summarize(
        date(2027, 1, 3),
        publications=[date(2027, 1, 2)],
        changes=changes,
        starts_on=tk.SUNDAY,
    )
    assert [(w.start, w.state) for w in weeks] == [
        (date(2026, 12, 27), MET),
        (date(2027, 1, 3), IN_PROGRESS),
    ]


def test_target_for_week_is_none_before_any_goal() -> None:
    assert streaks.target_for_week(week(0), [change(day(1), 2)], tk.MONDAY) is None


# --- current streak ----------------------------------------------------------------------------


def test_no_weeks_means_no_streak() -> None:
    assert streaks.current_streak([]) == 0


def test_closed_met_weeks_count_while_the_current_week_is_in_progress() -> None:
    assert streaks.current_streak(summaries(MET, MET, MET, IN_PROGRESS)) == 3


def test_the_current_week_counts_once_it_is_met() -> None:
    assert streaks.current_streak(summaries(MET, MET, MET)) == 3


def test_a_missed_week_breaks_the_streak() -> None:
    assert streaks.current_streak(summaries(MET, MET, MISSED, MET, IN_PROGRESS)) == 1


def test_a_missed_last_closed_week_means_no_streak() -> None:
    assert streaks.current_streak(summaries(MET, MET, MISSED, IN_PROGRESS)) == 0


def test_a_rest_week_neither_breaks_nor_extends_the_streak() -> None:
    assert streaks.current_streak(summaries(MET, REST, MET, IN_PROGRESS)) == 2


def test_several_rest_weeks_in_a_row_keep_the_streak() -> None:
    assert streaks.current_streak(summaries(MET, REST, REST, REST, MET)) == 2


def test_a_current_rest_week_keeps_the_closed_streak() -> None:
    assert streaks.current_streak(summaries(MET, MET, REST)) == 2


def test_a_goal_off_week_breaks_the_streak() -> None:
    assert streaks.current_streak(summaries(MET, OFF, MET, IN_PROGRESS)) == 1


def test_only_the_current_week_met_is_a_streak_of_one() -> None:
    assert streaks.current_streak(summaries(MET)) == 1


def test_streak_from_summarize_with_a_rest_week_and_a_met_current_week() -> None:
    weeks = summarize(
        week(3),
        publications=[day(0, 1), day(2, 1), day(3, 1)],
        changes=[change(day(0), 1)],
        rests=[week(1)],
    )
    assert states(weeks) == [MET, REST, MET, MET]
    assert streaks.current_streak(weeks) == 3


# --- longest streak ----------------------------------------------------------------------------


def test_longest_streak_of_nothing_is_zero() -> None:
    assert streaks.longest_streak([]) == 0


def test_longest_streak_finds_the_best_run() -> None:
    weeks = summaries(MET, MET, MET, MISSED, MET, IN_PROGRESS)
    assert streaks.longest_streak(weeks) == 3


def test_longest_streak_skips_rest_weeks_without_counting_them() -> None:
    assert streaks.longest_streak(summaries(MET, REST, MET, MISSED)) == 2


def test_longest_streak_is_reset_by_a_goal_off_week() -> None:
    assert streaks.longest_streak(summaries(MET, MET, OFF, MET)) == 2


def test_longest_streak_includes_a_met_current_week() -> None:
    assert streaks.longest_streak(summaries(MISSED, MET, MET)) == 2


def test_longest_streak_is_at_least_the_current_streak() -> None:
    weeks = summaries(MET, MISSED, MET, REST, MET, MET, IN_PROGRESS)
    assert streaks.longest_streak(weeks) >= streaks.current_streak(weeks) == 3


# --- missed in a row ---------------------------------------------------------------------------


def test_missed_in_a_row_counts_the_latest_missed_weeks() -> None:
    assert streaks.missed_in_a_row(summaries(MET, MISSED, MISSED)) == 2


def test_missed_in_a_row_is_zero_after_a_met_week() -> None:
    assert streaks.missed_in_a_row(summaries(MISSED, MISSED, MET)) == 0


def test_missed_in_a_row_looks_through_rest_weeks() -> None:
    assert streaks.missed_in_a_row(summaries(MET, MISSED, REST, MISSED)) == 2


def test_missed_in_a_row_stops_at_a_goal_off_week() -> None:
    assert streaks.missed_in_a_row(summaries(MISSED, OFF, MISSED)) == 1


def test_missed_in_a_row_ignores_the_week_still_in_progress() -> None:
    assert streaks.missed_in_a_row(summaries(MET, MISSED, MISSED, IN_PROGRESS)) == 2


def test_missed_in_a_row_of_nothing_is_zero() -> None:
    assert streaks.missed_in_a_row([]) == 0


# --- the streak card ---------------------------------------------------------------------------


def test_build_streak_gathers_the_card() -> None:
    weeks = summaries(*([MET] * 10), IN_PROGRESS)
    now = datetime(2026, 12, 16, 12, 0, tzinfo=UTC)
    card = streaks.build_streak(weeks, 14, now, now + timedelta(days=4, hours=12))
    assert card.current == 10
    assert card.longest == 10
    assert card.total_publications == 14
    assert card.this_week == weeks[-1]
    assert card.recent == tuple(weeks[-streaks.RECENT_WEEKS :])
    assert card.time_left == "5 days left"


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", "America/New_York"])
def test_build_streak_counts_local_days_in_a_25_hour_week(zone_name: str) -> None:
    tz = tk.zone(zone_name)
    first_day = date(2026, 10, 19) if zone_name == "Europe/Berlin" else date(2026, 10, 26)
    begin, end = tk.week_bounds(first_day, tz)
    card = streaks.build_streak(summaries(IN_PROGRESS), 0, begin, end, tz)
    assert card.time_left == "7 days left"


def test_a_goal_set_late_in_a_week_does_not_call_that_week_missed() -> None:
    saturday = day(0, 5)
    weeks = summarize(week(1), changes=[change(saturday, 1)])
    assert states(weeks) == [OFF, IN_PROGRESS]
    assert streaks.missed_in_a_row(weeks[:-1]) == 0


def test_a_goal_set_late_in_a_week_still_counts_that_week_when_met() -> None:
    saturday = day(0, 5)
    weeks = summarize(week(1), publications=[day(0, 6)], changes=[change(saturday, 1)])
    assert states(weeks) == [MET, IN_PROGRESS]
    assert streaks.current_streak(weeks) == 1


def test_a_goal_switched_back_on_mid_week_gets_the_same_grace() -> None:
    changes = [change(day(0), 1), change(day(1), None), change(day(2, 3), 1)]
    weeks = summarize(week(3), changes=changes)
    assert states(weeks) == [MISSED, OFF, OFF, IN_PROGRESS]


def test_a_goal_raised_mid_week_is_not_a_late_start() -> None:
    changes = [change(day(0), 1), change(day(1, 3), 2)]
    weeks = summarize(week(2), publications=[day(1)], changes=changes)
    assert states(weeks) == [MISSED, MISSED, IN_PROGRESS]


def test_a_goal_dated_after_the_current_week_counts_from_the_current_week() -> None:
    """Set on Monday in UTC, then the member moved to a zone where it is still Sunday."""
    sunday = day(0, 6)
    weeks = summarize(week(0), publications=[sunday], changes=[change(day(1), 1)])
    assert [(w.start, w.target, w.state) for w in weeks] == [(week(0), 1, MET)]


def test_streak_through_a_closed_week_ignores_the_weeks_after_it() -> None:
    weeks = summaries(MET, REST, MET, MISSED, MET, IN_PROGRESS)
    assert streaks.streak_through(weeks, week(2)) == 2
    assert streaks.streak_through(weeks, week(3)) == 0
    assert streaks.streak_through(weeks, week(4)) == 1
