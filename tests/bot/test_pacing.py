"""The token buckets and counters of bot.pacing, on a fake clock that only moves when told, and
the one reading of a 429's Retry-After both senders share."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from multidict import CIMultiDict

from bot.pacing import (
    MAX_RETRY_AFTER,
    AdaptiveTokenBucket,
    KeyedSpacing,
    SlidingWindowCounter,
    TokenBucket,
    retry_after,
)


class FakeTime:
    """A monotonic clock and a sleep for it: sleepers wake, in order, as ``advance`` passes them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.now = target
        await self.settle()

    def bucket(self, rate: float, burst: float) -> TokenBucket:
        return TokenBucket(rate, burst, clock=self.clock, sleep=self.sleep)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


async def granted_at(fake_time: FakeTime, bucket: TokenBucket, tokens: float = 1) -> float:
    assert await bucket.acquire(tokens)
    return fake_time.now


async def test_a_full_bucket_grants_its_burst_at_once_then_one_token_per_interval(
    fake_time: FakeTime,
) -> None:
    bucket = fake_time.bucket(rate=10, burst=5)
    tasks = [asyncio.ensure_future(granted_at(fake_time, bucket)) for _ in range(8)]

    await fake_time.advance(1.0)

    times = [task.result() - 1000.0 for task in tasks]
    assert times == pytest.approx([0, 0, 0, 0, 0, 0.1, 0.2, 0.3])


async def test_over_a_long_run_no_second_gets_more_than_rate_plus_burst(
    fake_time: FakeTime,
) -> None:
    bucket = fake_time.bucket(rate=45, burst=5)
    tasks = [asyncio.ensure_future(granted_at(fake_time, bucket)) for _ in range(500)]

    await fake_time.advance(20.0)

    times = sorted(task.result() for task in tasks)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 50
    assert times[-1] - times[0] == pytest.approx((500 - 5) / 45)


async def test_waiters_sleep_once_each_instead_of_polling(fake_time: FakeTime) -> None:
    bucket = fake_time.bucket(rate=2, burst=1)
    tasks = [asyncio.ensure_future(granted_at(fake_time, bucket)) for _ in range(6)]

    await fake_time.advance(5.0)

    assert all(task.done() for task in tasks)
    assert len(fake_time.sleeps) == 5  # the first went at once; each other slept exactly once


async def test_concurrent_callers_are_served_first_come_first_served(fake_time: FakeTime) -> None:
    bucket = fake_time.bucket(rate=1, burst=2)
    served: list[str] = []

    async def take(name: str, tokens: float) -> None:
        assert await bucket.acquire(tokens)
        served.append(name)

    names = [("a", 2), ("big", 2), ("c", 1), ("d", 1), ("e", 2)]
    tasks = [asyncio.ensure_future(take(name, tokens)) for name, tokens in names]

    await fake_time.advance(10.0)
    await asyncio.gather(*tasks)

    # "big" needs two tokens: the one-token callers behind it do not overtake it.
    assert served == ["a", "big", "c", "d", "e"]


async def test_a_caller_that_cannot_be_served_in_time_is_told_at_once_and_takes_no_place(
    fake_time: FakeTime,
) -> None:
    bucket = fake_time.bucket(rate=1, burst=1)
    assert await bucket.acquire()

    assert not await bucket.acquire(1, max_wait=0.5)  # its turn is 1 s away
    assert bucket.delay() == pytest.approx(1.0)  # the refused caller left the queue as it was
    patient = asyncio.ensure_future(granted_at(fake_time, bucket))
    await fake_time.advance(2.0)
    assert patient.result() == pytest.approx(1001.0)


async def test_a_pause_holds_everyone_and_keeps_the_queues_spacing(fake_time: FakeTime) -> None:
    bucket = fake_time.bucket(rate=10, burst=1)
    assert await bucket.acquire()
    queued = [asyncio.ensure_future(granted_at(fake_time, bucket)) for _ in range(3)]
    await fake_time.advance(0.05)

    bucket.pause_until(fake_time.now + 2.0)  # a global Retry-After of 2 s
    late = asyncio.ensure_future(granted_at(fake_time, bucket))
    await fake_time.advance(5.0)

    times = [task.result() - 1000.0 for task in [*queued, late]]
    # Queued at 0.1, 0.2, 0.3 when the pause came at 0.05: each moved 2 s on, in step.
    assert times == pytest.approx([2.1, 2.2, 2.3, 2.4])


async def test_a_caller_pushed_past_its_deadline_by_a_pause_gives_up(fake_time: FakeTime) -> None:
    bucket = fake_time.bucket(rate=1, burst=1)
    assert await bucket.acquire()
    waiting = asyncio.ensure_future(bucket.acquire(1, max_wait=2.0))  # its turn: in 1 s
    await fake_time.advance(0.5)

    bucket.pause_for(10.0)
    await fake_time.advance(3.0)

    assert waiting.result() is False


async def test_a_pause_shorter_than_one_in_force_changes_nothing(fake_time: FakeTime) -> None:
    bucket = fake_time.bucket(rate=1, burst=1)
    bucket.pause_for(5.0)
    bucket.pause_for(1.0)

    assert bucket.paused_until == pytest.approx(1005.0)
    assert bucket.delay() == pytest.approx(5.0)


async def test_a_lower_rate_stretches_the_debt_instead_of_forgiving_it(
    fake_time: FakeTime,
) -> None:
    bucket = fake_time.bucket(rate=10, burst=1)
    assert await bucket.acquire()
    assert bucket.delay() == pytest.approx(0.1)

    bucket.set_rate(1)

    assert bucket.delay() == pytest.approx(1.0)


async def test_bucket_refuses_impossible_requests(fake_time: FakeTime) -> None:
    with pytest.raises(ValueError, match="rate"):
        fake_time.bucket(rate=0, burst=1)
    with pytest.raises(ValueError, match="cannot take 3"):
        await fake_time.bucket(rate=1, burst=2).acquire(3)


def adaptive(fake_time: FakeTime, **overrides: float) -> AdaptiveTokenBucket:
    options = {"ceiling": 8.0, "floor": 0.5, "recovery": 0.1, **overrides}
    return AdaptiveTokenBucket(4.0, 4, clock=fake_time.clock, sleep=fake_time.sleep, **options)


async def test_adaptive_halves_on_a_429_and_pauses_for_its_retry_after(
    fake_time: FakeTime,
) -> None:
    bucket = adaptive(fake_time)

    bucket.rate_limited(retry_after=3.0)

    assert bucket.rate == pytest.approx(2.0)
    assert bucket.paused_until == pytest.approx(fake_time.now + 3.0)


async def test_adaptive_counts_a_burst_of_429s_once_and_never_goes_below_its_floor(
    fake_time: FakeTime,
) -> None:
    bucket = adaptive(fake_time)
    for _ in range(5):  # answers to requests that were already on their way
        bucket.rate_limited(retry_after=0.0)
    assert bucket.rate == pytest.approx(2.0)

    for _ in range(10):
        await fake_time.advance(1.5)
        bucket.rate_limited(retry_after=0.0)
    assert bucket.rate == pytest.approx(0.5)


async def test_adaptive_recovers_slowly_after_the_pause_and_stops_at_its_ceiling(
    fake_time: FakeTime,
) -> None:
    bucket = adaptive(fake_time)
    bucket.rate_limited(retry_after=10.0)
    assert bucket.rate == pytest.approx(2.0)

    await fake_time.advance(10.0)
    assert bucket.delay() >= 0
    assert bucket.rate == pytest.approx(2.0)  # no recovery while paused

    await fake_time.advance(5.0)
    bucket.delay()
    assert bucket.rate == pytest.approx(2.5)  # + 0.1/s for 5 s

    await fake_time.advance(600.0)
    bucket.delay()
    assert bucket.rate == pytest.approx(8.0)


def test_the_sliding_window_forgets_events_as_they_age(fake_time: FakeTime) -> None:
    counter = SlidingWindowCounter(600.0, clock=fake_time.clock)
    counter.add(3)
    fake_time.now += 300
    counter.add(2)

    assert counter.count() == 5
    assert counter.room_in(1, limit=5) == pytest.approx(300.0)  # when the first three leave
    assert counter.room_in(0, limit=5) == 0
    assert counter.room_in(6, limit=5) == float("inf")
    fake_time.now += 300
    assert counter.count() == 2


async def test_keyed_spacing_paces_each_key_alone_and_forgets_idle_ones(
    fake_time: FakeTime,
) -> None:
    spacing = KeyedSpacing(1.0, clock=fake_time.clock, sleep=fake_time.sleep, forget_after=60.0)
    first = asyncio.ensure_future(granted_at(fake_time, spacing.bucket("T1/U1")))
    second = asyncio.ensure_future(granted_at(fake_time, spacing.bucket("T1/U1")))
    other = asyncio.ensure_future(granted_at(fake_time, spacing.bucket("T1/U2")))

    await fake_time.advance(2.0)

    assert [first.result(), second.result(), other.result()] == [1000.0, 1001.0, 1000.0]
    assert len(spacing) == 2
    await fake_time.advance(120.0)
    spacing.bucket("T1/U3")
    assert len(spacing) == 1


# --- Retry-After -------------------------------------------------------------------------------

# The moment the parser takes for "now" in these tests: an hour from the real now, so no test
# depends on the date it runs on, and HTTP-dates are written relative to it.
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def waits(value: Any) -> float | None:
    return retry_after({"Retry-After": value}, now=lambda: NOW)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)  # "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), ("30", 30.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5), ("0.25", 0.25)],
)
def test_retry_after_in_seconds_whole_or_fractional(value: str, seconds: float) -> None:
    assert waits(value) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    assert waits(http_date(NOW + timedelta(seconds=90))) == 90.0
    assert waits(http_date(NOW - timedelta(minutes=5))) == 0.0  # already past: go now


@pytest.mark.parametrize(
    "value", ["", "soon", "-1", "-0.5", "nan", "1,5", "Mon, 99 Foo 2026 25:61:00 GMT", "[]"]
)
def test_a_negative_or_unreadable_retry_after_is_no_answer(value: str) -> None:
    assert waits(value) is None  # each sender then waits its own default


def test_no_retry_after_header_is_no_answer() -> None:
    assert retry_after({}) is None
    assert retry_after({"X-RateLimit-Reset-After": "3"}) is None


@pytest.mark.parametrize("value", ["86400", "1e12", "inf"])
def test_a_huge_retry_after_is_capped(value: str) -> None:
    assert waits(value) == MAX_RETRY_AFTER


def test_a_retry_after_date_years_ahead_is_capped() -> None:
    assert waits(http_date(NOW + timedelta(days=3 * 365))) == MAX_RETRY_AFTER
    assert retry_after({"Retry-After": "120"}, cap=60.0) == 60.0


def test_retry_after_is_found_in_every_shape_the_senders_see() -> None:
    # aiohttp's case-insensitive headers (Discord), a plain dict in any casing and the lists
    # Slack's SDK keeps each value in (Slack).
    assert retry_after(CIMultiDict({"RETRY-AFTER": "4"})) == 4.0
    assert retry_after({"retry-after": "5"}) == 5.0
    assert retry_after({"Retry-After": ["6"]}) == 6.0
    assert retry_after({"retry-after": b"8"}) == 8.0
