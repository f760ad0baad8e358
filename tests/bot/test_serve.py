"""`serve`: adapters start, then the scheduler delivers through their senders; stop is clean.

The adapters here are our own test doubles of our own protocol (bot.adapters.ChatAdapter); the
runtime, engine, scheduler and SQLite file are real.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bot.adapters import RECORD_WRITE_SECONDS, AdapterError
from bot.bootstrap import bootstrap
from bot.discord.sender import DiscordSender
from bot.runtime import EveryIntervalFromNow, Runtime
from bot.serve import serve
from bot.settings import Settings
from bot.slack.sender import SlackSender
from habits.delivery import Outcome, SendResult
from habits.messages import Notice
from habits.model import ManualClock, MemberRef, Platform
from storage.database import make_engine
from storage.tables import deliveries

# Monday 2026-11-23 08:59 UTC: one minute before a UTC member's 09:00 nudge.
BEFORE_NINE = datetime(2026, 11, 23, 8, 59, tzinfo=UTC)


class RecordingAdapter:
    """Our double of a chat adapter: records its life and the notices it is asked to send."""

    def __init__(
        self,
        name: str,
        platform: str = Platform.CONSOLE,
        fail_start: bool = False,
        hang_start: bool = False,
    ):
        self.name = name
        self.platform = platform
        self.fail_start = fail_start
        self.hang_start = hang_start  # start() never returns: only a cancel ends it
        self.starting = asyncio.Event()
        self.events: list[str] = []
        self.sent: list[Notice] = []
        self.died = asyncio.Event()
        self.sending = asyncio.Event()
        self.send_seconds = 0.0

    @property
    def sender(self) -> RecordingAdapter:
        return self

    async def send(self, notice: Notice) -> SendResult:
        self.sent.append(notice)
        self.sending.set()
        await asyncio.sleep(self.send_seconds)
        return SendResult(Outcome.SENT)

    async def start(self) -> None:
        self.events.append("start")
        self.starting.set()
        if self.fail_start:
            raise AdapterError("the token was refused")
        if self.hang_start:
            try:
                await asyncio.Future()
            except asyncio.CancelledError:
                self.events.append("start cancelled")
                raise

    async def wait_closed(self) -> None:
        await self.died.wait()

    async def close(self) -> None:
        self.events.append("close")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'serve.db'}", sweep_interval_seconds=0.05
    )
    runtime = bootstrap(settings, clock=ManualClock(BEFORE_NINE))
    yield runtime
    runtime.close()


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the state belongs to the code under test
            await asyncio.sleep(0.01)


async def test_the_scheduler_delivers_through_the_adapters_sender(runtime: Runtime) -> None:
    adapter = RecordingAdapter("Console")
    ana = MemberRef.console("ana")
    assert (await runtime.call(runtime.coach.handle, ana, "/goal 1 post")).ok
    stop = asyncio.Event()
    serving = asyncio.ensure_future(serve(runtime, [adapter], stop))
    await wait_for(lambda: runtime.dispatcher is not None)

    clock = runtime.coach._clock  # the ManualClock given to bootstrap
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(minutes=1, seconds=1))
    await wait_for(lambda: len(adapter.sent) == 1)
    stop.set()

    assert await serving == 0
    assert adapter.sent[0].member.user_id == "ana"
    assert adapter.sent[0].kind == "checkin"  # Monday 09:00 opens the week with the check-in
    assert "First tiny step:" in adapter.sent[0].text
    assert adapter.events == ["start", "close"]
    assert runtime.scheduler is not None
    assert not runtime.scheduler.running


async def test_a_failed_start_exits_1_and_closes_what_started(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    first = RecordingAdapter("Discord", Platform.DISCORD)
    broken = RecordingAdapter("Slack", Platform.SLACK, fail_start=True)

    assert await serve(runtime, [first, broken], asyncio.Event()) == 1

    assert first.events == ["start", "close"]
    assert broken.events == ["start", "close"]
    assert runtime.dispatcher is None  # nothing claimed for platforms nobody serves
    assert "Slack could not start: the token was refused" in capsys.readouterr().err


async def test_an_adapter_that_dies_stops_the_process_with_1(runtime: Runtime) -> None:
    adapter = RecordingAdapter("Discord", Platform.DISCORD)
    serving = asyncio.ensure_future(serve(runtime, [adapter], asyncio.Event()))
    await wait_for(lambda: runtime.dispatcher is not None)

    adapter.died.set()

    assert await asyncio.wait_for(serving, 5) == 1
    assert adapter.events == ["start", "close"]


async def test_stopping_mid_send_records_that_send_and_claims_nothing_more(
    runtime: Runtime,
) -> None:
    adapter = RecordingAdapter("Console")
    adapter.send_seconds = 0.3
    runtime.settings.delivery_concurrency = 1  # one send at a time: two wait in the batch
    for name in ("ana", "ben", "cy"):
        ref = MemberRef.console(name)
        assert (await runtime.call(runtime.coach.handle, ref, "/goal 1 post")).ok
    stop = asyncio.Event()
    serving = asyncio.ensure_future(serve(runtime, [adapter], stop))
    await wait_for(lambda: runtime.dispatcher is not None)
    clock = runtime.coach._clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(minutes=1, seconds=1))
    async with asyncio.timeout(5):
        await adapter.sending.wait()

    stop.set()  # while the first of three notices is being sent

    assert await asyncio.wait_for(serving, 5) == 0
    assert len(adapter.sent) == 1
    engine = make_engine(runtime.settings.database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            statuses = sorted(connection.execute(select(deliveries.c.status)).scalars())
    finally:
        engine.dispose()
    assert statuses == ["pending", "pending", "sent"]  # handed back: claimable at once


async def test_overlapping_ticks_are_not_warned_about(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.start_scheduler({})
    try:
        scheduler_log = logging.getLogger("apscheduler.scheduler")
        with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
            scheduler_log.warning(
                'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
                "Runtime._tick",
                1,
            )
            scheduler_log.warning("something else")
    finally:
        runtime.stop_scheduler()

    assert [r.getMessage() for r in caplog.records] == ["something else"]


async def test_a_stop_during_start_up_cancels_the_start_and_exits_0(runtime: Runtime) -> None:
    first = RecordingAdapter("Discord", Platform.DISCORD)
    slow = RecordingAdapter("Slack", Platform.SLACK, hang_start=True)
    never = RecordingAdapter("Console")
    stop = asyncio.Event()
    serving = asyncio.ensure_future(serve(runtime, [first, slow, never], stop))
    async with asyncio.timeout(5):
        await slow.starting.wait()

    stop.set()  # SIGTERM while Slack is still connecting

    assert await asyncio.wait_for(serving, 5) == 0
    assert first.events == ["start", "close"]
    assert slow.events == ["start", "start cancelled", "close"]
    assert "start" not in never.events
    assert runtime.dispatcher is None  # nothing claimed: the scheduler never started


async def test_a_stop_before_start_up_starts_nothing(runtime: Runtime) -> None:
    adapter = RecordingAdapter("Discord", Platform.DISCORD)
    stop = asyncio.Event()
    stop.set()

    assert await asyncio.wait_for(serve(runtime, [adapter], stop), 5) == 0
    assert "start" not in adapter.events


async def _no_client(workspace: str) -> None:
    return None


def test_shutdown_waits_out_the_longest_send_and_recording_it() -> None:
    """A SIGTERM during a slow send must not cancel the tick before the send is recorded
    (the notice would be sent again once its lease expired)."""
    grace = inspect.signature(Runtime.stop_scheduler_and_drain).parameters["grace"].default
    longest_send = max(DiscordSender().send_timeout, SlackSender(_no_client).timeout)
    lease = Settings.model_fields["delivery_lease_seconds"].default

    assert longest_send + RECORD_WRITE_SECONDS <= grace < lease


async def test_the_sweep_ticks_by_the_wall_clock_whatever_the_engine_clock_says(
    runtime: Runtime,
) -> None:
    # The engine's clock is pinned days in the past (BEFORE_NINE); a scheduler that started
    # from it walked every missed 0.05 s interval since then and stalled the event loop.
    runtime.start_scheduler({})
    try:
        assert runtime.scheduler is not None
        job = runtime.scheduler.get_job("sweep-and-deliver")
        wall = datetime.now(UTC)
        assert wall - timedelta(seconds=5) <= job.next_run_time <= wall + timedelta(seconds=5)
    finally:
        runtime.stop_scheduler()


def test_a_late_sweep_runs_once_and_never_replays_the_ticks_it_missed() -> None:
    trigger = EveryIntervalFromNow(timedelta(seconds=0.05))
    now = datetime.now(UTC)
    year_ago = now - timedelta(days=365)
    job = Job(
        BackgroundScheduler(timezone="UTC"),  # never started: the job needs an owner only
        id="sweep",
        func=print,
        args=(),
        kwargs={},
        trigger=trigger,
        executor="default",
        name="sweep",
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=year_ago,
    )

    assert job._get_run_times(now) == [year_ago]  # one run, not 630 million
    assert trigger.get_next_fire_time(year_ago, now) == now + timedelta(seconds=0.05)
    on_time = now - timedelta(seconds=0.01)
    assert trigger.get_next_fire_time(on_time, now) == on_time + timedelta(seconds=0.05)
    assert trigger.get_next_fire_time(None, now) == now  # the first tick: at once


async def test_a_stop_during_a_tick_is_silent(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = RecordingAdapter("Console")
    adapter.send_seconds = 60.0  # the send is still going when the stop comes
    assert (await runtime.call(runtime.coach.handle, MemberRef.console("ana"), "/goal 1 post")).ok
    clock = runtime.coach._clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(minutes=1, seconds=1))
    runtime.start_scheduler({Platform.CONSOLE: adapter})
    async with asyncio.timeout(5):
        await adapter.sending.wait()
    tick = runtime._tick_task
    assert tick is not None

    with caplog.at_level(logging.DEBUG):
        runtime.stop_scheduler()  # APScheduler cancels the job in flight (quit, Ctrl-D)
        await asyncio.wait([tick], timeout=5)
        for _ in range(3):  # APScheduler's done-callback runs on a later loop iteration
            await asyncio.sleep(0)

    assert tick.done()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
