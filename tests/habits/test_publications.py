"""Publications logged for a past day, listed, removed or logged again, and rests that end
early or start after a met week: through ``Coach.handle`` on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from habits.coach import Coach
from habits.messages import ActionId
from habits.model import ManualClock, MemberRef, WeekState
from habits.outbox import Outbox
from storage.tables import deliveries, publications, rest_weeks
from tests.habits.test_coach import (
    ANA,
    count_rows,
    member_row,
    ok,
    rows_of,
    snapshot,
    streak_of,
)

BEN = MemberRef.console("ben")


def pubs(engine: Engine, ref: MemberRef = ANA) -> list[tuple[date, str | None, str | None]]:
    return [
        (p.local_day, p.title, p.url)
        for p in rows_of(engine, publications, member_row(engine, ref).id)
    ]


# --- logging a past day ------------------------------------------------------------------------


def test_published_yesterday_counts_for_yesterday_at_its_local_noon(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 2")
    clock.set(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))  # Wednesday

    reply = ok(coach, "/published yesterday https://example.com/a My post")

    assert "Logged “My post” for Tue 24 Nov. 1 of 2 this week" in reply.text
    [row] = rows_of(engine, publications, member_row(engine).id)
    assert (row.local_day, row.title, row.url) == (
        date(2026, 11, 24),
        "My post",
        "https://example.com/a",
    )
    assert row.published_at == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 12:00 in Berlin


def test_a_weekday_name_is_its_most_recent_day_and_todays_name_is_today(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 3")
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # Thursday

    ok(coach, "/published mon Monday's notes")
    ok(coach, "/published thursday Today's notes")
    ok(coach, "/published 2026-11-25 Wednesday's notes")

    assert pubs(engine) == [
        (date(2026, 11, 23), "Monday's notes", None),
        (date(2026, 11, 26), "Today's notes", None),
        (date(2026, 11, 25), "Wednesday's notes", None),
    ]
    today = rows_of(engine, publications, member_row(engine).id)[1]
    assert today.published_at == clock.now()  # today's is logged at the moment it was typed


def test_a_future_day_or_one_too_far_back_is_refused_with_a_relative_example(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 12, 16, 13, 0, tzinfo=UTC))  # Wednesday
    before = snapshot(engine)

    future = coach.handle(ANA, "/published 2026-12-17 Tomorrow's post")
    too_old = coach.handle(ANA, "/published 2026-12-01 Old post")

    assert not future.ok
    assert "hasn't happened yet" in future.text
    assert not too_old.ok
    assert "more than 14 days back" in too_old.text
    assert "from Wed 02 Dec on" in too_old.text
    for reply in (future, too_old):
        assert "Example: /published 2026-12-14 https://example.com/my-post" in reply.text
    assert snapshot(engine) == before


def test_the_oldest_day_allowed_is_fourteen_days_back(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 12, 16, 13, 0, tzinfo=UTC))

    ok(coach, "/published 2026-12-02 Two weeks ago")

    assert pubs(engine) == [(date(2026, 12, 2), "Two weeks ago", None)]


def test_a_day_across_the_autumn_clock_change_lands_in_its_own_week(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 10, 20, 13, 0, tzinfo=UTC))
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 1")
    # Monday 26 Oct 00:30 in Berlin (CET, UTC+1); clocks went back on Sunday 25 Oct.
    clock.set(datetime(2026, 10, 25, 23, 30, tzinfo=UTC))

    ok(coach, "/published sunday Before the change")
    ok(coach, "/published today After the change")

    rows = rows_of(engine, publications, member_row(engine).id)
    assert [(r.local_day, r.published_at) for r in rows] == [
        (date(2026, 10, 25), datetime(2026, 10, 25, 11, 0, tzinfo=UTC)),  # noon CET
        (date(2026, 10, 26), datetime(2026, 10, 25, 23, 30, tzinfo=UTC)),
    ]
    weeks = {w.start: (w.count, w.state) for w in streak_of(coach).recent}
    assert weeks[date(2026, 10, 19)] == (1, WeekState.MET)
    assert weeks[date(2026, 10, 26)] == (1, WeekState.MET)


def test_a_day_across_the_spring_clock_change_lands_in_its_own_week(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/timezone America/New_York")
    ok(coach, "/goal week sunday")
    ok(coach, "/goal 1")
    # Sunday 14 Mar 2027 20:00 in New York (EDT): clocks went forward at 02:00 that day, the
    # first of this member's week; Saturday 13 Mar (EST) closed the week before.
    clock.set(datetime(2027, 3, 15, 0, 0, tzinfo=UTC))

    ok(coach, "/published yesterday Saturday, standard time")
    ok(coach, "/published sun Sunday, daylight time")

    rows = rows_of(engine, publications, member_row(engine).id)
    assert [(r.local_day, r.published_at) for r in rows] == [
        (date(2027, 3, 13), datetime(2027, 3, 13, 17, 0, tzinfo=UTC)),  # noon EST
        (date(2027, 3, 14), datetime(2027, 3, 15, 0, 0, tzinfo=UTC)),
    ]
    weeks = {w.start: (w.count, w.state) for w in streak_of(coach).recent}
    assert weeks[date(2027, 3, 7)] == (1, WeekState.MET)
    assert weeks[date(2027, 3, 14)] == (1, WeekState.MET)


# --- closed weeks are re-evaluated -------------------------------------------------------------


def test_logging_into_a_missed_week_repairs_the_streak_and_sends_no_second_checkin(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Week one")  # week of 23 Nov met
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))  # Monday: the check-in is due
    outbox.sweep(["console"])
    checkin_at = member_row(engine).next_checkin_at
    logged = count_rows(engine, deliveries)
    assert streak_of(coach).current == 0  # the week of 30 Nov was missed
    clock.set(datetime(2026, 12, 7, 13, 0, tzinfo=UTC))

    reply = ok(coach, "/published 2026-12-03 Week two, late")

    assert "Logged “Week two, late” for Thu 03 Dec." in reply.text
    assert "Last week is met now — your streak is back to 2 weeks." in reply.text
    streak = streak_of(coach)
    assert streak.current == 2
    assert [w.state for w in streak.recent[:2]] == [WeekState.MET, WeekState.MET]
    assert count_rows(engine, deliveries) == logged
    assert member_row(engine).next_checkin_at == checkin_at
    assert outbox.sweep(["console"]) == 0


def test_removing_the_only_publication_of_a_met_closed_week_unmeets_it_and_says_so(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Week one")
    clock.advance(timedelta(days=7))
    assert streak_of(coach).current == 1

    reply = ok(coach, "/published remove 1")

    assert "Removed “Week one” (logged Mon 23 Nov)." in reply.text
    assert "Last week is no longer met (0 of 1) — your streak is 0 weeks now." in reply.text
    assert streak_of(coach).current == 0
    assert pubs(engine) == []


def test_a_closed_week_that_stays_met_says_its_count(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Week one")
    clock.advance(timedelta(days=14))

    reply = ok(coach, "/published 2026-11-24 Another one")

    assert "The week of Mon 23 Nov: 2 of 1." in reply.text
    assert "streak" not in reply.text.lower()


# --- the same title twice ----------------------------------------------------------------------


def test_the_same_title_twice_on_one_day_asks_first_and_a_confirm_logs_it(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 3")
    ok(coach, "/published Morning pages")
    before = snapshot(engine)

    ask = ok(coach, "/published morning pages")

    assert "You logged “morning pages” today already — log it again?" in ask.text
    [action] = ask.actions
    first = rows_of(engine, publications, member_row(engine).id)[0]
    assert (action.id, action.command.typed) == (
        ActionId.PUBLISH_AGAIN,
        f"/published again {first.id}",
    )
    assert action.id.answers_in_place
    assert snapshot(engine) == before

    done = ok(coach, action.command.typed)

    assert "Logged “Morning pages”. 2 of 3 this week" in done.text
    assert pubs(engine) == [(date(2026, 11, 23), "Morning pages", None)] * 2


def test_the_same_title_on_another_day_or_with_a_link_is_logged_at_once(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 3")
    ok(coach, "/published Notes")

    other_day = ok(coach, "/published yesterday Notes")
    with_link = ok(coach, "/published https://example.com/notes Notes")

    assert not other_day.actions
    assert not with_link.actions
    assert len(pubs(engine)) == 3


def test_a_backdated_title_twice_asks_about_that_day(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 3")
    clock.advance(timedelta(days=2))
    ok(coach, "/published mon Notes")

    ask = ok(coach, "/published 2026-11-23 Notes")
    done = ok(coach, ask.actions[0].command.typed)

    assert "on Mon 23 Nov already — log it again?" in ask.text
    assert "for Mon 23 Nov" in done.text
    assert pubs(engine) == [(date(2026, 11, 23), "Notes", None)] * 2


def test_log_it_again_for_a_publication_that_is_gone_or_someone_elses_stores_nothing(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/published Notes")
    ask = ok(coach, "/published Notes")
    ok(coach, "/published undo")
    ok(coach, "/published Bens", BEN)
    bens = rows_of(engine, publications, member_row(engine, BEN).id)[0]
    before = snapshot(engine)

    gone = coach.handle(ANA, ask.actions[0].command.typed)
    not_hers = coach.handle(ANA, f"/published again {bens.id}")

    assert not gone.ok
    assert not not_hers.ok
    assert "isn't there any more" in gone.text
    assert snapshot(engine) == before


# --- list and remove ---------------------------------------------------------------------------


def test_published_list_numbers_recent_publications_newest_first(
    coach: Coach, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published https://example.com/first First")
    clock.advance(timedelta(days=8))  # Tue 01 Dec
    ok(coach, "/published example.com/second")
    ok(coach, "/published Third")

    reply = ok(coach, "/published list")

    lines = reply.text.splitlines()
    assert lines[1:4] == [
        "1. Tue 01 Dec — “Third”",
        "2. Tue 01 Dec — https://example.com/second",
        "3. Mon 23 Nov — “First” — https://example.com/first",
    ]
    assert "/published remove N" in lines[-1]


def test_published_list_with_nothing_logged_says_how_to_log(coach: Coach, engine: Engine) -> None:
    reply = ok(coach, "/published list")

    assert "Nothing logged" in reply.text
    assert member_row(engine) is None


def test_remove_takes_out_the_numbered_one_of_this_week(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2")
    ok(coach, "/published One")
    ok(coach, "/published Two")

    reply = ok(coach, "/published remove 2")

    assert "Removed “One”" in reply.text
    assert "1 of 2 this week" in reply.text
    assert [title for _, title, _ in pubs(engine)] == ["Two"]


def test_remove_a_number_not_listed_or_older_than_fourteen_days_changes_nothing(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Old one")
    clock.advance(timedelta(days=15))
    before = snapshot(engine)

    too_old = coach.handle(ANA, "/published remove 1")
    missing = coach.handle(ANA, "/published remove 5")

    assert not too_old.ok
    assert "more than 14 days back, so it stays" in too_old.text
    assert not missing.ok
    assert "There's no number 5: /published list shows 1." in missing.text
    assert "Example: /published remove 1" in missing.text
    assert snapshot(engine) == before


def test_undo_of_a_closed_week_points_at_remove(coach: Coach, clock: ManualClock) -> None:
    ok(coach, "/published Last week's")
    clock.advance(timedelta(days=7))

    reply = coach.handle(ANA, "/published undo")

    assert not reply.ok
    assert "/published remove N" in reply.text


# --- rest --------------------------------------------------------------------------------------


def test_goal_rest_off_ends_the_rest_and_leaves_the_streak(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Week one")
    clock.advance(timedelta(days=7))
    ok(coach, "/goal rest 3")
    clock.advance(timedelta(days=7))  # the second rest week
    row = member_row(engine)
    assert row.next_nudge_at > datetime(2026, 12, 14, tzinfo=UTC)

    reply = ok(coach, "/goal rest off")

    assert "Rest ended" in reply.text
    assert "0 of 1 this week" in reply.text
    row = member_row(engine)
    assert row.rest_until is None
    # The first rest week (closed) stays a rest; this one and the next are normal again.
    assert [r.week_start for r in rows_of(engine, rest_weeks, row.id)] == [date(2026, 11, 30)]
    assert row.next_nudge_at == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    streak = streak_of(coach)
    assert streak.current == 1
    assert streak.this_week.state is WeekState.IN_PROGRESS


def test_goal_rest_cancel_without_a_rest_changes_nothing(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    before = snapshot(engine)

    reply = ok(coach, "/goal rest cancel")

    assert "not resting" in reply.text
    assert snapshot(engine) == before


def test_rest_after_a_met_week_keeps_it_met_and_starts_next_week(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Done for the week")
    assert streak_of(coach).current == 1

    reply = ok(coach, "/goal rest 2")

    assert "This week is already met, so it stays met — your rest (2 weeks) starts next week" in (
        reply.text
    )
    assert "No nudges until Mon 14 Dec" in reply.text
    row = member_row(engine)
    weeks = [r.week_start for r in rows_of(engine, rest_weeks, row.id)]
    assert weeks == [date(2026, 11, 30), date(2026, 12, 7)]
    streak = streak_of(coach)
    assert streak.current == 1
    assert streak.this_week.state is WeekState.MET


def test_rest_during_a_longer_rest_says_nothing_changed(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/goal rest 3")
    before = snapshot(engine)

    reply = ok(coach, "/goal rest 1")

    assert "You're already resting until Mon 14 Dec — nothing changed." in reply.text
    assert "/goal rest off" in reply.text
    assert snapshot(engine) == before


def test_a_longer_rest_during_a_rest_says_how_far_it_now_runs(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/goal rest 2")

    reply = ok(coach, "/goal rest 3")

    assert "Your rest now runs until Mon 14 Dec (it was until Mon 07 Dec)." in reply.text
    assert member_row(engine).rest_until == date(2026, 12, 14)
