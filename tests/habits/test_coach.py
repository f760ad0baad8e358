"""Every use case through ``Coach.handle``, on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

import pytest
from sqlalchemy import Engine, func, select, update

from habits import coaching, data_rights, goals, nudges
from habits import commands as c
from habits import publications as publication_cases
from habits.coach import COMMAND_KINDS, USE_CASES, Coach
from habits.messages import OOPS_REPLY, PLAIN, ActionId, HelpCard, Reply, StreakCard, render_body
from habits.model import ManualClock, MemberRef, Streak, WeekState, WeekSummary
from habits.outbox import Outbox
from storage import repositories
from storage.tables import (
    deliveries,
    goal_changes,
    members,
    metadata,
    publications,
    rest_weeks,
)

ANA = MemberRef.console("ana")
BERLIN = "Europe/Berlin"


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: 'nothing changed' is an equality."""
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
        }


def member_row(engine: Engine, ref: MemberRef = ANA) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(members).where(
                members.c.platform == str(ref.platform),
                members.c.workspace == ref.workspace,
                members.c.user_id == ref.user_id,
            )
        ).one_or_none()


def rows_of(engine: Engine, table: Any, member_id: int) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(table).where(table.c.member_id == member_id).order_by(table.c.id)
            )
        )


def count_rows(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def ok(coach: Coach, text: str, ref: MemberRef = ANA) -> Reply:
    reply = coach.handle(ref, text)
    assert reply.ok, reply.text
    return reply


def streak_of(coach: Coach, ref: MemberRef = ANA) -> Any:
    reply = ok(coach, "/streak", ref)
    assert reply.streak is not None
    return reply.streak


# --- /goal -------------------------------------------------------------------------------------


def test_goal_without_a_goal_suggests_one_and_stores_nothing(coach: Coach, engine: Engine) -> None:
    reply = ok(coach, "/goal")

    assert "/goal 1 post" in reply.text
    assert member_row(engine) is None


def test_goal_with_label_sets_target_label_and_records_the_change(
    coach: Coach, engine: Engine
) -> None:
    reply = ok(coach, "/goal 2 newsletters")

    assert "Goal set: 2 newsletters a week" in reply.text
    row = member_row(engine)
    assert (row.goal_target, row.goal_label) == (2, "newsletter")
    changes = rows_of(engine, goal_changes, row.id)
    assert [(c.target, c.label, c.local_day) for c in changes] == [
        (2, "newsletter", date(2026, 11, 23))
    ]
    assert row.next_nudge_at is not None
    assert row.next_checkin_at is not None


def test_a_link_stored_in_an_older_spelling_still_counts_once(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2 posts")
    member_id = member_row(engine).id
    with engine.begin() as connection:  # rows as earlier versions stored them
        for url in ("https://xn--r8jz45g.jp/post", "https://example.com:443/a"):
            connection.execute(
                publications.insert().values(
                    member_id=member_id,
                    published_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
                    local_day=date(2026, 11, 23),
                    source="command",
                    url=url,
                )
            )

    for typed in ("https://例え.jp/post", "https://xn--r8jz45g.jp:443/post", "example.com/a"):
        reply = ok(coach, f"/published https://{typed.removeprefix('https://')}")
        assert "each link counts once" in reply.text, typed
    assert len(rows_of(engine, publications, member_id)) == 2


def test_a_goal_label_is_inflected_at_its_head_noun(coach: Coach, engine: Engine) -> None:
    reply = ok(coach, "/goal 3 essays on gardening")

    assert "Goal set: 3 essays on gardening a week" in reply.text
    assert member_row(engine).goal_label == "essay on gardening"
    assert "1 essay on gardening a week" in ok(coach, "/goal 1").text


def test_goal_shows_target_week_start_zone_and_progress(coach: Coach) -> None:
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 1 post")

    reply = ok(coach, "/goal")

    assert "1 post a week" in reply.text
    assert "weeks start on Mon, Europe/Berlin" in reply.text
    assert "0 of 1 this week" in reply.text


def test_goal_off_stops_tracking_and_keeps_history(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1 post")
    ok(coach, "/published https://example.com/a")

    reply = ok(coach, "/goal off")

    assert "off" in reply.text
    row = member_row(engine)
    assert row.goal_target is None
    assert (row.next_nudge_at, row.next_checkin_at) == (None, None)
    assert [c.target for c in rows_of(engine, goal_changes, row.id)] == [1, None]
    assert len(rows_of(engine, publications, row.id)) == 1


def test_goal_off_without_a_goal_changes_nothing(coach: Coach, engine: Engine) -> None:
    before = snapshot(engine)

    reply = ok(coach, "/goal off")

    assert "no goal" in reply.text
    assert snapshot(engine) == before


def test_goal_rest_marks_this_and_following_weeks_and_stops_nudges(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 1 post")

    reply = ok(coach, "/goal rest 2")

    assert "Rest 2 weeks" in reply.text
    row = member_row(engine)
    weeks = [r.week_start for r in rows_of(engine, rest_weeks, row.id)]
    assert weeks == [date(2026, 11, 23), date(2026, 11, 30)]
    assert row.rest_until == date(2026, 12, 7)
    # The next nudge falls after the rest (Monday belongs to the weekly check-in).
    assert row.next_nudge_at == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    assert streak_of(coach).this_week.state is WeekState.REST


def test_goal_week_sunday_moves_the_week_start(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1 post")

    reply = ok(coach, "/goal week sunday")

    assert "start on Sun" in reply.text
    assert member_row(engine).week_starts_on == 6
    assert streak_of(coach).this_week.start == date(2026, 11, 22)


# --- /published --------------------------------------------------------------------------------


def test_published_with_url_and_title_stores_both(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1 post")

    reply = ok(coach, "/published https://Example.com/first My first post")

    assert "Logged “My first post”" in reply.text
    assert "goal met" in reply.text
    (pub,) = rows_of(engine, publications, member_row(engine).id)
    assert (pub.url, pub.title, pub.source) == (
        "https://example.com/first",
        "My first post",
        "command",
    )
    assert pub.published_at == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert pub.local_day == date(2026, 11, 23)


def test_published_with_title_only_stores_no_url(coach: Coach, engine: Engine) -> None:
    ok(coach, "/published Notes on starting small")

    (pub,) = rows_of(engine, publications, member_row(engine).id)
    assert (pub.url, pub.title) == (None, "Notes on starting small")


def test_published_with_nothing_still_counts(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2")

    reply = ok(coach, "/published")

    assert "1 of 2 this week" in reply.text
    (pub,) = rows_of(engine, publications, member_row(engine).id)
    assert (pub.url, pub.title) == (None, None)


def test_published_same_url_twice_counts_once(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2")
    ok(coach, "/published https://example.com/a First")

    reply = ok(coach, "/published https://example.com/a Again")

    assert "counts once" in reply.text
    assert len(rows_of(engine, publications, member_row(engine).id)) == 1
    assert streak_of(coach).this_week.count == 1


@pytest.mark.parametrize(
    "again",
    [
        "https://example.com/a/",
        "http://example.com/a",
        "https://www.example.com/a",
        "https://EXAMPLE.com/a?utm_source=newsletter#top",
    ],
)
def test_published_another_spelling_of_the_same_link_counts_once(
    coach: Coach, engine: Engine, again: str
) -> None:
    ok(coach, "/goal 2")
    ok(coach, "/published https://example.com/a First")

    reply = ok(coach, f"/published {again} Again")

    assert "counts once" in reply.text
    assert len(rows_of(engine, publications, member_row(engine).id)) == 1


def test_the_same_request_delivered_twice_logs_once(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2")
    ok(
        coach,
        "/published Draft one",
    )
    first = coach.handle(ANA, "/published https://example.com/b B", request_key="interaction-7")

    again = coach.handle(ANA, "/published https://example.com/b B", request_key="interaction-7")

    assert first.ok
    assert again.ok
    assert "same request" in again.text
    assert "2 of 2" in again.text
    pubs = rows_of(engine, publications, member_row(engine).id)
    assert [p.request_key for p in pubs] == [None, "interaction-7"]


def test_losing_the_race_to_a_replica_with_the_same_request_answers_already_logged(
    coach: Coach, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(coach, "/goal 2")
    ok(
        coach,
        "/published First",
    )
    coach.handle(ANA, "/published Second", request_key="interaction-9")
    # As if another replica stored it between this replica's check and its insert:
    monkeypatch.setattr(
        repositories.SqlPublicationRepository, "has_request_key", lambda *args: False
    )
    monkeypatch.setattr(repositories.SqlPublicationRepository, "recent", lambda *a, **k: [])

    reply = coach.handle(ANA, "/published Second", request_key="interaction-9")

    assert reply.ok  # the unit of work stayed usable for the answer (a savepoint on PostgreSQL)
    assert reply.text.startswith("Already logged — that was the same request again.")
    assert "2 of 2" in reply.text
    assert len(rows_of(engine, publications, member_row(engine).id)) == 2


def test_losing_the_race_on_a_link_answers_already_logged(
    coach: Coach, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(coach, "/published https://example.com/a A")
    monkeypatch.setattr(repositories.SqlPublicationRepository, "has_any_url", lambda *args: False)

    reply = coach.handle(ANA, "/published https://example.com/a A again", zone_hint=BERLIN)

    assert reply.ok
    assert reply.text.startswith("Already logged — each link counts once.")
    assert len(rows_of(engine, publications, member_row(engine).id)) == 1


def test_different_requests_log_separately(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2")

    coach.handle(ANA, "/published One", request_key="view-1")
    coach.handle(ANA, "/published Two", request_key="view-2")

    assert streak_of(coach).this_week.count == 2


def test_one_request_key_used_by_two_members_logs_for_each(coach: Coach, engine: Engine) -> None:
    bo = MemberRef.slack("T2", "U2")

    assert coach.handle(ANA, "/published A", request_key="shared").ok
    assert coach.handle(bo, "/published A", request_key="shared").ok

    assert streak_of(coach, bo).this_week.count == 1
    assert streak_of(coach).this_week.count == 1


def test_forget_offers_a_way_out_and_cancel_keeps_everything(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1 post")
    asked = ok(coach, "/habit forget")
    before = snapshot(engine)

    assert [a.id for a in asked.actions] == [ActionId.FORGET_CONFIRM, ActionId.FORGET_CANCEL]
    assert [a.id.answers_in_place for a in asked.actions] == [True, True]
    kept = ok(coach, "/habit forget cancel")

    assert kept.text == "Kept — nothing was deleted."
    assert snapshot(engine) == before


def test_keep_clicked_after_delete_went_through_does_not_claim_data_was_kept(
    coach: Coach,
) -> None:
    ok(coach, "/goal 1 post")
    ok(coach, "/habit forget")
    ok(coach, "/habit forget")
    ok(coach, "/habit forget confirm")  # "yes" on the first question

    reply = ok(coach, "/habit forget cancel")  # "no" on the second

    assert reply.text == "I have no data about you — there's nothing to delete."


def test_a_profile_zone_by_an_old_name_is_stored_by_the_current_one(
    coach: Coach, engine: Engine
) -> None:
    slack = MemberRef.slack("T1", "U1")

    assert coach.handle(slack, "/goal 1 post", zone_hint="Asia/Calcutta").ok

    assert member_row(engine, slack).timezone == "Asia/Kolkata"


def test_overview_of_a_stranger_creates_no_member(coach: Coach, engine: Engine) -> None:
    before = snapshot(engine)

    overview = coach.overview(MemberRef.slack("T1", "U1"), zone_hint=BERLIN)

    assert overview.streak.ok
    assert overview.streak.streak is not None
    assert overview.streak.streak.current == 0
    assert "/goal 1 post" in overview.goal.text
    assert BERLIN in overview.timezone.text
    assert snapshot(engine) == before


def test_overview_shows_what_the_show_commands_show(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2 newsletters")
    ok(coach, "/published One")

    overview = coach.overview(ANA)

    assert overview.goal.text == ok(coach, "/goal").text
    assert overview.nudges.text == ok(coach, "/nudges").text
    assert overview.timezone.text == ok(coach, "/timezone").text
    assert overview.streak.streak == streak_of(coach)


def test_publish_form_logs_link_and_title_as_a_button(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1 post")

    reply = coach.publish_form(ANA, "https://example.com/x", "From the modal", request_key="v1")

    assert reply.ok, reply.text
    (pub,) = rows_of(engine, publications, member_row(engine).id)
    assert (pub.url, pub.title, pub.source, pub.request_key) == (
        "https://example.com/x",
        "From the modal",
        "button",
        "v1",
    )


def test_publish_form_bad_link_example_is_a_link_not_a_command(coach: Coach) -> None:
    reply = coach.publish_form(ANA, "my blog", "Title")

    assert reply.text.endswith("Example: https://example.com/my-post")


def test_publish_form_with_a_bad_link_stores_nothing(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1 post")
    before = snapshot(engine)

    reply = coach.publish_form(ANA, "my blog", "Title")

    assert not reply.ok
    assert "Example: https://example.com/my-post" in reply.text
    assert snapshot(engine) == before


def test_published_undo_removes_only_the_last_one(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 2")
    ok(coach, "/published https://example.com/a First")
    ok(coach, "/published Second")

    reply = ok(coach, "/published undo")

    assert "Removed “Second”" in reply.text
    assert "1 of 2 this week" in reply.text
    (pub,) = rows_of(engine, publications, member_row(engine).id)
    assert pub.title == "First"


def test_published_undo_leaves_a_closed_week_alone(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Last week's post")
    clock.advance(timedelta(days=7))
    before = snapshot(engine)

    reply = coach.handle(ANA, "/published undo")

    assert not reply.ok
    assert "week that has closed" in reply.text
    assert snapshot(engine) == before


def test_published_undo_with_nothing_logged_changes_nothing(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    before = snapshot(engine)

    reply = ok(coach, "/published undo")

    assert "nothing to undo" in reply.text
    assert snapshot(engine) == before


def test_published_long_title_is_shortened_and_says_so(coach: Coach, engine: Engine) -> None:
    reply = ok(coach, "/published https://example.com/long " + "word " * 1000)

    assert "first 200 characters" in reply.text
    (pub,) = rows_of(engine, publications, member_row(engine).id)
    assert len(pub.title) == 200
    assert pub.title.endswith("…")


# --- /streak -----------------------------------------------------------------------------------


def test_streak_reply_carries_the_card(coach: Coach, clock: ManualClock) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published A")
    clock.advance(timedelta(days=7))
    ok(coach, "/published B")
    ok(coach, "/published C")

    streak = streak_of(coach)

    assert (streak.current, streak.longest, streak.total_publications) == (2, 2, 3)
    assert streak.this_week.start == date(2026, 11, 30)
    assert (streak.this_week.count, streak.this_week.target) == (2, 1)
    assert streak.this_week.state is WeekState.MET
    assert [w.state for w in streak.recent] == [WeekState.MET, WeekState.MET]
    assert streak.time_left == "7 days left"


def test_streak_for_a_stranger_is_empty_and_stores_nothing(coach: Coach, engine: Engine) -> None:
    streak = streak_of(coach)

    assert (streak.current, streak.longest, streak.total_publications) == (0, 0, 0)
    assert streak.this_week.state is WeekState.OFF
    assert member_row(engine) is None


# --- /nudges -----------------------------------------------------------------------------------


def test_nudges_show_the_default_schedule(coach: Coach) -> None:
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 1")

    reply = ok(coach, "/nudges")

    assert "Mon Thu at 09:00 (Europe/Berlin)" in reply.text
    assert "Next: Thu 26 Nov 09:00" in reply.text
    assert "Weekly check-in: Mon 30 Nov 09:00" in reply.text


def test_nudges_set_days_and_time(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")

    reply = ok(coach, "/nudges mon wed fri at 18:30")

    assert "Mon Wed Fri at 18:30" in reply.text
    row = member_row(engine)
    assert (row.nudge_days, row.nudge_minute) == (0b10101, 18 * 60 + 30)
    assert row.next_nudge_at == datetime(2026, 11, 25, 18, 30, tzinfo=UTC)


def test_nudges_pause_for_two_weeks(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")

    reply = ok(coach, "/nudges pause 2w")

    assert "paused until Mon 07 Dec" in reply.text
    row = member_row(engine)
    assert row.paused_until == date(2026, 12, 7)
    assert row.next_nudge_at == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("known", [True, False], ids=["member", "stranger"])
def test_nudges_pause_until_a_past_date_is_refused_and_stores_nothing(
    coach: Coach, engine: Engine, known: bool
) -> None:
    if known:
        ok(coach, "/goal 1")
    before = snapshot(engine)

    reply = coach.handle(ANA, "/nudges pause until 2026-11-01")

    assert not reply.ok
    assert "Example:" in reply.text
    assert snapshot(engine) == before


def test_nudges_resume_ends_a_pause(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/nudges pause until 2027-01-15")

    ok(coach, "/nudges resume")

    row = member_row(engine)
    assert row.paused_until is None
    assert row.next_nudge_at == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_resume_says_so_and_a_rest_is_not_called_a_pause(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/goal rest 2")

    reply = ok(coach, "/nudges resume")

    assert reply.text.startswith("Resumed. Nudges: Mon Thu at 09:00")
    assert "Resting until Mon 07 Dec." in reply.text
    assert "Paused" not in reply.text


def test_a_pause_is_still_called_a_pause(coach: Coach) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/nudges pause 2w")

    assert "Paused until" in ok(coach, "/nudges").text


def test_nudges_only_on_the_weeks_first_day_explain_the_check_in(coach: Coach) -> None:
    ok(coach, "/goal 1 post")

    monday = ok(coach, "/nudges mon").text
    assert "Monday's message is the weekly check-in" in monday
    assert "Mon 30 Nov 09:00" in monday  # the clock is Monday 23 Nov, after this week's
    assert "not scheduled" not in monday

    ok(coach, "/goal week sunday")
    sunday = ok(coach, "/nudges sun at 8am").text
    assert "Sunday's message is the weekly check-in" in sunday
    assert "Sun 29 Nov 08:00" in sunday
    assert "Next:" in ok(coach, "/nudges mon sun").text  # other days keep their nudges


def test_nudges_off_stops_nudges_but_keeps_the_weekly_checkin(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")

    ok(coach, "/nudges off")

    row = member_row(engine)
    assert row.nudges_on is False
    assert row.next_nudge_at is None
    assert row.next_checkin_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert "Nudges are off" in ok(coach, "/nudges").text


def test_nudges_snooze_later_nudges_again_three_hours_after_a_nudge(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))  # Thursday's nudge
    assert outbox.sweep(["console"]) == 1

    reply = ok(coach, "/nudges snooze later")

    assert "Snoozed — I'll nudge you again Thu 26 Nov 12:00" in reply.text
    assert member_row(engine).next_nudge_at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_nudges_snooze_never_brings_the_next_nudge_forward(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/nudges mon thu at 9:00")
    clock.set(datetime(2026, 12, 2, 3, 30, tzinfo=UTC))  # Wednesday, no nudge since Monday
    assert outbox.sweep(["console"]) == 1  # Monday's check-in, two days ago
    scheduled = member_row(engine).next_nudge_at
    assert scheduled == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    before = snapshot(engine)

    later = ok(coach, "/nudges snooze later")
    tomorrow = ok(coach, "/nudges snooze tomorrow")

    assert "Nothing to snooze" in later.text
    assert "Thu 03 Dec 09:00" in later.text
    assert "Nothing to snooze" in tomorrow.text
    assert snapshot(engine) == before


def test_nudges_snooze_postpones_a_next_nudge_that_comes_sooner(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))  # an hour before Thursday's nudge

    reply = ok(coach, "/nudges snooze later")

    assert "Thu 26 Nov 11:00" in reply.text
    assert member_row(engine).next_nudge_at == datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


def test_nudges_snooze_later_in_the_evening_waits_until_tomorrow_morning(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 11, 26, 19, 30, tzinfo=UTC))  # Thursday 20:30 in Berlin

    reply = ok(coach, "/nudges snooze later")

    assert "Fri 27 Nov 09:00" in reply.text
    assert member_row(engine).next_nudge_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_nudges_snooze_tomorrow_moves_the_next_nudge_to_tomorrows_nudge_time(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 1")
    ok(coach, "/nudges daily at 9:00")
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))  # Tuesday's nudge, 09:00 in Berlin
    assert outbox.sweep(["console"]) == 1

    reply = ok(coach, "/nudges snooze tomorrow")

    assert "Wed 25 Nov 09:00" in reply.text
    assert member_row(engine).next_nudge_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_nudges_snooze_without_a_goal_has_nothing_to_snooze(coach: Coach, engine: Engine) -> None:
    reply = ok(coach, "/nudges snooze later")

    assert "no nudge to snooze" in reply.text
    assert member_row(engine) is None


def set_last_step(engine: Engine, step_id: str, ref: MemberRef = ANA) -> None:
    """As if the last nudge had given this step."""
    member_id = member_row(engine, ref).id
    with engine.begin() as connection:
        connection.execute(
            update(members).where(members.c.id == member_id).values(last_step=step_id)
        )


def test_nudges_smaller_walks_down_a_ladder_and_stays_at_the_smallest(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 1")
    set_last_step(engine, "headline")  # the early week's longest step, ten minutes

    answers = [ok(coach, "/nudges smaller").text for _ in range(5)]

    assert answers == [
        "Even smaller: Jot three bullet points for your next post.",
        "Even smaller: Write down one question a reader asked you lately.",
        "Even smaller: Write just the first sentence.",
        "That's the smallest step there is — and small is fine: Write just the first sentence.",
        "That's the smallest step there is — and small is fine: Write just the first sentence.",
    ]
    assert member_row(engine).last_step == "first-line"


def test_nudges_smaller_on_the_last_day_ends_at_publishing_the_short_version(
    coach: Coach, clock: ManualClock, engine: Engine
) -> None:
    ok(coach, "/goal 1")
    set_last_step(engine, "first-line")  # given mid-week, shorter than any last-day step
    clock.set(datetime(2026, 11, 29, 10, 0, tzinfo=UTC))  # Sunday: the week's last day

    answers = [ok(coach, "/nudges smaller").text for _ in range(2)]

    bottom = (
        "That's the smallest step there is — and small is fine: "
        "Give it a title, hit publish, tell one person."
    )
    assert answers == [bottom, bottom]


def test_nudges_smaller_starts_below_the_step_the_goal_gave(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    given = coaching.step_minutes(member_row(engine).last_step)

    reply = ok(coach, "/nudges smaller")

    assert reply.text.startswith("Even smaller: ")
    smaller = coaching.step_minutes(member_row(engine).last_step)
    assert given is not None
    assert smaller is not None
    assert smaller < given


def test_nudges_smaller_from_an_old_button_after_forget_brings_nobody_back(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/habit forget confirm")
    before = snapshot(engine)

    reply = ok(coach, "/nudges smaller")

    assert "no goal" in reply.text
    assert "/goal 1 post" in reply.text
    assert member_row(engine) is None
    assert snapshot(engine) == before


def test_nudges_smaller_in_a_met_week_says_there_is_nothing_to_do(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published Done")
    step_before = member_row(engine).last_step

    reply = ok(coach, "/nudges smaller")

    assert reply.text.startswith("Goal met this week")
    assert member_row(engine).last_step == step_before


def test_nudges_smaller_in_a_rest_week_needs_no_step(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/goal rest")

    reply = ok(coach, "/nudges smaller")

    assert "rest week" in reply.text


# --- /timezone ---------------------------------------------------------------------------------


def test_timezone_shows_the_default_zone_and_local_time(coach: Coach) -> None:
    reply = ok(coach, "/timezone")

    assert "Your time zone is UTC (it's Mon 13:00 there)" in reply.text


def test_timezone_set_stores_the_canonical_name_and_replans(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")

    reply = ok(coach, "/timezone america/new_york")

    assert reply.text == "Time zone set to America/New_York — it's Mon 08:00 there now."
    row = member_row(engine)
    assert row.timezone == "America/New_York"
    assert row.next_nudge_at == datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


# --- /habit ------------------------------------------------------------------------------------


def test_habit_help_lists_every_command(coach: Coach) -> None:
    reply = ok(coach, "/habit help")

    for command in ("/goal", "/published", "/streak", "/nudges", "/timezone", "/habit forget"):
        assert command in reply.text


@pytest.mark.parametrize(
    ("now", "zone", "until"),
    [
        (datetime(2026, 11, 23, 13, 0, tzinfo=UTC), None, date(2026, 12, 7)),
        # Already Tuesday 2 March in Auckland (01:00) while Monday in UTC.
        (datetime(2027, 3, 1, 12, 0, tzinfo=UTC), "Pacific/Auckland", date(2027, 3, 16)),
        # Still New Year's Eve in Los Angeles (19:00) while 1 January in UTC.
        (datetime(2027, 1, 1, 3, 0, tzinfo=UTC), "America/Los_Angeles", date(2027, 1, 14)),
    ],
)
def test_examples_that_name_a_date_are_two_weeks_from_the_members_today(
    coach: Coach, clock: ManualClock, engine: Engine, now: datetime, zone: str | None, until: date
) -> None:
    clock.set(now)
    if zone is not None:
        ok(coach, f"/timezone {zone}")
    example = f"/nudges pause until {until.isoformat()}"
    before = snapshot(engine)

    help_reply = ok(coach, "/habit help")
    unreadable = coach.handle(ANA, "/nudges pause until 2026-13-45")
    past = coach.handle(ANA, "/nudges pause until 2020-01-01")

    assert help_reply.help == HelpCard(pause_until=until)
    assert f" · {example} · " in help_reply.text
    assert not unreadable.ok
    assert unreadable.text.endswith(f"\nExample: {example}")
    assert not past.ok
    assert past.text.endswith(f"\nExample: {example}")
    assert snapshot(engine) == before  # help and refusals store nothing
    ok(coach, example)  # and the example works


def test_a_newcomers_example_date_follows_the_zone_the_adapter_hints(
    coach: Coach, clock: ManualClock, engine: Engine
) -> None:
    clock.set(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))  # Tuesday 2 March in Auckland
    ref = MemberRef.slack("T1", "U1", "kai")

    reply = coach.handle(ref, "/nudges pause until soon", zone_hint="Pacific/Auckland")

    assert reply.text.endswith("\nExample: /nudges pause until 2027-03-16")
    assert member_row(engine, ref) is None


def test_an_example_date_falls_back_to_the_default_zone_when_the_store_is_away(
    clock: ManualClock,
) -> None:
    def store_away() -> Any:
        raise OSError("database unreachable")

    coach = Coach(store_away, clock, default_zone="Pacific/Auckland")  # Tue 24 Nov there

    reply = coach.handle(ANA, "/nudges pause until soon")

    assert not reply.ok
    assert reply.text.endswith("\nExample: /nudges pause until 2026-12-08")


def test_habit_export_is_json_with_everything_stored(coach: Coach) -> None:
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 1 post")
    ok(coach, "/published https://example.com/a First")
    ok(coach, "/published Second")

    reply = ok(coach, "/habit export")

    assert reply.attachment is not None
    data = json.loads(reply.attachment.content)
    assert data["member"]["timezone"] == BERLIN
    assert data["member"]["goal"] == {"target": 1, "label": "post"}
    assert [(p["url"], p["title"]) for p in data["publications"]] == [
        ("https://example.com/a", "First"),
        (None, "Second"),
    ]
    assert [c["target"] for c in data["goal_changes"]] == [1]


def test_habit_export_for_a_stranger_has_nothing(coach: Coach) -> None:
    reply = ok(coach, "/habit export")

    assert reply.attachment is None


def test_habit_forget_asks_for_confirmation_first(coach: Coach, engine: Engine) -> None:
    ok(coach, "/goal 1")
    before = snapshot(engine)

    reply = ok(coach, "/habit forget")

    assert [a.id for a in reply.actions] == [ActionId.FORGET_CONFIRM, ActionId.FORGET_CANCEL]
    assert reply.actions[0].command.typed == "/habit forget confirm"
    assert snapshot(engine) == before


def test_habit_forget_confirm_deletes_every_row_of_that_member_only(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    other = MemberRef.slack("T1", "ana")
    for ref in (ANA, other):
        ok(coach, "/goal 2 post", ref)
        ok(coach, "/published https://example.com/a", ref)
        ok(coach, "/goal rest", ref)
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    outbox.sweep(["console", "slack"])  # both get a check-in row in the delivery log
    ana_id, other_id = member_row(engine, ANA).id, member_row(engine, other).id
    for table in (goal_changes, rest_weeks, publications, deliveries):
        assert rows_of(engine, table, ana_id)
    others_before = {t.name: rows_of(engine, t, other_id) for t in (goal_changes, publications)}

    reply = ok(coach, "/habit forget confirm")

    assert "deleted" in reply.text
    assert member_row(engine, ANA) is None
    for table in (goal_changes, rest_weeks, publications, deliveries):
        assert rows_of(engine, table, ana_id) == []
        assert rows_of(engine, table, other_id) != []
    assert member_row(engine, other) is not None
    assert {t.name: rows_of(engine, t, other_id) for t in (goal_changes, publications)} == (
        others_before
    )


def test_habit_forget_for_a_stranger_says_there_is_nothing(coach: Coach, engine: Engine) -> None:
    reply = ok(coach, "/habit forget confirm")

    assert "nothing to delete" in reply.text
    assert member_row(engine) is None


# --- bad input ---------------------------------------------------------------------------------

BAD_INPUT = [
    "/goal -3",
    "/goal 999",
    "/goal rest 40",
    "/goal week tuesday",
    "/timezone Mars/Olympus",
    "/nudges someday at 25:99",
    "/nudges pause forever",
    "/published htp:/not a link",
    "/habit delete",
    "/frobnicate",
]


@pytest.mark.parametrize("text", BAD_INPUT)
def test_bad_input_explains_with_an_example_and_changes_nothing(
    coach: Coach, engine: Engine, text: str
) -> None:
    ok(coach, "/timezone Europe/Berlin")
    ok(coach, "/goal 1 post")
    ok(coach, "/published https://example.com/a")
    before = snapshot(engine)

    reply = coach.handle(ANA, text)

    assert not reply.ok
    assert "Example:" in reply.text
    assert snapshot(engine) == before


@pytest.mark.parametrize("text", BAD_INPUT)
def test_bad_input_from_a_stranger_creates_no_member(
    coach: Coach, engine: Engine, text: str
) -> None:
    reply = coach.handle(MemberRef.discord(42), text)

    assert not reply.ok
    assert count_rows(engine, members) == 0


# --- nothing half stored -----------------------------------------------------------------------


def test_failure_after_the_first_write_stores_nothing(
    coach: Coach, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, change: object) -> None:
        raise RuntimeError("disk on fire")

    # The member row is inserted (and flushed) before the goal change fails.
    monkeypatch.setattr(repositories.SqlHistoryRepository, "add_goal_change", broken)

    reply = coach.handle(ANA, "/goal 1 post")

    assert reply == OOPS_REPLY
    assert "Traceback" not in reply.text
    assert count_rows(engine, members) == 0


def test_failure_after_a_publication_is_written_rolls_it_back(
    coach: Coach, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(coach, "/goal 1 post")
    before = snapshot(engine)
    original = repositories.SqlPublicationRepository.add

    def add_then_fail(self: repositories.SqlPublicationRepository, publication: Any) -> None:
        original(self, publication)
        raise RuntimeError("connection reset")

    monkeypatch.setattr(repositories.SqlPublicationRepository, "add", add_then_fail)

    reply = coach.handle(ANA, "/published https://example.com/a")

    assert not reply.ok
    assert reply.text == OOPS_REPLY.text
    assert snapshot(engine) == before


def test_failure_in_forget_deletes_nothing(
    coach: Coach, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(coach, "/goal 1 post")
    ok(coach, "/published https://example.com/a")
    before = snapshot(engine)
    session_delete = repositories.Session.delete

    def delete_then_fail(self: Any, instance: object) -> None:
        session_delete(self, instance)
        raise RuntimeError("lost the connection")

    monkeypatch.setattr(repositories.Session, "delete", delete_then_fail)

    reply = coach.handle(ANA, "/habit forget confirm")

    assert reply.text == OOPS_REPLY.text
    assert snapshot(engine) == before


# --- weeks and streaks as time passes ----------------------------------------------------------


def test_publication_at_2330_local_on_the_last_day_counts_for_that_week(
    coach: Coach, clock: ManualClock
) -> None:
    ok(coach, "/timezone America/Los_Angeles")
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 11, 30, 7, 30, tzinfo=UTC))  # Sunday 23:30 in Los Angeles

    ok(coach, "/published Just in time")
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # Monday 01:00 there: a new week

    streak = streak_of(coach)
    assert [(w.start, w.count, w.state) for w in streak.recent] == [
        (date(2026, 11, 23), 1, WeekState.MET),
        (date(2026, 11, 30), 0, WeekState.IN_PROGRESS),
    ]
    assert streak.current == 1


def test_sunday_start_week_counts_saturday_night_in_the_week_that_began_on_sunday(
    coach: Coach, clock: ManualClock
) -> None:
    ok(coach, "/timezone Asia/Tokyo")
    ok(coach, "/goal 1")
    ok(coach, "/goal week sunday")
    clock.set(datetime(2026, 11, 28, 14, 30, tzinfo=UTC))  # Saturday 23:30 in Tokyo

    ok(coach, "/published")
    clock.set(datetime(2026, 11, 28, 15, 30, tzinfo=UTC))  # Sunday 00:30 there

    streak = streak_of(coach)
    assert [(w.start, w.count, w.state) for w in streak.recent] == [
        (date(2026, 11, 22), 1, WeekState.MET),
        (date(2026, 11, 29), 0, WeekState.IN_PROGRESS),
    ]


def test_rest_week_neither_breaks_nor_extends_the_streak(coach: Coach, clock: ManualClock) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published week one")
    clock.advance(timedelta(days=7))
    ok(coach, "/goal rest")
    clock.advance(timedelta(days=7))

    assert streak_of(coach).current == 1  # the rest week did not break it
    ok(coach, "/published week three")

    streak = streak_of(coach)
    assert [w.state for w in streak.recent] == [WeekState.MET, WeekState.REST, WeekState.MET]
    assert (streak.current, streak.longest) == (2, 2)


def test_missed_week_breaks_the_streak(coach: Coach, clock: ManualClock) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published week one")
    clock.advance(timedelta(days=14))
    ok(coach, "/published week three")

    streak = streak_of(coach)
    assert [w.state for w in streak.recent] == [WeekState.MET, WeekState.MISSED, WeekState.MET]
    assert (streak.current, streak.longest) == (1, 1)


def test_goal_raised_mid_week_applies_to_the_whole_week(coach: Coach, clock: ManualClock) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published first")
    clock.advance(timedelta(days=3))

    reply = ok(coach, "/goal 2")

    assert "1 of 2 this week" in reply.text
    clock.advance(timedelta(days=4))  # the week closed with one of two
    assert streak_of(coach).recent[0].state is WeekState.MISSED


def test_goal_lowered_mid_week_can_meet_the_week(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 3")
    ok(coach, "/published first")
    clock.advance(timedelta(days=3))

    ok(coach, "/goal 1")

    assert streak_of(coach).this_week.state is WeekState.MET
    # Met: no more nudges this week; the next one is next week's Thursday.
    assert member_row(engine).next_nudge_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_undo_after_meeting_the_goal_reopens_the_week_and_its_nudges(
    coach: Coach, engine: Engine
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/published")
    assert member_row(engine).next_nudge_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

    ok(coach, "/published undo")

    assert streak_of(coach).this_week.state is WeekState.IN_PROGRESS
    assert member_row(engine).next_nudge_at == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_time_zone_change_mid_week_keeps_publications_in_their_week(
    coach: Coach, clock: ManualClock
) -> None:
    ok(coach, "/timezone America/Los_Angeles")
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 11, 30, 7, 30, tzinfo=UTC))  # Sunday 23:30 in Los Angeles
    ok(coach, "/published")

    ok(coach, "/timezone Asia/Tokyo")  # already Monday 16:30 there: a new week

    streak = streak_of(coach)
    assert [(w.start, w.count, w.state) for w in streak.recent] == [
        (date(2026, 11, 23), 1, WeekState.MET),
        (date(2026, 11, 30), 0, WeekState.IN_PROGRESS),
    ]


def test_time_zone_change_replans_the_next_nudge_in_the_new_zone(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))

    ok(coach, "/timezone Asia/Tokyo")

    assert member_row(engine).next_nudge_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def test_week_start_change_during_a_rest_keeps_coach_and_streak_in_agreement(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/goal rest")  # the Monday week of 23 Nov

    ok(coach, "/goal week sunday")  # ...which is now the Sunday week of 22 Nov

    row = member_row(engine)
    assert row.rest_until == date(2026, 11, 29)
    # Nudges resume the week after (Sunday belongs to the check-in, so Monday).
    assert row.next_nudge_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # Tuesday of the Sunday week of 29 Nov
    assert "rest week" not in ok(coach, "/goal").text
    assert streak_of(coach).this_week.state is WeekState.IN_PROGRESS


def test_week_start_change_back_to_monday_during_a_rest(
    coach: Coach, engine: Engine, clock: ManualClock
) -> None:
    ok(coach, "/goal 1")
    ok(coach, "/goal week sunday")
    clock.set(datetime(2026, 11, 29, 10, 0, tzinfo=UTC))  # Sunday: a new Sunday week
    ok(coach, "/goal rest")

    ok(coach, "/goal week monday")

    # The rest covers the Monday week holding that Sunday, and not the week after it.
    assert member_row(engine).rest_until == date(2026, 11, 30)
    assert streak_of(coach).this_week.state is WeekState.REST


# --- isolation ---------------------------------------------------------------------------------


def test_same_user_id_on_other_workspaces_and_platforms_are_separate_members(
    coach: Coach, engine: Engine
) -> None:
    t1, t2, discord = (
        MemberRef.slack("T1", "U1"),
        MemberRef.slack("T2", "U1"),
        MemberRef.discord("U1"),
    )
    ok(coach, "/goal 3 newsletters", t1)
    ok(coach, "/published https://example.com/a", t1)
    ok(coach, "/goal 1 video", t2)

    assert "no weekly goal" in ok(coach, "/goal", discord).text
    assert streak_of(coach, t2).total_publications == 0
    assert streak_of(coach, t1).total_publications == 1
    # The same link is new for the other workspace's member.
    assert "Logged" in ok(coach, "/published https://example.com/a", t2).text
    rows = {(r.platform, r.workspace): r.goal_target for r in _all_members(engine)}
    assert rows == {("slack", "T1"): 3, ("slack", "T2"): 1}


def test_export_contains_only_the_asking_members_data(coach: Coach) -> None:
    t1, t2 = MemberRef.slack("T1", "U1"), MemberRef.slack("T2", "U1")
    ok(coach, "/published https://example.com/mine", t1)
    ok(coach, "/published https://example.com/theirs", t2)

    reply = ok(coach, "/habit export", t1)

    assert reply.attachment is not None
    data = json.loads(reply.attachment.content)
    assert data["member"]["workspace"] == "T1"
    assert [p["url"] for p in data["publications"]] == ["https://example.com/mine"]


def _all_members(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(members)))


def test_moving_west_right_after_setting_a_goal_keeps_one_answer_for_this_week(
    coach: Coach, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday in UTC, Sunday in Los Angeles
    ok(coach, "/goal 1 post")
    ok(coach, "/timezone America/Los_Angeles")

    logged = ok(coach, "/published First")
    streak = ok(coach, "/streak")

    assert "goal met" in logged.text
    assert streak.streak is not None
    assert streak.streak.this_week.target == 1
    assert streak.streak.this_week.state is WeekState.MET
    assert streak.streak.current == 1


def test_dates_in_another_year_show_the_year(coach: Coach) -> None:
    ok(coach, "/goal 1")

    reply = ok(coach, "/nudges pause 365 days")

    assert "until Tue 23 Nov 2027" in reply.text
    assert "Paused until Tue 23 Nov 2027" in ok(coach, "/nudges").text


# --- the streak card's words -------------------------------------------------------------------


def card_with(*states: WeekState) -> str:
    weeks = tuple(
        WeekSummary(date(2026, 11, 2) + timedelta(weeks=i), 1, 1, state)
        for i, state in enumerate(states)
    )
    streak = Streak(1, 2, 5, weeks[-1], weeks, "3 days left")
    return render_body((StreakCard(streak, "post"),), PLAIN)


def test_the_streak_legend_explains_every_mark_it_shows_and_no_other() -> None:
    card = card_with(WeekState.OFF, WeekState.MET, WeekState.MISSED, WeekState.IN_PROGRESS)
    legend = card.rsplit("(", 1)[1]

    assert "· no goal" in legend
    assert "✅ met" in legend
    assert "▫️ missed" in legend
    assert "⏳ this week" in legend
    assert "rest" not in legend  # no rest week shown
    assert card_with(WeekState.MET, WeekState.REST).endswith("(✅ met 💤 rest)")


def test_a_rest_week_reads_kindly_with_or_without_publications(coach: Coach) -> None:
    ok(coach, "/goal 1 post")
    ok(coach, "/goal rest")

    assert "rest week — nothing to chase, enjoy the break." in ok(coach, "/goal").text
    ok(coach, "/published https://example.com/a")
    assert "rest week, and you still published 1 post" in ok(coach, "/goal").text
    assert "anyway" not in ok(coach, "/goal").text


def test_every_command_has_exactly_one_use_case_and_a_metrics_name() -> None:
    tables = (goals.USE_CASES, publication_cases.USE_CASES, nudges.USE_CASES, data_rights.USE_CASES)
    commands = set(get_args(c.Command))
    assert set(USE_CASES) == commands
    assert sum(len(table) for table in tables) + 1 == len(USE_CASES)  # + help
    assert set(COMMAND_KINDS) == commands
