"""The composition root: the one place that knows every part and wires them together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.metrics import Metrics
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.installations import InstallerRecords
from habits.coach import Coach
from habits.model import Clock, SystemClock
from habits.outbox import Outbox
from storage.database import (
    DatabaseTimeouts,
    current_revision,
    head_revision,
    is_sqlite,
    make_engine,
    upgrade,
)
from storage.records import SqlRecordStore
from storage.uow import SqlUnitOfWorkFactory


class NotMigratedError(RuntimeError):
    pass


def database_timeouts(settings: Settings) -> DatabaseTimeouts:
    return DatabaseTimeouts(
        connect=settings.database_connect_timeout_seconds,
        statement=settings.database_statement_timeout_seconds,
        lock=settings.database_lock_timeout_seconds,
    )


def applied_revision(settings: Settings) -> str | None:
    """The migration the configured database is at (None before the first); raises what
    connecting raises."""
    engine = make_engine(settings.database_url, pool_size=1, timeouts=database_timeouts(settings))
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def prepare_database(settings: Settings, migrate: bool) -> None:
    """Apply migrations when asked (console on SQLite does), else insist they were applied."""
    if migrate:
        upgrade(settings.database_url)
        return
    revision = applied_revision(settings)
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
    engine = make_engine(
        settings.database_url, pool_size=threads, timeouts=database_timeouts(settings)
    )
    clock = clock or SystemClock()
    metrics = Metrics(clock.now)
    uow_factory = SqlUnitOfWorkFactory(engine)
    coach = Coach(
        uow_factory,
        clock,
        default_zone=settings.default_timezone or default_zone,
        command_observer=metrics,
        # Whether or not Slack runs in this process, a member's forget reaches its records.
        member_records=[InstallerRecords()],
    )
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coach-db")
    return Runtime(
        settings,
        coach,
        Outbox(uow_factory, clock),
        executor,
        SqlRecordStore(engine, coach.now),
        metrics=metrics,
        observer=metrics,  # the delivery loop reports settled deliveries and ticks to it
    )
