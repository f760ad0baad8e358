"""Restart after an hour down: the real runtime of ``habit-coach run`` on a million members.

Members are planned at ``down_from``; the clock then reads an hour later, as if the process had
been down. We build the runtime with ``bot.bootstrap`` (engine, migrations applied or checked,
database threads) and start its scheduler, then watch the delivery log until every slot that
fell inside the hour is logged. The senders accept everything at once: this measures the
scheduler, not a platform.

The baseline, on a sample: APScheduler rebuilding one job per member (MemoryJobStore: the
hour's runs are simply never produced), and a persistent SQLAlchemyJobStore whose overdue jobs
meet APScheduler's misfire rule (default ``misfire_grace_time`` of 1 s).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from bench.baseline import add_jobs, paused_scheduler
from bench.measure import peak_rss, rss_bytes
from bot.bootstrap import bootstrap
from bot.settings import Settings
from habits.delivery import Outcome, SendResult
from habits.messages import Notice
from habits.model import ManualClock
from habits.outbox import Outbox, SweepRun
from storage.tables import deliveries, members

POLL_SECONDS = 0.05  # the count it polls competes with the sweep for the CPU
QUEUE_TIMEOUT_SECONDS = 600.0
DEFAULT_MISFIRE_GRACE_SECONDS = 1  # APScheduler 3's job default


class AcceptingSender:
    """A platform that takes every message at once: the restart measures queueing, not sends."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, notice: Notice) -> SendResult:
        self.sent += 1
        return SendResult(Outcome.SENT)


@dataclass(frozen=True)
class RestartResult:
    overdue: int  # slots (member, kind, instant) that fell inside the hour down
    ready_seconds: float  # bootstrap() to the scheduler started
    queued_seconds: float  # scheduler started to every overdue slot in the delivery log
    first_queued_seconds: float  # scheduler started to the first overdue slot in the log
    logged: int  # distinct overdue slots found in the log
    duplicates: int
    lost: int
    still_due: int
    rss_added: int  # the process's peak RSS growth from bootstrap to everything queued


def _overdue(engine: Engine, down_from: datetime, down_to: datetime) -> int:
    """Slots (nudge or check-in) whose instant fell inside the hour down."""
    nudge = and_(members.c.next_nudge_at > down_from, members.c.next_nudge_at <= down_to)
    checkin = and_(members.c.next_checkin_at > down_from, members.c.next_checkin_at <= down_to)
    with engine.connect() as connection:
        slots = (
            connection.execute(select(func.count()).select_from(members).where(nudge)).scalar_one()
            + connection.execute(
                select(func.count()).select_from(members).where(checkin)
            ).scalar_one()
        )
    return int(slots)


def _in_window(down_from: datetime, down_to: datetime) -> ColumnElement[bool]:
    return and_(deliveries.c.scheduled_for > down_from, deliveries.c.scheduled_for <= down_to)


def _logged(engine: Engine, down_from: datetime, down_to: datetime) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(deliveries).where(_in_window(down_from, down_to))
        return int(connection.execute(query).scalar_one())


def restart(
    url: str, engine: Engine, platforms: list[str], down_from: datetime, down_to: datetime
) -> RestartResult:
    overdue = _overdue(engine, down_from, down_to)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=url, sweep_interval_seconds=5.0
    )
    with peak_rss() as rss:
        ready, first, queued = asyncio.run(
            _restart(settings, platforms, engine, overdue, down_from, down_to)
        )
    slot = (deliveries.c.member_id, deliveries.c.kind, deliveries.c.scheduled_for)
    window = _in_window(down_from, down_to)
    with engine.connect() as connection:
        rows = connection.execute(
            select(func.count()).select_from(deliveries).where(window)
        ).scalar_one()
        distinct = connection.execute(
            select(func.count()).select_from(select(*slot).where(window).distinct().subquery())
        ).scalar_one()
        still_due = connection.execute(
            select(func.count())
            .select_from(members)
            .where(or_(members.c.next_nudge_at <= down_to, members.c.next_checkin_at <= down_to))
        ).scalar_one()
    return RestartResult(
        overdue,
        ready,
        queued,
        first,
        int(distinct),
        int(rows - distinct),
        max(0, overdue - int(distinct)),
        int(still_due),
        rss.peak_added,
    )


async def _restart(
    settings: Settings,
    platforms: list[str],
    engine: Engine,
    overdue: int,
    down_from: datetime,
    down_to: datetime,
) -> tuple[float, float, float]:
    """Seconds from bootstrap to ready, ready to the first overdue slot logged, ready to all."""
    started = time.perf_counter()
    runtime = bootstrap(settings, clock=ManualClock(down_to))
    batches = _time_sweep_batches(runtime.outbox)
    senders = {platform: AcceptingSender() for platform in platforms}
    # APScheduler runs on the wall clock: the first tick is due right away, as in `run`.
    runtime.start_scheduler(senders)
    ready_at = time.perf_counter()
    try:
        while await asyncio.to_thread(_logged, engine, down_from, down_to) < overdue:
            if time.perf_counter() - ready_at > QUEUE_TIMEOUT_SECONDS:
                break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await runtime.stop_scheduler_and_drain(grace=10.0)
        runtime.close()
    # Timed where the work happens: polling the log would add its own query's time.
    first_at = batches[0][0] if batches else time.perf_counter()
    queued_at = next((at for at, more in batches if not more), time.perf_counter())
    return ready_at - started, first_at - ready_at, queued_at - ready_at


def _time_sweep_batches(outbox: Outbox) -> list[tuple[float, bool]]:
    """When each sweep batch committed, and whether more was left: (perf_counter, more)."""
    batches: list[tuple[float, bool]] = []
    start_sweep = outbox.start_sweep

    def timed_start_sweep(*args: Any, **kwargs: Any) -> SweepRun:
        run = start_sweep(*args, **kwargs)
        batch = run.batch

        def timed_batch() -> bool:
            more = batch()
            batches.append((time.perf_counter(), more))
            return more

        run.batch = timed_batch  # type: ignore[method-assign]
        return run

    outbox.start_sweep = timed_start_sweep  # type: ignore[method-assign]
    return batches


# --- the baseline: APScheduler with one job per member ------------------------------------------


@dataclass(frozen=True)
class JobsRestart:
    sample: int
    rebuild_seconds: float  # MemoryJobStore: re-adding one job per member at start
    rebuild_overdue_fired: int  # of the sample's jobs, how many will run for the missed hour
    persisted_ready_seconds: float  # SQLAlchemyJobStore: start() with the sample stored
    persisted_settled_seconds: float  # until every overdue job was run or declared missed
    persisted_missed: int
    persisted_run: int
    rss_per_job: float

    def rebuild(self, count: int) -> float:
        return self.rebuild_seconds * count / self.sample


_fired: list[int] = []


def record_fired(member_id: int) -> None:
    """The job every baseline member has (a module-level function, so the store can pickle it)."""
    _fired.append(member_id)


def jobs_restart(rows: list[tuple[int, str]], folder: Path) -> JobsRestart:
    """Measure both ways APScheduler could come back after an hour down, on ``rows``."""
    now = datetime.now(UTC)
    # 1. Memory store: the jobs are rebuilt from the members table; their triggers start now.
    scheduler = paused_scheduler()
    before = rss_bytes()
    started = time.perf_counter()
    add_jobs(scheduler, rows)
    rebuild = time.perf_counter() - started
    rss_per_job = max(0, rss_bytes() - before) / max(len(rows), 1)
    fired = sum(1 for job in scheduler.get_jobs() if job.next_run_time and job.next_run_time <= now)
    scheduler.shutdown(wait=False)

    # 2. A persistent store written before the outage: each job's next run fell in the hour.
    # Written through the store itself: a paused scheduler shut down afterwards would try to
    # run (and so advance) the overdue jobs on its way out.
    url = f"sqlite:///{folder / 'apscheduler-jobs.db'}"
    holder = BackgroundScheduler(timezone="UTC")  # never started; jobs need one to belong to
    store = SQLAlchemyJobStore(url=url)
    store.start(holder, "default")
    for index, (member_id, zone) in enumerate(rows):
        store.add_job(
            Job(
                holder,
                id=f"nudge:{member_id}",
                func=record_fired,
                trigger=CronTrigger(day_of_week="mon,thu", hour=9, minute=0, timezone=zone),
                executor="default",
                args=(member_id,),
                kwargs={},
                name="nudge",
                misfire_grace_time=DEFAULT_MISFIRE_GRACE_SECONDS,
                coalesce=True,
                max_instances=1,
                next_run_time=now - timedelta(minutes=59 * (index + 1) / len(rows)),
            )
        )
    store.shutdown()

    settled = threading.Event()
    outcomes = {"missed": 0, "run": 0}

    def listen(event: JobEvent) -> None:  # the executor runs a job or declares it missed
        outcomes["missed" if event.code == EVENT_JOB_MISSED else "run"] += 1
        if outcomes["missed"] + outcomes["run"] >= len(rows):
            settled.set()

    _fired.clear()
    after = BackgroundScheduler(timezone="UTC", jobstores={"default": SQLAlchemyJobStore(url=url)})
    after.add_listener(listen, EVENT_JOB_MISSED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    started = time.perf_counter()
    after.start()
    ready = time.perf_counter() - started
    settled.wait(timeout=120)
    settled_seconds = time.perf_counter() - started
    after.shutdown(wait=True)
    return JobsRestart(
        len(rows),
        rebuild,
        fired,
        ready,
        settled_seconds,
        outcomes["missed"],
        outcomes["run"],
        rss_per_job,
    )
