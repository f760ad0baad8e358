"""The last day's heads-up end to end: planned by the sweep in the member's zone, sent once
through the Dispatcher, and quiet whenever there is nothing worth saying."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from habits.coach import Coach
from habits.delivery import Dispatcher
from habits.messages import PLAIN, ActionId, render
from habits.model import DeliveryStatus, ManualClock, MemberRef
from habits.outbox import Outbox
from storage.database import make_engine
from storage.tables import members
from storage.uow import SqlUnitOfWorkFactory
from tests.habits.test_delivery import (
    ANA,
    PLATFORMS,
    THU_0900_BERLIN,
    Driver,
    FakeSender,
    join,
    log_rows,
    member_row,
    run_sync,
)
from tests.storage.rows import due_member_row
from tests.storage.test_concurrency import run_replicas

SAT_0900_BERLIN = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
SUN_0900_BERLIN = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
WEEK_END_BERLIN = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # Monday 00:00 in Berlin
HALF_HOUR = timedelta(minutes=30)


@pytest.fixture
def sender(clock: ManualClock) -> FakeSender:
    return FakeSender(clock)


@pytest.fixture
def driver(clock: ManualClock, outbox: Outbox, sender: FakeSender) -> Iterator[Driver]:
    loop = asyncio.new_event_loop()
    dispatcher = Dispatcher(outbox, dict.fromkeys(PLATFORMS, sender), run_sync)
    yield Driver(clock, dispatcher, loop)
    loop.close()


def sent(sender: FakeSender, who: str = "ana") -> list[tuple[datetime, str]]:
    return [(s.at, s.kind) for s in sender.of(who)]


def logged(engine: Engine, who: str = "ana") -> list[tuple[str, datetime, str]]:
    return [(r.kind, r.scheduled_for, r.status) for r in log_rows(engine) if r.user_id == who]


def test_the_heads_up_arrives_once_at_nine_local_on_the_weeks_last_day(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")

    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)

    assert sent(sender) == [(THU_0900_BERLIN, "nudge"), (SUN_0900_BERLIN, "headsup")]
    heads_up = sender.of("ana")[-1].notice
    assert render(heads_up.title, PLAIN) == "Heads-up: last day of your week"
    assert heads_up.text == (
        "1 post to go for this week's goal (0 of 1 so far) — today is the last day.\n"
        "The smallest step that still counts: Publish the short version — done beats perfect.\n"
        "No streak freeze banked yet, so this week counts."
    )
    # Snoozing "until tomorrow" would land in the next week: not offered.
    assert [a.id for a in heads_up.actions] == [
        ActionId.PUBLISHED,
        ActionId.SNOOZE_LATER,
        ActionId.SMALLER_STEP,
    ]
    assert ("headsup", SUN_0900_BERLIN, "sent") in logged(engine)
    assert member_row(engine, "ana").last_step == "ship-short"


def test_it_names_the_freezes_banked_and_says_nothing_of_them_when_they_are_off(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 10, 26, 12, 0, tzinfo=UTC))  # four weeks before this one
    join(coach, "ana", "/goal 1 post")
    join(coach, "bo", "/goal 1 post", "/goal freezes off")
    for week in range(4):  # four met weeks in a row earn one freeze
        clock.set(datetime(2026, 10, 27, 12, 0, tzinfo=UTC) + timedelta(weeks=week))
        for who in ("ana", "bo"):
            assert coach.handle(MemberRef.console(who), "/published").ok
    clock.set(SUN_0900_BERLIN - HALF_HOUR)

    driver.run_until(SUN_0900_BERLIN + HALF_HOUR, HALF_HOUR)

    ana, bo = sender.of("ana")[-1].notice, sender.of("bo")[-1].notice
    assert (ana.kind, bo.kind) == ("headsup", "headsup")
    last_line = "❄️ 1 streak freeze banked: if this week slips, it keeps your streak."
    assert ana.text.splitlines()[-1] == last_line
    assert len(bo.text.splitlines()) == 2  # what's left and the step


def test_it_says_whats_left_of_a_bigger_goal(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 3 newsletters", "/published")
    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)
    heads_up = sender.of("ana")[-1].notice
    assert heads_up.kind == "headsup"
    assert heads_up.text.startswith("2 newsletters to go for this week's goal (1 of 3 so far)")


def test_a_last_day_that_is_a_nudge_day_brings_one_message_the_heads_up(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post", "/nudges thu sun at 9:00")

    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)

    assert sent(sender) == [(THU_0900_BERLIN, "nudge"), (SUN_0900_BERLIN, "headsup")]
    sunday = [row for row in logged(engine) if row[1].date() == SUN_0900_BERLIN.date()]
    assert sunday == [("headsup", SUN_0900_BERLIN, "sent")]


def test_no_heads_up_once_the_goal_is_met(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.run_until(SAT_0900_BERLIN)
    assert coach.handle(ANA, "/published").ok

    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)

    assert sent(sender) == [(THU_0900_BERLIN, "nudge")]


def test_a_heads_up_logged_before_the_goal_was_met_is_skipped_not_sent(
    coach: Coach,
    outbox: Outbox,
    driver: Driver,
    sender: FakeSender,
    engine: Engine,
    clock: ManualClock,
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.run_until(SUN_0900_BERLIN - HALF_HOUR)
    sender.sent.clear()
    clock.set(SUN_0900_BERLIN)
    assert outbox.sweep(list(PLATFORMS)) == 1  # logged, not yet sent
    assert coach.handle(ANA, "/published").ok

    driver.tick()

    assert sender.sent == []
    assert ("headsup", SUN_0900_BERLIN, "skipped") in logged(engine)


def test_rest_pause_nudges_off_and_heads_up_off_bring_no_heads_up(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "resting", "/goal 1 post", "/goal rest")
    join(coach, "paused", "/goal 1 post", "/nudges pause 1w")
    join(coach, "quiet", "/goal 1 post", "/nudges off")
    join(coach, "alone", "/goal 1 post", "/nudges heads-up off")
    join(coach, "sundays", "/goal 1 post", "/nudges thu sun at 9:00", "/nudges heads-up off")
    join(coach, "busy", "/goal 1 post")

    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)

    assert [kind for s in sender.sent if (kind := s.kind) == "headsup"] == ["headsup"]
    assert sent(sender, "busy")[-1] == (SUN_0900_BERLIN, "headsup")
    for who in ("resting", "paused", "quiet"):
        assert sent(sender, who) == []
    # Turning the heads-up off leaves every other nudge as it was, a Sunday one included.
    assert sent(sender, "alone") == [(THU_0900_BERLIN, "nudge")]
    assert sent(sender, "sundays") == [(THU_0900_BERLIN, "nudge"), (SUN_0900_BERLIN, "nudge")]


def test_turning_it_back_on_plans_it_again(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post", "/nudges heads-up off")
    driver.run_until(THU_0900_BERLIN + HALF_HOUR, HALF_HOUR)
    assert member_row(engine, "ana").next_nudge_at != SUN_0900_BERLIN

    reply = coach.handle(ANA, "/nudges heads-up on")

    assert reply.ok
    assert reply.text.startswith("The heads-up is on")
    assert member_row(engine, "ana").next_nudge_at == SUN_0900_BERLIN
    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)
    assert sent(sender)[-1] == (SUN_0900_BERLIN, "headsup")


def test_a_snooze_before_it_moves_the_heads_up_and_it_still_comes_once(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.run_until(SUN_0900_BERLIN - 2 * timedelta(hours=1))  # Sunday 07:00 in Berlin
    sender.sent.clear()

    reply = coach.handle(ANA, "/nudges snooze later")

    assert reply.text == "Snoozed — I'll nudge you again Sun 29 Nov 10:00."
    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)
    assert sent(sender) == [(SUN_0900_BERLIN + timedelta(hours=1), "headsup")]


def test_snoozing_the_heads_up_brings_it_back_once_at_the_members_asking(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.run_until(SUN_0900_BERLIN)
    assert sent(sender)[-1] == (SUN_0900_BERLIN, "headsup")

    assert coach.handle(ANA, "/nudges snooze later").ok

    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)
    later = SUN_0900_BERLIN + timedelta(hours=3)
    assert sent(sender)[-2:] == [(SUN_0900_BERLIN, "headsup"), (later, "headsup")]


def test_sunday_weeks_get_it_on_saturday_and_open_with_the_check_in(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 1 post", "/goal week sunday")

    driver.run_until(WEEK_END_BERLIN, HALF_HOUR)

    assert sent(sender) == [
        (THU_0900_BERLIN, "nudge"),
        (SAT_0900_BERLIN, "headsup"),
        (SUN_0900_BERLIN, "checkin"),
    ]


def test_the_heads_up_keeps_nine_local_on_both_sides_of_dst_changes(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    # Berlin springs forward on Sunday 29 March and falls back on Sunday 25 October 2026.
    clock.set(datetime(2026, 3, 16, 12, 0, tzinfo=UTC))
    join(coach, "ana", "/goal 1 post")
    driver.run_until(datetime(2026, 4, 6, 0, 0, tzinfo=UTC), HALF_HOUR)
    clock.set(datetime(2026, 10, 12, 12, 0, tzinfo=UTC))
    assert coach.handle(ANA, "/goal 1 post").ok  # replans from here
    driver.run_until(datetime(2026, 11, 2, 0, 0, tzinfo=UTC), HALF_HOUR)

    heads_ups = [at for at, kind in sent(sender) if kind == "headsup"]
    assert heads_ups == [
        datetime(2026, 3, 22, 8, 0, tzinfo=UTC),  # CET
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),  # CEST since 02:00 that morning
        datetime(2026, 4, 5, 7, 0, tzinfo=UTC),
        datetime(2026, 10, 18, 7, 0, tzinfo=UTC),  # CEST
        datetime(2026, 10, 25, 8, 0, tzinfo=UTC),  # CET since 03:00 that morning
        datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
    ]


def test_a_heads_up_held_up_past_the_weeks_end_is_skipped(
    coach: Coach, outbox: Outbox, clock: ManualClock, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    clock.set(SUN_0900_BERLIN)
    outbox.sweep(list(PLATFORMS))
    [delivery] = outbox.claim(list(PLATFORMS), "me", timedelta(hours=1))
    assert delivery.kind == "headsup"

    clock.set(WEEK_END_BERLIN + timedelta(hours=1))  # Monday 01:00 in Berlin: a new week
    assert outbox.prepare(delivery) is DeliveryStatus.SKIPPED


def test_two_replicas_and_repeated_sweeps_send_each_heads_up_exactly_once(
    db_url: str, engine: Engine
) -> None:
    sunday_nine = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    with engine.begin() as connection:
        for i in range(30):
            connection.execute(insert(members), due_member_row(f"u{i}", sunday_nine))

    senders = run_replicas(db_url, 2, at=sunday_nine)

    delivered = Counter(item for sender in senders for item in sender.sent)
    assert delivered == Counter({(f"u{i}", "headsup"): 1 for i in range(30)})
    rows = log_rows(engine)
    assert Counter((r.kind, r.status) for r in rows) == Counter({("headsup", "sent"): 30})
    check = make_engine(db_url, pool_size=1)  # a restarted process sweeps again: nothing new
    try:
        later = ManualClock(sunday_nine + timedelta(minutes=5))
        restarted = Outbox(SqlUnitOfWorkFactory(check), later)
        assert restarted.sweep(list(PLATFORMS)) == 0
    finally:
        check.dispose()
    assert len(log_rows(engine)) == 30
