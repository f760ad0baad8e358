"""Sweep and delivery end to end: the Dispatcher, a hand-written Sender, a real database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from habits import coaching
from habits.coach import Coach
from habits.delivery import DeliverySettings, Dispatcher, Outcome, SendResult
from habits.messages import ActionId, Notice
from habits.model import DeliveryStatus, ManualClock, MemberRef
from habits.outbox import Outbox, SweepSettings
from storage.tables import deliveries, members

ANA = MemberRef.console("ana")
PLATFORMS = ("console", "discord", "slack")
THU_0900_BERLIN = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
MON_0900_BERLIN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sent:
    at: datetime
    notice: Notice

    @property
    def who(self) -> str:
        return self.notice.member.user_id

    @property
    def kind(self) -> str:
        return self.notice.kind


class FakeSender:
    """Records every notice with the time it went out; answers with queued outcomes."""

    def __init__(self, clock: ManualClock):
        self.clock = clock
        self.sent: list[Sent] = []
        self.outcomes: list[SendResult | Exception] = []

    async def send(self, notice: Notice) -> SendResult:
        self.sent.append(Sent(self.clock.now(), notice))
        if not self.outcomes:
            return SendResult(Outcome.SENT)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def of(self, who: str) -> list[Sent]:
        return [s for s in self.sent if s.who == who]


async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


@pytest.fixture
def sender(clock: ManualClock) -> FakeSender:
    return FakeSender(clock)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def dispatcher(outbox: Outbox, sender: FakeSender) -> Dispatcher:
    return Dispatcher(outbox, dict.fromkeys(PLATFORMS, sender), run_sync)


class Driver:
    """Moves the clock and ticks the dispatcher the way the scheduler would."""

    def __init__(self, clock: ManualClock, dispatcher: Dispatcher, loop: asyncio.AbstractEventLoop):
        self.clock = clock
        self.dispatcher = dispatcher
        self.loop = loop

    def tick(self) -> int:
        return self.loop.run_until_complete(self.dispatcher.tick())

    def at(self, moment: datetime) -> int:
        self.clock.set(moment)
        return self.tick()

    def run_until(self, end: datetime, step: timedelta = timedelta(hours=1)) -> None:
        while self.clock.now() + step <= end:
            self.clock.advance(step)
            self.tick()


@pytest.fixture
def driver(clock: ManualClock, dispatcher: Dispatcher, loop: asyncio.AbstractEventLoop) -> Driver:
    return Driver(clock, dispatcher, loop)


def join(coach: Coach, name: str, *commands: str, zone: str = "Europe/Berlin") -> MemberRef:
    ref = MemberRef.console(name)
    for text in (f"/timezone {zone}", *commands):
        reply = coach.handle(ref, text)
        assert reply.ok, reply.text
    return ref


def log_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(deliveries, members.c.user_id)
                .join(members, members.c.id == deliveries.c.member_id)
                .order_by(deliveries.c.id)
            )
        )


def member_row(engine: Engine, name: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(members).where(members.c.user_id == name)).one()


# --- nudges ------------------------------------------------------------------------------------


def test_nudge_goes_out_at_0900_local_exactly_once(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")

    assert driver.at(THU_0900_BERLIN - timedelta(minutes=1)) == 0
    assert driver.at(THU_0900_BERLIN) == 1
    for _ in range(3):
        driver.tick()
    driver.at(THU_0900_BERLIN + timedelta(minutes=1))

    (sent,) = sender.sent
    assert (sent.at, sent.kind) == (THU_0900_BERLIN, "nudge")
    assert "0 of 1 this week" in sent.notice.text
    assert "Tiny next step:" in sent.notice.text
    assert [a.id for a in sent.notice.actions] == [
        ActionId.PUBLISHED,
        ActionId.SNOOZE_LATER,
        ActionId.SNOOZE_TOMORROW,
        ActionId.SMALLER_STEP,
    ]
    (row,) = log_rows(engine)
    assert (row.kind, row.scheduled_for, row.status) == ("nudge", THU_0900_BERLIN, "sent")


def test_a_tick_that_starts_after_a_stop_touches_nothing(
    coach: Coach, dispatcher: Dispatcher, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    # A tick queued just before a shutdown runs after it, when the database threads may be gone.
    join(coach, "ana", "/goal 1 post")
    dispatcher.stop()

    assert driver.at(THU_0900_BERLIN) == 0
    assert sender.sent == []
    assert log_rows(engine) == []  # not even swept: the next process does it


def test_nudge_follows_the_members_zone_across_daylight_saving(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    clock.set(datetime(2027, 3, 22, 12, 0, tzinfo=UTC))  # a Monday, Berlin still on CET
    join(coach, "ana", "/goal 1 post")

    driver.run_until(datetime(2027, 4, 2, 0, 0, tzinfo=UTC))

    nudges = [s.at for s in sender.sent if s.kind == "nudge"]
    # 09:00 in Berlin both before and after the clocks went forward on 28 March.
    assert nudges == [
        datetime(2027, 3, 25, 8, 0, tzinfo=UTC),
        datetime(2027, 4, 1, 7, 0, tzinfo=UTC),
    ]


def test_nudge_at_an_ambiguous_local_time_fires_once(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 10, 24, 12, 0, tzinfo=UTC))  # Berlin falls back on Sunday the 25th
    join(coach, "ana", "/goal 1 post", "/nudges daily at 2:30")

    driver.run_until(datetime(2026, 10, 25, 6, 0, tzinfo=UTC), step=timedelta(minutes=15))

    # 02:30 happens twice that night; the nudge goes out at the first one only.
    assert [s.at for s in sender.sent] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


def test_nudge_at_a_skipped_local_time_fires_at_the_first_valid_minute(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    clock.set(datetime(2027, 3, 27, 12, 0, tzinfo=UTC))  # Berlin springs forward on the 28th
    join(coach, "ana", "/goal 1 post", "/nudges daily at 2:30")

    driver.run_until(datetime(2027, 3, 28, 6, 0, tzinfo=UTC), step=timedelta(minutes=15))

    # 02:30 does not exist that night; 03:00 CEST (01:00 UTC) is the first minute after it.
    assert [s.at for s in sender.sent] == [datetime(2027, 3, 28, 1, 0, tzinfo=UTC)]


def test_nudges_stop_once_the_goal_is_met_and_resume_next_week(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.at(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert coach.handle(ANA, "/published").ok

    driver.run_until(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))

    assert [(s.at, s.kind) for s in sender.sent] == [
        (MON_0900_BERLIN, "checkin"),
        (datetime(2026, 12, 3, 8, 0, tzinfo=UTC), "nudge"),
    ]


def test_the_next_nudge_brings_a_regular_step_and_smaller_starts_again_below_it(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    for _ in range(5):  # Monday: down the ladder to its bottom
        assert coach.handle(ANA, "/nudges smaller").ok
    assert member_row(engine, "ana").last_step == "first-line"

    driver.at(THU_0900_BERLIN)
    (nudge,) = sender.sent
    given = member_row(engine, "ana").last_step
    smaller = coach.handle(ANA, "/nudges smaller")

    assert given != "first-line"  # a regular-sized step again
    shown = {step.id: step.text for step in coaching.STEPS[coaching.Phase.EARLY]}
    assert f"Tiny next step: {shown[given].format(label='post')}" in nudge.notice.text
    assert smaller.text.startswith("Even smaller: ")
    was, now = (coaching.step_minutes(s) for s in (given, member_row(engine, "ana").last_step))
    assert was is not None
    assert now is not None
    assert now < was


def test_snoozed_nudge_comes_back_later(
    coach: Coach, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.at(THU_0900_BERLIN)
    assert coach.handle(ANA, "/nudges snooze later").ok

    driver.run_until(THU_0900_BERLIN + timedelta(hours=4), step=timedelta(minutes=30))

    assert [s.at for s in sender.sent] == [THU_0900_BERLIN, THU_0900_BERLIN + timedelta(hours=3)]


def test_nudge_is_skipped_when_the_goal_was_met_after_the_sweep(
    coach: Coach, outbox: Outbox, engine: Engine, sender: FakeSender, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    outbox.sweep(list(PLATFORMS))
    assert coach.handle(ANA, "/published").ok  # before the sender got to it

    (delivery,) = outbox.claim(list(PLATFORMS), "me", timedelta(seconds=60))
    assert outbox.prepare(delivery) is DeliveryStatus.SKIPPED

    (row,) = log_rows(engine)
    assert (row.status, row.detail) == ("skipped", "nothing to say")


def test_only_platforms_with_a_sender_are_swept(
    coach: Coach,
    outbox: Outbox,
    sender: FakeSender,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
) -> None:
    join(coach, "ana", "/goal 1 post")
    discord = MemberRef.discord(7)
    for text in ("/timezone Europe/Berlin", "/goal 1 post"):
        assert coach.handle(discord, text).ok
    only_discord = Dispatcher(outbox, {"discord": sender}, run_sync)

    clock.set(THU_0900_BERLIN)
    loop.run_until_complete(only_discord.tick())

    assert [s.notice.member for s in sender.sent] == [discord]


# --- the weekly check-in -----------------------------------------------------------------------


def test_checkin_after_a_met_week_says_met_and_opens_the_new_week(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 1 post", "/published")

    driver.run_until(MON_0900_BERLIN + timedelta(hours=1))

    (checkin,) = sender.sent
    assert (checkin.at, checkin.kind) == (MON_0900_BERLIN, "checkin")
    assert "Last week: 1 of 1 — goal met! Streak: 1 week." in checkin.notice.text
    assert "First tiny step:" in checkin.notice.text


def test_checkin_after_a_missed_week_says_missed_without_shaming(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 2 posts")

    driver.run_until(MON_0900_BERLIN + timedelta(hours=1))

    checkin = sender.sent[-1]
    assert checkin.kind == "checkin"
    assert "Last week: 0 of 2." in checkin.notice.text
    assert "smaller goal" not in checkin.notice.text
    assert ActionId.SMALLER_GOAL not in [a.id for a in checkin.notice.actions]


def test_checkin_offers_a_smaller_goal_after_two_missed_weeks(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 2 posts")

    driver.run_until(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))

    checkins = [s for s in sender.sent if s.kind == "checkin"]
    assert [r.at for r in checkins] == [MON_0900_BERLIN, MON_0900_BERLIN + timedelta(days=7)]
    assert "smaller goal" not in checkins[0].notice.text
    last = checkins[1].notice
    assert "Would a smaller goal help? Try 1 post a week." in last.text
    offer = next(a for a in last.actions if a.id is ActionId.SMALLER_GOAL)
    assert offer.command.typed == "/goal 1"
    assert coach.handle(ANA, offer.command.typed).ok


def test_checkin_for_a_goal_of_one_suggests_an_even_smaller_step(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 1 post")

    driver.run_until(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))

    last = [s for s in sender.sent if s.kind == "checkin"][-1].notice
    assert "a 100-word post counts" in last.text


def test_snoozing_into_the_weekly_check_in_sends_one_message_not_two(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post", "/nudges thu sun at 9:00")
    driver.at(datetime(2026, 11, 29, 8, 0, tzinfo=UTC))  # Sunday's nudge, 09:00 in Berlin
    driver.at(datetime(2026, 11, 29, 19, 0, tzinfo=UTC))  # that evening
    assert coach.handle(ANA, "/nudges snooze tomorrow").ok
    assert member_row(engine, "ana").next_nudge_at == MON_0900_BERLIN  # the check-in's moment
    sender.sent.clear()

    driver.run_until(MON_0900_BERLIN + timedelta(hours=2))

    assert [(s.at, s.kind) for s in sender.sent] == [(MON_0900_BERLIN, "checkin")]
    (nudge,) = [r for r in log_rows(engine) if r.kind == "nudge" and r.scheduled_for.day == 30]
    assert nudge.status == "skipped"


# --- who gets nothing --------------------------------------------------------------------------


def test_paused_resting_and_goal_off_members_get_no_nudges(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "paused", "/goal 1 post", "/nudges pause 2w")
    join(coach, "resting", "/goal 1 post", "/goal rest 2")
    join(coach, "off", "/goal 1 post", "/goal off")
    join(coach, "quiet", "/goal 1 post", "/nudges off")
    join(coach, "busy", "/goal 1 post")

    driver.run_until(datetime(2026, 12, 6, 23, 0, tzinfo=UTC))

    kinds = ["nudge", "headsup", "checkin", "nudge", "headsup"]
    assert [s.kind for s in sender.of("busy")] == kinds
    assert sender.of("off") == []
    assert sender.of("resting") == []  # no "welcome back" while the rest goes on
    for name in ("paused", "quiet"):
        # The weekly check-in still comes, without a next step to take.
        assert [s.kind for s in sender.of(name)] == ["checkin"]
        assert "step" not in sender.of(name)[0].notice.text


def test_rest_ends_with_a_welcome_back(coach: Coach, driver: Driver, sender: FakeSender) -> None:
    join(coach, "resting", "/goal 1 post", "/goal rest 2")

    driver.run_until(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))

    (checkin,) = sender.sent
    assert (checkin.at, checkin.kind) == (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), "checkin")
    assert "Welcome back from your rest week." in checkin.notice.text
    assert "First tiny step:" in checkin.notice.text


# --- downtime ----------------------------------------------------------------------------------


def test_after_downtime_each_member_gets_at_most_one_catch_up_and_stale_ones_are_skipped(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    daily = [join(coach, f"daily{i}", "/goal 1 post", "/nudges daily at 9:00") for i in range(5)]
    twice = [join(coach, f"twice{i}", "/goal 1 post") for i in range(5)]

    # Down from Monday afternoon to Friday 10:30 in Berlin.
    driver.at(datetime(2026, 11, 27, 9, 30, tzinfo=UTC))
    for _ in range(3):
        driver.tick()

    # Friday's 09:00 nudge is 90 minutes late: one catch-up for the daily members...
    for ref in daily:
        (catch_up,) = sender.of(ref.user_id)
        assert catch_up.kind == "nudge"
    # ...and nothing for those whose last nudge (Thursday) has long passed.
    for ref in twice:
        assert sender.of(ref.user_id) == []
    skipped = {(r.user_id, r.scheduled_for) for r in log_rows(engine) if r.status == "skipped"}
    assert skipped == {(r.user_id, datetime(2026, 11, 24, 8, 0, tzinfo=UTC)) for r in daily} | {
        (r.user_id, THU_0900_BERLIN) for r in twice
    }

    driver.run_until(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))

    # Back on schedule: Saturday's nudge, once, for the daily members only.
    assert len(sender.sent) == 2 * len(daily)


def test_checkin_missed_by_a_short_downtime_is_caught_up_once(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.at(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))  # Thursday's nudge
    sender.sent.clear()

    driver.at(datetime(2026, 12, 1, 6, 0, tzinfo=UTC))  # down from Thursday to Tuesday 07:00
    driver.tick()

    (checkin,) = sender.sent
    assert checkin.kind == "checkin"
    assert "Last week: 0 of 1." in checkin.notice.text


# --- failures ----------------------------------------------------------------------------------


def test_unreachable_member_stops_getting_nudges_and_hears_about_it_next_time(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [SendResult(Outcome.UNREACHABLE, "403 Cannot send messages to this user")]

    driver.run_until(datetime(2026, 12, 8, 0, 0, tzinfo=UTC))

    assert len(sender.sent) == 1
    (row,) = log_rows(engine)
    assert (row.status, row.detail) == ("failed", "403 Cannot send messages to this user")
    member = member_row(engine, "ana")
    assert member.unreachable is True
    assert (member.next_nudge_at, member.next_checkin_at) == (None, None)

    reply = coach.handle(ANA, "/streak")

    assert reply.ok
    assert "couldn't send you direct messages" in reply.text
    member = member_row(engine, "ana")
    assert member.unreachable is False
    assert member.next_nudge_at is not None


def test_a_look_at_the_overview_does_not_count_as_the_member_coming_back(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [SendResult(Outcome.UNREACHABLE, "messages tab disabled")]
    driver.run_until(datetime(2026, 11, 30, 0, 0, tzinfo=UTC))
    assert member_row(engine, "ana").unreachable is True

    overview = coach.overview(ANA)

    assert overview.streak.streak is not None
    assert "couldn't reach you" in overview.nudges.text
    assert "couldn't send you direct messages" not in overview.streak.text
    member = member_row(engine, "ana")
    assert member.unreachable is True
    assert member.next_nudge_at is None


def test_a_sender_that_says_a_message_can_never_go_out_is_given_up_at_once(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [SendResult(Outcome.FAILED, "message refused as too long")]

    driver.at(THU_0900_BERLIN)
    driver.run_until(clock.now() + timedelta(hours=2), step=timedelta(minutes=10))

    assert len(sender.sent) == 1
    (row,) = log_rows(engine)
    assert (row.status, row.detail) == ("failed", "message refused as too long")
    assert member_row(engine, "ana").next_nudge_at is not None  # unlike unreachable: not stopped


def test_passing_failures_are_retried_with_backoff_then_given_up(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [SendResult(Outcome.RETRY, "502 Bad Gateway")] * 5

    driver.at(THU_0900_BERLIN)
    waits = []
    for _ in range(4):
        (row,) = log_rows(engine)
        assert row.status == "pending"
        waits.append(row.not_before - clock.now())
        assert driver.at(row.not_before - timedelta(seconds=1)) == 0  # not before its time
        driver.at(row.not_before)

    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert len(sender.sent) == 5
    (row,) = log_rows(engine)
    assert (row.status, row.attempts, row.detail) == ("failed", 5, "gave up: 502 Bad Gateway")
    driver.run_until(clock.now() + timedelta(hours=2), step=timedelta(minutes=10))
    assert len(sender.sent) == 5


def test_retry_after_from_the_platform_is_honoured(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [SendResult(Outcome.RETRY, "429", retry_after=timedelta(minutes=5))]

    driver.at(THU_0900_BERLIN)

    (row,) = log_rows(engine)
    assert row.not_before == THU_0900_BERLIN + timedelta(minutes=5)
    driver.at(THU_0900_BERLIN + timedelta(minutes=5))
    (row,) = log_rows(engine)
    assert (row.status, row.attempts) == ("sent", 1)


def test_rate_limits_are_waited_out_without_using_up_the_attempts(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    limited = SendResult(Outcome.RETRY, "429", retry_after=timedelta(seconds=20))
    sender.outcomes = [limited] * 7

    driver.at(THU_0900_BERLIN)
    for _ in range(7):
        (row,) = log_rows(engine)
        assert row.status == "pending"
        assert row.not_before == clock.now() + timedelta(seconds=20)  # the platform's word
        driver.at(row.not_before)

    (row,) = log_rows(engine)
    assert (row.status, row.attempts) == ("sent", 1)  # waits asked for are not attempts
    assert len(sender.sent) == 8


def test_rate_limits_then_a_failure_still_leave_the_full_attempts(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    limited = SendResult(Outcome.RETRY, "429", retry_after=timedelta(seconds=20))
    sender.outcomes = [limited] * 4 + [SendResult(Outcome.RETRY, "timeout")]

    driver.at(THU_0900_BERLIN)
    for _ in range(5):
        (row,) = log_rows(engine)
        driver.at(row.not_before)

    (row,) = log_rows(engine)
    # Four waits asked for by the platform and one real failure: one attempt used, not five.
    assert row.status == "sent"
    assert row.attempts == 2
    assert len(sender.sent) == 6


def test_a_long_outage_of_waits_never_overflows_the_backoff(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    waiting = SendResult(Outcome.RETRY, "not connected", retry_after=timedelta(seconds=30))
    sender.outcomes = [waiting] * 60 + [SendResult(Outcome.RETRY, "timeout")]

    driver.at(THU_0900_BERLIN)
    for _ in range(61):
        (row,) = log_rows(engine)
        driver.at(row.not_before)

    (row,) = log_rows(engine)
    assert row.status == "sent"
    assert row.attempts == 2


def test_a_retry_that_would_land_past_the_grace_is_given_up_now(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [
        SendResult(Outcome.RETRY, "workspace token revoked", retry_after=timedelta(hours=7))
    ]

    driver.at(THU_0900_BERLIN)

    (row,) = log_rows(engine)
    assert (row.status, row.detail) == ("failed", "gave up, too late: workspace token revoked")
    assert member_row(engine, "ana").unreachable is False  # the next nudge is tried as usual
    driver.run_until(THU_0900_BERLIN + timedelta(hours=8))
    assert len(sender.sent) == 1


def test_every_attempt_at_one_delivery_carries_the_same_key(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [SendResult(Outcome.RETRY, "timeout")]

    driver.at(THU_0900_BERLIN)
    (row,) = log_rows(engine)
    driver.at(row.not_before)

    first, retry = sender.sent
    assert first.notice.key == retry.notice.key == f"nudge-{row.id}"


def test_a_sender_that_raises_is_retried_and_others_still_get_theirs(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine
) -> None:
    join(coach, "ana", "/goal 1 post")
    join(coach, "bo", "/goal 1 post")
    sender.outcomes = [RuntimeError("adapter bug")]

    driver.at(THU_0900_BERLIN)

    assert sorted(r.status for r in log_rows(engine)) == ["pending", "sent"]
    driver.at(THU_0900_BERLIN + timedelta(seconds=30))
    assert [r.status for r in log_rows(engine)] == ["sent", "sent"]
    assert sorted(s.who for s in sender.sent[1:]) == ["ana", "bo"]


def test_one_broken_member_does_not_stop_everyone_elses_nudges(
    coach: Coach, driver: Driver, sender: FakeSender, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    join(coach, "bo", "/goal 1 post")
    with engine.begin() as connection:  # e.g. a zone a tzdata update no longer knows
        connection.execute(
            update(members).where(members.c.user_id == "ana").values(timezone="Mars/Olympus")
        )

    driver.run_until(THU_0900_BERLIN + timedelta(hours=1), step=timedelta(minutes=30))

    assert [(s.who, s.kind) for s in sender.sent] == [("bo", "nudge")]
    assert member_row(engine, "ana").next_nudge_at is None
    (broken,) = [r for r in log_rows(engine) if r.user_id == "ana"]
    assert broken.status == "pending"  # composing it failed: retried like a failed send
    driver.run_until(clock.now() + timedelta(hours=1), step=timedelta(minutes=1))
    (broken,) = [r for r in log_rows(engine) if r.user_id == "ana"]
    assert (broken.status, broken.detail) == ("failed", "gave up: compose failed")
    # Fixing the zone brings the member back.
    assert coach.handle(ANA, "/timezone Europe/Berlin").ok
    assert member_row(engine, "ana").next_nudge_at is not None


def test_a_delivery_that_cannot_be_composed_does_not_hold_up_the_batch(
    coach: Coach,
    outbox: Outbox,
    dispatcher: Dispatcher,
    driver: Driver,
    sender: FakeSender,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    join(coach, "ana", "/goal 1 post")
    join(coach, "bo", "/goal 1 post")
    prepare = outbox.prepare

    def prepare_failing_for_ana(delivery: Any, lease: Any = None) -> object:
        if delivery.user_id == "ana":
            raise RuntimeError("bug")
        return prepare(delivery, lease)

    monkeypatch.setattr(outbox, "prepare", prepare_failing_for_ana)

    assert driver.at(THU_0900_BERLIN) == 1

    assert {(r.user_id, r.status) for r in log_rows(engine)} == {("ana", "pending"), ("bo", "sent")}


def test_delivery_with_an_expired_lease_can_be_claimed_by_another_owner(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    outbox.sweep(list(PLATFORMS))
    lease = timedelta(seconds=60)

    (first,) = outbox.claim(list(PLATFORMS), "replica-a", lease)  # ...and replica-a dies
    assert outbox.claim(list(PLATFORMS), "replica-b", lease) == []
    clock.advance(lease)
    assert outbox.claim(list(PLATFORMS), "replica-b", lease) == []
    clock.advance(timedelta(seconds=1))
    (second,) = outbox.claim(list(PLATFORMS), "replica-b", lease)

    assert second.id == first.id
    assert (first.attempts, second.attempts) == (1, 2)
    (row,) = log_rows(engine)
    assert (row.status, row.lease_owner) == ("sending", "replica-b")


def test_finished_delivery_is_never_claimed_again(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    outbox.sweep(list(PLATFORMS))
    (delivery,) = outbox.claim(list(PLATFORMS), "a", timedelta(seconds=60))
    outbox.finish(delivery, DeliveryStatus.SENT)

    clock.advance(timedelta(hours=1))

    assert outbox.claim(list(PLATFORMS), "b", timedelta(seconds=60)) == []


def test_tick_drains_more_than_one_claim_batch(
    coach: Coach,
    outbox: Outbox,
    sender: FakeSender,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
) -> None:
    for i in range(7):
        join(coach, f"m{i}", "/goal 1 post")
    small_batches = Dispatcher(
        outbox, dict.fromkeys(PLATFORMS, sender), run_sync, delivery=DeliverySettings(claim_limit=3)
    )
    clock.set(THU_0900_BERLIN)

    assert loop.run_until_complete(small_batches.tick()) == 7
    assert len({s.who for s in sender.sent}) == 7


def test_sweep_never_logs_the_same_nudge_twice(
    coach: Coach, outbox: Outbox, engine: Engine, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    outbox.sweep(list(PLATFORMS))
    # Put the member back as if another process had not seen the advance.
    with engine.begin() as connection:
        connection.execute(update(members).values(next_nudge_at=THU_0900_BERLIN))

    outbox.sweep(list(PLATFORMS))

    assert len(log_rows(engine)) == 1


def test_a_goal_set_on_sunday_evening_is_not_reported_as_missed(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    driver.clock.set(datetime(2026, 11, 29, 19, 0, tzinfo=UTC))  # Sunday 20:00 in Berlin
    join(coach, "ana", "/goal 1 post")

    driver.run_until(MON_0900_BERLIN + timedelta(hours=1))

    [checkin] = sender.of("ana")
    assert checkin.kind == "checkin"
    assert "Last week" not in checkin.notice.text
    assert "First tiny step" in checkin.notice.text


def test_the_sweep_hands_the_database_worker_one_batch_at_a_time(
    coach: Coach,
    outbox: Outbox,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
    engine: Engine,
) -> None:
    for index in range(25):
        join(coach, f"writer{index}", "/goal 1 post")
    with engine.begin() as connection:
        connection.execute(update(members).values(next_nudge_at=clock.now() - timedelta(minutes=1)))
    jobs: list[str] = []

    async def counting_run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        jobs.append(func.__name__)
        return func(*args, **kwargs)

    quiet = FakeSender(clock)
    dispatcher = Dispatcher(
        outbox,
        {"console": quiet},
        counting_run_sync,
        SweepSettings(batch_size=10),
    )
    loop.run_until_complete(dispatcher.tick())

    assert jobs.count("batch") == 3  # 10 + 10 + 5: commands can run in between
    assert len(quiet.sent) == 25


def checkins(sender: FakeSender) -> list[datetime]:
    return [s.at for s in sender.of("ana") if s.kind == "checkin"]


def test_the_weekly_check_in_goes_out_once_even_if_the_nudge_time_changes_after_it(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.run_until(MON_0900_BERLIN + timedelta(hours=1))
    assert checkins(sender) == [MON_0900_BERLIN]

    assert coach.handle(ANA, "/nudges mon thu at 11:00").ok
    driver.run_until(MON_0900_BERLIN + timedelta(hours=4))

    assert checkins(sender) == [MON_0900_BERLIN]
    assert "Weekly check-in: Mon 07 Dec 11:00" in coach.handle(ANA, "/nudges").text


def test_the_weekly_check_in_goes_out_once_even_if_the_member_moves_west(
    coach: Coach, driver: Driver, sender: FakeSender
) -> None:
    join(coach, "ana", "/goal 1 post")
    driver.run_until(MON_0900_BERLIN + timedelta(hours=1))

    assert coach.handle(ANA, "/timezone America/Los_Angeles").ok
    driver.run_until(MON_0900_BERLIN + timedelta(hours=20))

    assert checkins(sender) == [MON_0900_BERLIN]


def test_a_check_in_logged_before_goal_off_is_not_sent_after_it(
    coach: Coach, outbox: Outbox, driver: Driver, sender: FakeSender, clock: ManualClock
) -> None:
    join(coach, "ana", "/goal 1 post", "/nudges off")
    clock.set(MON_0900_BERLIN)
    assert outbox.sweep(list(PLATFORMS)) == 1  # the check-in is in the log, not yet sent

    assert coach.handle(ANA, "/goal off").ok
    driver.tick()

    assert sender.of("ana") == []


class RecordingObserver:
    """Our DeliveryObserver, keeping what it was told."""

    def __init__(self) -> None:
        self.settled: list[tuple[str, str, str]] = []
        self.ticks: list[tuple[int, int, datetime]] = []

    def delivery_settled(self, platform: str, kind: str, outcome: str) -> None:
        self.settled.append((platform, kind, outcome))

    def tick_finished(self, swept: int, backlog: int, sweep_moment: datetime) -> None:
        self.ticks.append((swept, backlog, sweep_moment))

    def outcomes(self) -> list[str]:
        return sorted(outcome for _, _, outcome in self.settled)


class SlowReplica:
    """A sender for one replica whose every send takes ``seconds`` of the shared clock, during
    which the other replica ticks (as it would, in another process)."""

    def __init__(self, name: str, clock: ManualClock, seconds: float):
        self.name = name
        self.clock = clock
        self.seconds = seconds
        self.sent: list[tuple[str, str]] = []
        self.meanwhile: Dispatcher | None = None

    async def send(self, notice: Notice) -> SendResult:
        self.sent.append((self.name, notice.member.user_id))
        self.clock.advance(timedelta(seconds=self.seconds))
        if self.meanwhile is not None:
            await self.meanwhile.tick()
        return SendResult(Outcome.SENT)


def replicas(
    outbox: Outbox, clock: ManualClock, send_seconds: float
) -> tuple[Dispatcher, SlowReplica, Dispatcher, SlowReplica, RecordingObserver]:
    """Replica A, sending one notice at a time slowly, and replica B, quick, ticking meanwhile."""
    slow, quick = SlowReplica("a", clock, send_seconds), SlowReplica("b", clock, 0)
    observer = RecordingObserver()
    replica_b = Dispatcher(
        outbox, {"console": quick}, run_sync, delivery=DeliverySettings(owner="b")
    )
    replica_a = Dispatcher(
        outbox,
        {"console": slow},
        run_sync,
        delivery=DeliverySettings(owner="a", concurrency=1),
        observer=observer,
    )
    slow.meanwhile = replica_b
    return replica_a, slow, replica_b, quick, observer


def test_a_replica_paused_past_its_lease_never_sends_a_nudge_twice(
    coach: Coach, outbox: Outbox, clock: ManualClock, loop: asyncio.AbstractEventLoop
) -> None:
    """Replica A stalls for longer than the lease after its first send (a suspended VM, a
    frozen event loop): replica B takes over what A still holds. A notices before each send
    that it lost the lease, and neither sends nor counts those."""
    for name in ("u1", "u2", "u3"):
        join(coach, name, "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    quick = SlowReplica("b", clock, 0)
    slow = SlowReplica("a", clock, 0)
    replica_b = Dispatcher(
        outbox, {"console": quick}, run_sync, delivery=DeliverySettings(owner="b")
    )

    async def pausing_after_the_first_record(func: Callable[..., Any], *args: Any) -> Any:
        result = func(*args)
        if func == outbox.finish and len(slow.sent) == 1:
            clock.advance(timedelta(seconds=70))
            await replica_b.tick()  # meanwhile, in another process
        return result

    observer = RecordingObserver()
    replica_a = Dispatcher(
        outbox,
        {"console": slow},
        pausing_after_the_first_record,
        delivery=DeliverySettings(owner="a", concurrency=1),
        observer=observer,
    )

    loop.run_until_complete(replica_a.tick())

    assert slow.sent == [("a", "u1")]
    assert sorted(quick.sent) == [("b", "u2"), ("b", "u3")]  # B took over, and each went once
    assert observer.settled == [("console", "nudge", "sent")]  # B's to count, not A's


def test_a_big_batch_behind_slow_sends_keeps_its_lease_until_each_send_starts(
    coach: Coach, outbox: Outbox, clock: ManualClock, loop: asyncio.AbstractEventLoop
) -> None:
    """Sends within their bound (30 s, under two thirds of the 60 s lease), one at a time: the
    last of the batch starts 90 s after the claim, and no one else took it meanwhile."""
    for name in ("u1", "u2", "u3", "u4"):
        join(coach, name, "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    replica_a, slow, _, quick, observer = replicas(outbox, clock, send_seconds=30)

    assert loop.run_until_complete(replica_a.tick()) == 4

    assert quick.sent == []
    assert [member for _, member in slow.sent] == ["u1", "u2", "u3", "u4"]
    assert observer.outcomes() == ["sent"] * 4


# --- sending several at once -------------------------------------------------------------------


class GatedSender:
    """Sends wait at a gate the test opens; counts how many are in flight at once."""

    def __init__(self, fail_for: str = "") -> None:
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.started: list[str] = []
        self.fail_for = fail_for

    async def send(self, notice: Notice) -> SendResult:
        self.started.append(notice.member.user_id)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        if notice.member.user_id == self.fail_for:
            raise TimeoutError
        return SendResult(Outcome.SENT)

    async def started_at_least(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.started) < count:  # noqa: ASYNC110 - a count, not an event
                await asyncio.sleep(0)


def gated(outbox: Outbox, sender: GatedSender, concurrency: int, **kwargs: Any) -> Dispatcher:
    return Dispatcher(
        outbox,
        {"console": sender},
        run_sync,
        delivery=DeliverySettings(owner="a", concurrency=concurrency),
        **kwargs,
    )


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_up_to_concurrency_notices_are_in_flight_at_once(
    coach: Coach,
    outbox: Outbox,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
    concurrency: int,
) -> None:
    for index in range(6):
        join(coach, f"m{index}", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    sender = GatedSender()
    dispatcher = gated(outbox, sender, concurrency)

    async def tick_with_the_gate_opening() -> int:
        ticking = asyncio.ensure_future(dispatcher.tick())
        await sender.started_at_least(min(concurrency, 6))
        for _ in range(20):  # room for more to start, if the bound let them
            await asyncio.sleep(0)
        sender.gate.set()
        return await ticking

    assert loop.run_until_complete(tick_with_the_gate_opening()) == 6
    assert sender.most_in_flight == min(concurrency, 6)
    assert sorted(sender.started) == [f"m{index}" for index in range(6)]


def test_a_send_failing_among_others_in_flight_affects_only_its_own_delivery(
    coach: Coach,
    outbox: Outbox,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
    engine: Engine,
) -> None:
    for index in range(5):
        join(coach, f"m{index}", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    sender = GatedSender(fail_for="m2")
    observer = RecordingObserver()
    dispatcher = gated(outbox, sender, 5, observer=observer)

    async def tick() -> int:
        ticking = asyncio.ensure_future(dispatcher.tick())
        await sender.started_at_least(5)
        sender.gate.set()
        return await ticking

    assert loop.run_until_complete(tick()) == 4

    rows = {r.user_id: r for r in log_rows(engine)}
    assert {name: row.status for name, row in rows.items()} == {
        "m0": "sent",
        "m1": "sent",
        "m2": "pending",
        "m3": "sent",
        "m4": "sent",
    }
    assert (rows["m2"].detail, rows["m2"].not_before) == (
        "TimeoutError",
        THU_0900_BERLIN + timedelta(seconds=30),
    )
    assert observer.outcomes() == ["retry", "sent", "sent", "sent", "sent"]


# --- stopping ----------------------------------------------------------------------------------


def test_stop_hands_back_what_was_claimed_but_not_started_at_once(
    coach: Coach,
    outbox: Outbox,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
    engine: Engine,
) -> None:
    for index in range(6):
        join(coach, f"m{index}", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    sender = GatedSender()
    observer = RecordingObserver()
    dispatcher = gated(outbox, sender, 2, observer=observer)

    async def stop_mid_batch() -> tuple[int, list[Any]]:
        ticking = asyncio.ensure_future(dispatcher.tick())
        await sender.started_at_least(2)
        dispatcher.stop()
        async with asyncio.timeout(5):  # released while the two sends are still in flight
            while sum(r.status == "pending" for r in log_rows(engine)) < 4:  # noqa: ASYNC110
                await asyncio.sleep(0)
        during = log_rows(engine)
        sender.gate.set()
        return await ticking, during

    sent, during = loop.run_until_complete(stop_mid_batch())

    assert sent == 2
    assert sorted(sender.started) == ["m0", "m1"]  # nothing else started after the stop
    assert (
        sorted((r.status, r.lease_owner) for r in during)
        == [("pending", None)] * 4 + [("sending", "a")] * 2
    )
    rows = log_rows(engine)
    assert sorted(r.status for r in rows) == ["pending"] * 4 + ["sent"] * 2
    for row in rows:
        if row.status == "pending":  # as if never claimed: no lease, no attempt used
            assert (row.lease_owner, row.lease_until, row.attempts) == (None, None, 0)
            assert row.not_before <= clock.now()
    assert observer.ticks == [(6, 4, THU_0900_BERLIN)]
    # Another process takes them over right away, not when a lease would have expired.
    taken = outbox.claim(list(PLATFORMS), "b", timedelta(seconds=60))
    assert sorted(d.user_id for d in taken) == ["m2", "m3", "m4", "m5"]
    assert {d.attempts for d in taken} == {1}


def test_a_stop_while_claiming_hands_the_whole_claim_back(
    coach: Coach,
    outbox: Outbox,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
    engine: Engine,
) -> None:
    for index in range(3):
        join(coach, f"m{index}", "/goal 1 post")
    clock.set(THU_0900_BERLIN)
    sender = GatedSender()
    dispatcher: Dispatcher

    async def claim_then_stop(func: Callable[..., Any], *args: Any) -> Any:
        result = func(*args)
        if func == outbox.claim:
            dispatcher.stop()  # SIGTERM arrives while the claim is on the database thread
        return result

    dispatcher = Dispatcher(outbox, {"console": sender}, claim_then_stop)

    assert loop.run_until_complete(dispatcher.tick()) == 0

    assert sender.started == []
    assert {(r.status, r.attempts, r.lease_owner) for r in log_rows(engine)} == {
        ("pending", 0, None)
    }


# --- what the observer hears -------------------------------------------------------------------


class ByMember:
    """A sender whose answer depends on the member."""

    def __init__(self, answers: dict[str, SendResult | Exception]):
        self.answers = answers

    async def send(self, notice: Notice) -> SendResult:
        answer = self.answers.get(notice.member.user_id, SendResult(Outcome.SENT))
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_observer_hears_every_outcome_once_and_each_tick(
    coach: Coach,
    outbox: Outbox,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
    engine: Engine,
) -> None:
    for name in ("sent", "closed", "flaky", "late", "met"):
        join(coach, name, "/goal 1 post")
    sender = ByMember(
        {
            "closed": SendResult(Outcome.UNREACHABLE, "403 (code 50007)"),
            "flaky": SendResult(Outcome.RETRY, "Discord error 503"),
            "late": SendResult(Outcome.RETRY, "429", retry_after=timedelta(hours=7)),
        }
    )
    observer = RecordingObserver()
    dispatcher = Dispatcher(outbox, {"console": sender}, run_sync, observer=observer)
    clock.set(THU_0900_BERLIN)
    assert outbox.sweep(list(PLATFORMS)) == 5
    assert coach.handle(MemberRef.console("met"), "/published").ok  # nothing to say any more

    assert loop.run_until_complete(dispatcher.tick()) == 1

    assert sorted(observer.settled) == [
        ("console", "nudge", outcome)
        for outcome in ("failed", "retry", "sent", "skipped", "unreachable")
    ]
    assert observer.ticks == [(0, 0, THU_0900_BERLIN)]  # swept before; the retry waits 30 s
    statuses = {r.user_id: (r.status, r.detail) for r in log_rows(engine)}
    assert statuses["late"] == ("failed", "gave up, too late: 429")

    del sender.answers["flaky"]  # Discord is back
    clock.advance(timedelta(seconds=30))
    loop.run_until_complete(dispatcher.tick())

    assert observer.settled[-1] == ("console", "nudge", "sent")
    assert observer.ticks[-1] == (0, 0, THU_0900_BERLIN + timedelta(seconds=30))


def test_a_broken_observer_never_stops_a_nudge(
    coach: Coach,
    outbox: Outbox,
    clock: ManualClock,
    loop: asyncio.AbstractEventLoop,
    sender: FakeSender,
) -> None:
    join(coach, "ana", "/goal 1 post")

    class Broken(RecordingObserver):
        def delivery_settled(self, platform: str, kind: str, outcome: str) -> None:
            raise RuntimeError("metrics bug")

    dispatcher = Dispatcher(outbox, {"console": sender}, run_sync, observer=Broken())
    clock.set(THU_0900_BERLIN)

    assert loop.run_until_complete(dispatcher.tick()) == 1


# --- failures, on purpose ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(TimeoutError(), "TimeoutError"), (SendResult(Outcome.RETRY, "Discord error 502"), None)],
    ids=["raises-timeout", "answers-5xx"],
)
def test_a_failing_send_is_retried_with_backoff_and_recorded_failed_with_its_reason(
    coach: Coach,
    driver: Driver,
    sender: FakeSender,
    engine: Engine,
    failure: SendResult | Exception,
    reason: str | None,
) -> None:
    join(coach, "ana", "/goal 1 post")
    sender.outcomes = [failure] * 5
    observer = RecordingObserver()
    driver.dispatcher.observer = observer

    driver.at(THU_0900_BERLIN)
    for _ in range(4):
        (row,) = log_rows(engine)
        driver.at(row.not_before)

    (row,) = log_rows(engine)
    detail = reason or "Discord error 502"
    assert (row.status, row.attempts, row.detail) == ("failed", 5, f"gave up: {detail}")
    assert [o for _, _, o in observer.settled] == ["retry"] * 4 + ["failed"]
