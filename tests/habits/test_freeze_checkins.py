"""Earned streak freezes, milestones and comebacks as a member lives them: week after week
through the coach, with each weekly check-in sent by the dispatcher from a real database, in
the member's zone (across a DST change) and for Sunday-start weeks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from habits.coach import Coach
from habits.delivery import Dispatcher
from habits.model import ManualClock, MemberRef, WeekState
from habits.outbox import Outbox
from tests.habits.test_delivery import PLATFORMS, Driver, FakeSender, Sent, run_sync

BERLIN = ZoneInfo("Europe/Berlin")
ANA = MemberRef.console("ana")


def local(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def sender(clock: ManualClock) -> FakeSender:
    return FakeSender(clock)


@pytest.fixture
def driver(clock: ManualClock, outbox: Outbox, sender: FakeSender) -> Iterator[Driver]:
    loop = asyncio.new_event_loop()
    try:
        yield Driver(clock, Dispatcher(outbox, dict.fromkeys(PLATFORMS, sender), run_sync), loop)
    finally:
        loop.close()


class Member:
    """Lives weeks through the coach: publishes mid-week, then opens the next week at its
    check-in (09:00 on the week's first day, the member's nudge time, in Berlin)."""

    def __init__(
        self, coach: Coach, clock: ManualClock, driver: Driver, sender: FakeSender, first: date
    ):
        self.coach, self.clock, self.driver, self.sender = coach, clock, driver, sender
        self.week = first
        clock.set(local(first, 8))
        for text in ("/timezone Europe/Berlin", "/goal 1 post"):
            assert coach.handle(ANA, text).ok

    def say(self, text: str) -> str:
        reply = self.coach.handle(ANA, text)
        assert reply.ok, reply.text
        return reply.text

    def live(self, published: int) -> str:
        """This week with ``published`` publications, then the next week's check-in text."""
        self.clock.set(local(self.week + timedelta(days=2), 12))
        for n in range(published):
            self.say(f"/published Piece {self.week} {n}")
        self.week += timedelta(days=7)
        self.driver.at(local(self.week))
        checkin = self.checkins()[-1]
        assert checkin.at == local(self.week)
        return checkin.notice.text

    def checkins(self) -> list[Sent]:
        return [s for s in self.sender.sent if s.kind == "checkin"]

    def streak(self) -> tuple[int, int | None]:
        card = self.coach.handle(ANA, "/streak").streak
        assert card is not None
        return card.current, card.freezes


@pytest.fixture
def member(coach: Coach, clock: ManualClock, driver: Driver, sender: FakeSender) -> Member:
    return Member(coach, clock, driver, sender, date(2027, 2, 22))  # a Monday


def test_a_missed_week_after_four_met_ones_is_frozen_and_the_check_in_says_so_kindly(
    member: Member,
) -> None:
    for _ in range(4):
        member.live(1)
    assert member.streak() == (4, 1)

    # The week of 22 March ends on the night Berlin moves its clocks forward: its check-in
    # comes at 09:00 summer time, 07:00 UTC.
    text = member.live(0)

    assert member.week == date(2027, 3, 29)
    assert member.checkins()[-1].at == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    assert "Your freeze kept your 4-week streak — none left." in text
    assert member.streak() == (4, 0)
    year = member.coach.handle(ANA, "/streak").year
    assert year is not None
    assert year.weeks[-2].state is WeekState.FROZEN
    assert year.weeks[-1].state is WeekState.IN_PROGRESS  # the current week never is


def test_the_check_in_says_when_a_freeze_was_earned_and_not_when_none_could_be(
    member: Member,
) -> None:
    texts = [member.live(1) for _ in range(12)]

    earned = [n for n, text in enumerate(texts) if "You earned a streak freeze" in text]
    assert earned == [3, 7]  # the 4th and 8th met weeks; at the 12th two are banked already
    assert "(1 of 2 banked)" in texts[3]
    assert "(2 of 2 banked)" in texts[7]


def test_freezes_off_earns_none_in_the_check_in(member: Member) -> None:
    member.say("/goal freezes off")

    texts = [member.live(1) for _ in range(4)]

    assert not any("freeze" in text for text in texts)


def test_the_streak_card_shows_the_freezes_banked(member: Member) -> None:
    for _ in range(4):
        member.live(1)

    assert "Freezes: ❄️ 1 of 2 banked" in member.say("/streak")


def test_a_backdated_publication_that_meets_the_frozen_week_gives_the_freeze_back(
    member: Member,
) -> None:
    for published in (1, 1, 1, 1, 0):
        member.live(published)
    assert member.streak() == (4, 0)

    member.say("/published sun The one I forgot to log")  # Sunday 28 March, in the frozen week

    assert member.streak() == (5, 1)


def test_a_rest_week_never_spends_a_freeze(member: Member) -> None:
    for _ in range(4):
        member.live(1)
    member.clock.set(local(member.week, 10))
    member.say("/goal rest")

    text = member.live(0)

    assert "freeze" not in text
    assert member.streak() == (4, 1)


def test_without_a_freeze_a_missed_week_breaks_the_streak_and_the_next_met_one_is_a_comeback(
    member: Member,
) -> None:
    member.live(1)
    member.live(1)
    missed = member.live(0)
    comeback = member.live(1)

    assert "Last week: 0 of 1." in missed
    assert "freeze" not in missed
    assert "you're back! A new streak starts here." in comeback
    assert "Streak: 1 week" not in comeback
    assert member.streak() == (1, 0)


def test_the_first_met_week_ever_is_no_comeback(member: Member) -> None:
    assert "goal met! Streak: 1 week." in member.live(1)


def test_freezes_off_counts_a_missed_week_as_missed_and_on_brings_it_back(
    member: Member,
) -> None:
    for published in (1, 1, 1, 1, 0):
        member.live(published)

    off = member.say("/goal freezes off")

    assert "Streak freezes are off" in off
    assert "/goal freezes on" in off
    assert member.streak() == (0, None)
    assert "Freezes" not in member.say("/streak")
    on = member.say("/goal freezes on")
    assert "every 4 met weeks in a row earn one (up to 2 banked)" in on
    assert "❄️ 0 of 2 banked" in on
    assert member.streak() == (4, 0)


def test_freezes_off_leaves_a_missed_week_missed_in_the_check_in(member: Member) -> None:
    member.say("/goal freezes off")
    for _ in range(4):
        member.live(1)

    text = member.live(0)

    assert "Last week: 0 of 1." in text
    assert "freeze" not in text


def test_a_typo_after_freezes_gets_a_friendly_example(coach: Coach) -> None:
    reply = coach.handle(ANA, "/goal freezes maybe")

    assert not reply.ok
    assert "Streak freezes can be turned on or off." in reply.text
    assert "/goal freezes off" in reply.text


def test_streak_milestones_are_celebrated_once_in_the_check_in(member: Member) -> None:
    texts = [member.live(1) for _ in range(5)]

    assert ["4 weeks in a row" in t for t in texts] == [False, False, False, True, False]

    member.live(0)  # frozen
    member.live(0)  # missed: the streak breaks
    again = [member.live(1) for _ in range(4)]
    assert not any("weeks in a row" in t for t in again)


def test_publication_milestones_are_celebrated_once_in_the_check_in(member: Member) -> None:
    texts = [member.live(n) for n in (4, 4, 3, 1)]

    assert ["10 publications in all" in t for t in texts] == [False, False, True, False]


def test_the_export_includes_the_freezes(member: Member) -> None:
    for published in (1, 1, 1, 1, 0):
        member.live(published)

    reply = member.coach.handle(ANA, "/habit export")

    assert reply.attachment is not None
    data = json.loads(reply.attachment.content)
    assert data["member"]["freezes"] == {
        "on": True,
        "banked": 0,
        "frozen_weeks": ["2027-03-22"],
    }


def test_sunday_start_weeks_freeze_on_their_own_boundary(
    coach: Coach, clock: ManualClock, driver: Driver, sender: FakeSender
) -> None:
    member = Member(coach, clock, driver, sender, date(2027, 2, 21))  # a Sunday
    member.say("/goal week sunday")
    for _ in range(4):
        member.live(1)

    text = member.live(0)

    # The missed week's check-in opens the Sunday Berlin moves its clocks forward.
    assert member.week == date(2027, 3, 28)
    assert member.checkins()[-1].at == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    assert "Your freeze kept your 4-week streak — none left." in text
    assert member.streak() == (4, 0)
