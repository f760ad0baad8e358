"""The composition root: the one place that knows every part and wires them together."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import Settings
from habits.delivery import DeliverySettings, Dispatcher, Sender
from habits.model import Clock, SystemClock
from habits.service import Coach, SweepSettings
from storage.database import current_revision, head_revision, is_sqlite, make_engine, upgrade
from storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotMigratedError(RuntimeError):
    pass


class Runtime:
    """One engine, one scheduler, one pool of database threads, shared by every adapter.

    Database work runs on worker threads so the event loop (Discord heartbeats, 3-second
    interaction deadlines) never waits on it; SQLite gets a single writer thread.
    """

    def __init__(self, settings: Settings, coach: Coach, executor: ThreadPoolExecutor):
        self.settings = settings
        self.coach = coach
        self.executor = executor
        self.scheduler: AsyncIOScheduler | None = None
        self.dispatcher: Dispatcher | None = None

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(func, *args, **kwargs))

    def start_scheduler(self, senders: Mapping[str, Sender], clock_now: datetime) -> Dispatcher:
        """Tick the sweep now (catch-up after downtime) and then every few seconds."""
        settings = self.settings
        self.dispatcher = Dispatcher(
            self.coach,
            senders,
            self.call,
            SweepSettings(
                batch_size=settings.sweep_batch_size,
                nudge_grace=timedelta(hours=settings.nudge_grace_hours),
                recap_grace=timedelta(hours=settings.recap_grace_hours),
            ),
            DeliverySettings(
                owner=f"{socket.gethostname()[:40]}:{os.getpid()}",  # fits lease_owner
                lease=timedelta(seconds=settings.delivery_lease_seconds),
            ),
        )
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=settings.sweep_interval_seconds,
            id="sweep-and-deliver",
            replace_existing=True,
            next_run_time=clock_now,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.start()
        return self.dispatcher

    async def _tick(self) -> None:
        assert self.dispatcher is not None
        try:
            await self.dispatcher.tick()
        except Exception:  # the next tick tries again; the database still knows what is due
            log.exception("sweep tick failed")

    def close(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.executor.shutdown(wait=True)


def prepare_database(settings: Settings, migrate: bool) -> None:
    """Apply migrations when asked (console on SQLite does), else insist they were applied."""
    if migrate:
        upgrade(settings.database_url)
        return
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if revision != head:
        raise NotMigratedError(
            f"The database is at migration {revision or 'none'}, not {head}. "
            "Run `habit-coach db upgrade` first."
        )


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    default_zone: str = "UTC",
    migrate: bool | None = None,
) -> Runtime:
    if migrate is None:
        migrate = is_sqlite(settings.database_url)
    prepare_database(settings, migrate)
    sqlite = is_sqlite(settings.database_url)
    threads = 1 if sqlite else settings.db_threads
    engine = make_engine(settings.database_url, pool_size=threads)
    coach = Coach(
        SqlUnitOfWorkFactory(engine),
        clock or SystemClock(),
        default_zone=settings.default_timezone or default_zone,
    )
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coach-db")
    return Runtime(settings, coach, executor)
