"""Earned streak freezes: one for every 4 met weeks in a row, at most 2 banked, spent on a closed
missed week; rest stays free, the current week is never frozen, and everything is derived from
the history, so a backdated publication that meets a frozen week gives its freeze back."""

from __future__ import annotations

from datetime import date, timedelta

from habits import streaks
from habits import timekeeping as tk
from habits.model import WeekState, WeekSummary
from tests.habits.test_streaks import change, day, states, summaries, summarize, week

MET, MISSED, REST, FROZEN = WeekState.MET, WeekState.MISSED, WeekState.REST, WeekState.FROZEN
IN_PROGRESS, OFF = WeekState.IN_PROGRESS, WeekState.OFF


def ledger(*week_states: WeekState) -> tuple[list[WeekState], int]:
    weeks, banked = streaks.freeze_ledger(summaries(*week_states))
    return states(weeks), banked


def test_four_met_weeks_in_a_row_earn_one_freeze() -> None:
    assert ledger(MET, MET, MET, IN_PROGRESS)[1] == 0
    assert ledger(MET, MET, MET, MET, IN_PROGRESS)[1] == 1


def test_the_current_week_once_met_counts_towards_a_freeze() -> None:
    assert ledger(MET, MET, MET, MET)[1] == 1


def test_at_most_two_freezes_are_banked() -> None:
    assert ledger(*[MET] * 8, IN_PROGRESS)[1] == 2
    assert ledger(*[MET] * 12, IN_PROGRESS)[1] == 2


def test_a_missed_week_with_a_freeze_banked_is_frozen_and_spends_it() -> None:
    shown, banked = ledger(MET, MET, MET, MET, MISSED, IN_PROGRESS)

    assert shown == [MET, MET, MET, MET, FROZEN, IN_PROGRESS]
    assert banked == 0


def test_a_frozen_week_holds_the_streak_without_growing_it() -> None:
    weeks = streaks.with_freezes(summaries(*[MET] * 7, MISSED, IN_PROGRESS))

    assert streaks.current_streak(weeks) == 7
    assert streaks.streak_through(weeks, week(7)) == 7
    assert streaks.longest_streak(weeks) == 7
    assert streaks.current_streak(streaks.with_freezes(summaries(*[MET] * 7, MISSED, MET))) == 8


def test_a_missed_week_without_a_freeze_breaks_the_streak() -> None:
    shown, banked = ledger(MET, MET, MET, MISSED, MET, IN_PROGRESS)

    assert shown == [MET, MET, MET, MISSED, MET, IN_PROGRESS]
    assert (banked, streaks.current_streak(summaries(*shown))) == (0, 1)


def test_two_freezes_cover_two_missed_weeks_and_the_third_breaks_the_streak() -> None:
    shown, banked = ledger(*[MET] * 8, MISSED, MISSED, MISSED, IN_PROGRESS)

    assert shown[8:] == [FROZEN, FROZEN, MISSED, IN_PROGRESS]
    assert banked == 0


def test_rest_weeks_never_spend_a_freeze_nor_break_the_way_to_one() -> None:
    shown, banked = ledger(MET, MET, REST, REST, MET, MET, IN_PROGRESS)

    assert REST in shown
    assert FROZEN not in shown
    assert banked == 1
    assert ledger(MET, MET, MET, MET, REST, REST, IN_PROGRESS) == (
        [MET, MET, MET, MET, REST, REST, IN_PROGRESS],
        1,
    )


def test_a_frozen_week_keeps_the_way_to_the_next_freeze() -> None:
    # 4 met (1 earned), frozen (spent), 4 more met: the streak reaches 8, a second freeze.
    assert ledger(*[MET] * 4, MISSED, *[MET] * 4, IN_PROGRESS)[1] == 1


def test_a_week_without_a_goal_ends_the_way_to_a_freeze_but_keeps_the_banked_one() -> None:
    assert ledger(*[MET] * 4, OFF, MET, MET, MET, IN_PROGRESS)[1] == 1
    assert ledger(*[MET] * 4, OFF, MISSED, IN_PROGRESS)[0][5] is FROZEN


def test_the_current_week_is_never_frozen() -> None:
    weeks = summarize(week(5), publications=[day(i) for i in range(5)], changes=[change(day(0), 1)])
    shown = streaks.with_freezes(weeks)

    assert states(shown)[-1] is IN_PROGRESS
    assert streaks.banked_freezes(shown) == 1


def test_the_ledger_reads_the_same_from_weeks_it_already_froze() -> None:
    weeks = summaries(*[MET] * 8, MISSED, MET, IN_PROGRESS)
    once, banked = streaks.freeze_ledger(weeks)

    assert streaks.freeze_ledger(once) == (once, banked)


def test_a_backdated_publication_that_meets_a_frozen_week_gives_the_freeze_back() -> None:
    changes = [change(day(0), 1)]
    posts = [day(i, 2) for i in range(4)]  # weeks 0-3 met, week 4 missed, week 5 current
    before = summarize(week(5), publications=posts, changes=changes)
    frozen = streaks.with_freezes(before)
    assert states(frozen)[4] is FROZEN
    assert streaks.banked_freezes(frozen) == 0

    after = streaks.with_freezes(
        summarize(week(5), publications=[*posts, day(4, 6)], changes=changes)
    )

    assert states(after)[4] is MET
    assert streaks.banked_freezes(after) == 1
    assert streaks.current_streak(after) == 5


def test_summarize_freezes_only_when_asked() -> None:
    changes = [change(day(0), 1)]
    posts = [day(i) for i in range(4)]

    plain = summarize(week(5), publications=posts, changes=changes)
    frozen = streaks.summarize(
        current_week=week(5),
        starts_on=tk.MONDAY,
        publication_days=posts,
        changes=changes,
        rest_weeks=[],
        freezes=True,
    )

    assert states(plain)[4] is MISSED
    assert states(frozen)[4] is FROZEN


def test_sunday_start_weeks_earn_and_spend_freezes_on_their_own_boundaries() -> None:
    first_sunday = date(2026, 10, 4)
    changes = [change(first_sunday, 1)]
    # A Saturday post closes each Sunday-start week; the Sunday after opens the next one.
    posts = [first_sunday + timedelta(days=7 * i + 6) for i in range(4)]
    weeks = streaks.summarize(
        current_week=first_sunday + timedelta(days=35),
        starts_on=tk.SUNDAY,
        publication_days=posts,
        changes=changes,
        rest_weeks=[],
        freezes=True,
    )

    assert states(weeks) == [MET, MET, MET, MET, FROZEN, IN_PROGRESS]
    assert all(w.start.weekday() == 6 for w in weeks)


# --- milestones and comebacks ------------------------------------------------------------------


def test_a_streak_milestone_is_reached_by_the_week_that_first_gets_there() -> None:
    weeks = summaries(*[MET] * 5, IN_PROGRESS)

    assert streaks.streak_milestone(weeks, week(3)) == 4
    assert [streaks.streak_milestone(weeks, week(n)) for n in (0, 1, 2, 4)] == [None] * 4


def test_a_streak_milestone_is_celebrated_once_even_when_a_later_streak_reaches_it_again() -> None:
    weeks = summaries(*[MET] * 4, MISSED, *[MET] * 4, IN_PROGRESS)

    assert streaks.streak_milestone(weeks, week(3)) == 4
    assert streaks.streak_milestone(weeks, week(8)) is None


def test_a_frozen_or_rest_week_holds_a_milestone_it_does_not_reach() -> None:
    weeks = streaks.with_freezes(summaries(*[MET] * 11, MISSED, MET, IN_PROGRESS))

    assert streaks.streak_milestone(weeks, week(11)) is None
    assert streaks.streak_milestone(weeks, week(12)) == 12


def test_a_publication_milestone_is_crossed_by_one_week() -> None:
    weeks = [WeekSummary(week(i), n, 1, MET) for i, n in enumerate((4, 4, 3, 1))]
    total = 12

    found = [streaks.publication_milestone(weeks, week(i), total) for i in range(4)]

    assert found == [None, None, 10, None]


def test_the_highest_publication_milestone_crossed_in_one_week_is_the_one() -> None:
    weeks = [WeekSummary(week(0), 9, 1, MET), WeekSummary(week(1), 20, 1, MET)]

    assert streaks.publication_milestone(weeks, week(1), 29) == 25


def test_the_first_met_week_after_a_broken_streak_is_a_comeback() -> None:
    weeks = summaries(MET, MET, MISSED, MET, MET, IN_PROGRESS)

    assert [streaks.is_comeback(weeks, week(n)) for n in range(5)] == [
        False,
        False,
        False,
        True,
        False,
    ]


def test_the_very_first_met_week_is_no_comeback() -> None:
    assert not streaks.is_comeback(summaries(MISSED, MET, IN_PROGRESS), week(1))
