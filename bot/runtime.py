"""The runtime every adapter shares: the engine, its database threads and the sweep scheduler.

Adapters receive a :class:`Runtime` from the composition root; they never see storage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from bot.adapters import RECORD_WRITE_SECONDS, SEND_TIMEOUT_SECONDS
from bot.metrics import Metrics
from bot.settings import Settings
from habits.coach import Coach
from habits.delivery import DeliveryObserver, DeliverySettings, Dispatcher, Sender
from habits.outbox import Outbox, SweepSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

# A shutdown lets a tick in flight finish the sends it is in (at most SEND_TIMEOUT_SECONDS each,
# side by side) and record them; cut shorter, those notices are sent again once their lease
# expires.
DRAIN_GRACE_SECONDS = SEND_TIMEOUT_SECONDS + RECORD_WRITE_SECONDS


class RecordStore(Protocol):
    """Small JSON documents an adapter keeps across restarts and replicas (blocking calls:
    run them through :meth:`Runtime.call`)."""

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None: ...
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...
    def delete(self, kind: str, key: str) -> bool: ...
    def take(self, kind: str, key: str, max_age: timedelta) -> dict[str, Any] | None:
        """Remove and return a record younger than ``max_age``; None if absent or too old."""

    def purge(self, kind: str, older_than: timedelta, limit: int) -> int:
        """Remove at most ``limit`` records of ``kind`` older than ``older_than``."""

    def count(self, kind: str) -> int: ...


class _OverlappingTickFilter(logging.Filter):
    """A tick still running when the next is due is skipped by design (one instance at a
    time, coalesced); APScheduler warns about it on every interval of a long sweep."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_OVERLAP_FILTER = _OverlappingTickFilter()


class EveryIntervalFromNow(BaseTrigger):  # type: ignore[misc]  # APScheduler is untyped
    """Fire now, then every ``interval``; a tick missed (the loop was busy, the machine slept,
    the clock jumped) is dropped, never replayed.

    APScheduler's own interval trigger walks every missed fire time one by one before it can
    coalesce them: a start even a day in the past is ~1.7 million steps on the event loop at a
    0.05 s interval. The sweep needs no replay: the database knows what is overdue, and the
    next tick delivers it. Here the next fire time is always in the future, so a late job has
    exactly one run to make.
    """

    def __init__(self, interval: timedelta):
        if interval <= timedelta(0):
            raise ValueError("the interval must be positive")
        self.interval = interval

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return now
        following = previous_fire_time + self.interval
        return following if following > now else now + self.interval

    def __str__(self) -> str:
        return f"every {self.interval.total_seconds():g} s, missed ticks dropped"


class Runtime:
    """One engine, one scheduler, one pool of database threads, shared by every adapter.

    Database work runs on worker threads so the event loop (Discord heartbeats, 3-second
    interaction deadlines) never waits on it; SQLite gets a single writer thread.
    """

    def __init__(
        self,
        settings: Settings,
        coach: Coach,
        outbox: Outbox,
        executor: ThreadPoolExecutor,
        records: RecordStore,
        *,
        metrics: Metrics | None = None,
        observer: DeliveryObserver | None = None,
    ):
        self.settings = settings
        self.coach = coach  # what members ask for
        self.outbox = outbox  # what the coach has to send, for the delivery loop
        self.executor = executor
        self.records = records
        self.observer = observer  # told what delivery does; handed to the Dispatcher
        self.metrics = metrics  # the process's Prometheus metrics (None: not collected)
        self.scheduler: AsyncIOScheduler | None = None
        self.dispatcher: Dispatcher | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._scheduler_stopped = False

    def rate_limit_counter(self, platform: str) -> Callable[[str], None] | None:
        """What a sender calls on each 429 it sees (with the scope), counted in the metrics."""
        metrics = self.metrics
        if metrics is None:
            return None
        return partial(metrics.rate_limited, platform)

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(func, *args, **kwargs))

    def start_scheduler(self, senders: Mapping[str, Sender]) -> Dispatcher:
        """Tick the sweep now (catch-up after downtime) and then every few seconds.

        The ticks follow the process's real clock, never the engine's (a test or a replay may
        set the engine's clock anywhere); what is due is the engine's question, asked on each
        tick.
        """
        settings = self.settings
        self.dispatcher = Dispatcher(
            self.outbox,
            senders,
            self.call,
            SweepSettings(
                batch_size=settings.sweep_batch_size,
                nudge_grace=timedelta(hours=settings.nudge_grace_hours),
                checkin_grace=timedelta(hours=settings.checkin_grace_hours),
            ),
            DeliverySettings(
                owner=f"{socket.gethostname()[:40]}:{os.getpid()}",  # fits lease_owner
                lease=timedelta(seconds=settings.delivery_lease_seconds),
                concurrency=settings.delivery_concurrency,
            ),
            observer=self.observer,
        )
        logging.getLogger("apscheduler.scheduler").addFilter(
            _OVERLAP_FILTER
        )  # a second add is a no-op
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler_stopped = False
        self.scheduler.add_job(
            self._tick,
            EveryIntervalFromNow(timedelta(seconds=settings.sweep_interval_seconds)),
            id="sweep-and-deliver",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.start()
        return self.dispatcher

    async def _tick(self) -> None:
        assert self.dispatcher is not None
        self._tick_task = asyncio.current_task()
        try:
            await self.dispatcher.tick()
        except asyncio.CancelledError:
            # A stop during a tick (quit, Ctrl-D, a shutdown past its grace) is normal: whatever
            # the tick had claimed and not recorded is delivered again once its lease expires.
            # Swallowed here so APScheduler does not log it as a failed job.
            log.debug("sweep tick cancelled by a stop")
        except Exception:  # the next tick tries again; the database still knows what is due
            log.exception("sweep tick failed")

    def stop_scheduler(self) -> None:
        """Shut the scheduler down (cancelling a tick in flight); a second call is a no-op.

        AsyncIOScheduler finishes its shutdown in a later loop callback and reports ``running``
        until then, so it is asked only once.
        """
        if self.scheduler is not None and self.scheduler.running and not self._scheduler_stopped:
            self._scheduler_stopped = True
            self.scheduler.shutdown(wait=False)

    async def stop_scheduler_and_drain(self, grace: float = DRAIN_GRACE_SECONDS) -> None:
        """Stop ticking and drain the tick in flight, for at most ``grace`` seconds.

        What happens when, from the call:

        - at once: the scheduler pauses (no new tick) and the dispatcher claims nothing more;
          the tick hands back what it claimed and has not started (pending again, claimable by
          any process right away, its attempt given back) in one short database write;
        - within the longest send (``SEND_TIMEOUT_SECONDS``) plus a database write: each send in
          flight finishes and its outcome is recorded; the tick returns and so does this;
        - after ``grace`` seconds at most, whatever happens: the scheduler is shut down, which
          cancels a tick still running. A send cut off that way stays leased (unrecorded) and
          is delivered again once its lease expires: the at-least-once edge.

        The scheduler is shut down only after the wait: shutting it down cancels a running
        tick, which would leave a sent notice unrecorded.
        """
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        task = self._tick_task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), grace)
            except TimeoutError:
                log.warning("a delivery tick outlived shutdown; its leases will expire")
        self.stop_scheduler()

    def close(self) -> None:
        self.stop_scheduler()
        self.executor.shutdown(wait=True)
