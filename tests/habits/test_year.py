"""The year on /streak: the last 52 weeks as data for a picture, and its words (alt text)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from habits.coach import Coach
from habits.messages import PLAIN, YEAR_WEEKS, Reply, YearCard, render
from habits.model import ManualClock, MemberRef, Streak, WeekState, WeekSummary

ANA = MemberRef.console("ana")


def streak_reply(coach: Coach) -> Reply:
    reply = coach.handle(ANA, "/streak")
    assert reply.ok, reply.text
    return reply


def year_of(coach: Coach) -> YearCard:
    year = streak_reply(coach).year
    assert year is not None
    return year


def test_streak_reply_carries_the_last_52_weeks_current_week_last(
    coach: Coach, clock: ManualClock
) -> None:
    coach.handle(ANA, "/goal 2")
    coach.handle(ANA, "/published A")
    coach.handle(ANA, "/published B")
    coach.handle(ANA, "/published C")  # 3 of 2: over the goal
    clock.advance(timedelta(days=7))  # a week with nothing: missed once it closes
    clock.advance(timedelta(days=7))
    coach.handle(ANA, "/published D")  # this week: 1 of 2 so far

    reply = streak_reply(coach)
    year = reply.year
    assert year is not None
    assert reply.streak is not None

    assert len(year.weeks) == YEAR_WEEKS
    starts = [week.start for week in year.weeks]
    assert starts[-1] == date(2026, 12, 7)
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(starts))
    assert [(w.count, w.target, w.state) for w in year.weeks[-3:]] == [
        (3, 2, WeekState.MET),
        (0, 2, WeekState.MISSED),
        (1, 2, WeekState.IN_PROGRESS),
    ]
    # Before the first goal: weeks with no goal, so the picture always has 52 cells.
    assert {w.state for w in year.weeks[:-3]} == {WeekState.OFF}
    assert {w.count for w in year.weeks[:-3]} == {0}
    streak = reply.streak
    assert (year.current, year.longest, year.total_publications) == (
        streak.current,
        streak.longest,
        streak.total_publications,
    )
    assert (year.current, year.longest, year.total_publications) == (0, 1, 4)


def test_a_long_history_shows_only_the_last_52_weeks(coach: Coach, clock: ManualClock) -> None:
    coach.handle(ANA, "/goal 1")
    for _ in range(60):
        coach.handle(ANA, "/published")
        clock.advance(timedelta(days=7))

    year = year_of(coach)

    assert len(year.weeks) == YEAR_WEEKS
    assert [w.state for w in year.weeks[:-1]] == [WeekState.MET] * (YEAR_WEEKS - 1)
    assert year.weeks[-1].state is WeekState.IN_PROGRESS
    assert (year.current, year.longest, year.total_publications) == (60, 60, 60)


def test_sunday_start_weeks_give_sunday_cells(coach: Coach, clock: ManualClock) -> None:
    coach.handle(ANA, "/goal 1")
    coach.handle(ANA, "/goal week sunday")

    year = year_of(coach)

    assert {w.start.weekday() for w in year.weeks} == {6}
    assert year.weeks[-1].start == date(2026, 11, 22)


def test_a_rest_week_is_a_rest_cell(coach: Coach, clock: ManualClock) -> None:
    coach.handle(ANA, "/goal 1")
    coach.handle(ANA, "/goal rest")

    year = year_of(coach)

    assert year.weeks[-1].state is WeekState.REST


def test_alt_text_says_the_picture_in_words() -> None:
    start = date(2026, 1, 5)
    states = [WeekState.MET] * 3 + [WeekState.MISSED, WeekState.FROZEN, WeekState.REST]
    weeks = [WeekSummary(start + timedelta(weeks=i), 1, 1, s) for i, s in enumerate(states)]
    this_week = WeekSummary(start + timedelta(weeks=6), 0, 1, WeekState.IN_PROGRESS)
    streak = Streak(3, 3, 11, this_week, (), "2 days left")

    card = YearCard.of([*weeks, this_week], streak)

    assert render(card.alt, PLAIN) == (
        "A picture of your last 52 weeks, one square a week: 3 met (darker the further over your "
        "goal), 1 missed, 1 frozen, 1 rest, 45 with no goal; this week: in progress. "
        "Current streak: 3 weeks, longest: 3; 11 publications in all."
    )


def test_alt_text_speaks_of_one_week_and_one_publication_in_the_singular() -> None:
    this_week = WeekSummary(date(2026, 11, 23), 1, 1, WeekState.MET)
    card = YearCard.of([this_week], Streak(1, 1, 1, this_week, (), "7 days left"))

    text = render(card.alt, PLAIN)

    assert "this week: met. Current streak: 1 week, longest: 1; 1 publication in all." in text


def test_the_year_adds_no_line_to_the_text_of_the_streak_card(coach: Coach) -> None:
    coach.handle(ANA, "/goal 1")
    reply = streak_reply(coach)

    without_year = Reply.of(*(part for part in reply.body if not isinstance(part, YearCard)))
    assert reply.text == without_year.text


def test_weeks_across_a_dst_change_are_the_members_local_weeks(
    coach: Coach, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 10, 26, 14, 0, tzinfo=UTC))  # Monday 10:00 in New York (EDT)
    coach.handle(ANA, "/timezone America/New_York")
    coach.handle(ANA, "/goal 1")
    # Sunday 1 Nov 23:30 EST, after the clocks went back: still the week of 26 Oct.
    clock.set(datetime(2026, 11, 2, 4, 30, tzinfo=UTC))
    coach.handle(ANA, "/published Late on Sunday")
    clock.set(datetime(2026, 11, 2, 5, 30, tzinfo=UTC))  # Monday 00:30 EST: a new week

    year = year_of(coach)

    assert [(w.start, w.count, w.state) for w in year.weeks[-2:]] == [
        (date(2026, 10, 26), 1, WeekState.MET),
        (date(2026, 11, 2), 0, WeekState.IN_PROGRESS),
    ]
    assert {w.start.weekday() for w in year.weeks} == {0}


def test_a_week_kept_by_a_freeze_is_a_frozen_cell(coach: Coach, clock: ManualClock) -> None:
    coach.handle(ANA, "/goal 1")
    for _ in range(4):  # four met weeks in a row earn a freeze
        coach.handle(ANA, "/published")
        clock.advance(timedelta(days=7))
    clock.advance(timedelta(days=7))  # a week with nothing: the freeze keeps the streak

    year = year_of(coach)

    assert [w.state for w in year.weeks[-6:]] == [
        *[WeekState.MET] * 4,
        WeekState.FROZEN,
        WeekState.IN_PROGRESS,
    ]
    assert year.current == 4
    assert "1 frozen" in render(year.alt, PLAIN)
