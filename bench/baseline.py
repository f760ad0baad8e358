"""The designs we did not choose, measured in the same run for the ratios.

1. One APScheduler 3 job per member: a weekly CronTrigger in the member's zone on a paused
   BackgroundScheduler with the MemoryJobStore (so nothing fires while we measure).
2. The naive sweep: the ORM loads one due member, plans it, logs its nudge and commits — one
   transaction per member. Run on a sample and extrapolated to N.
3. The event loop while APScheduler's AsyncIOScheduler fires a sample of jobs due at once.

Every baseline runs on a sample of a few thousand and is extrapolated linearly to N: at 100,000
or 1,000,000 members they would take hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import sessionmaker

from bench.measure import LagProbe, Latency, rss_bytes, settle, traced
from habits import scheduling
from habits.model import Member
from storage.tables import deliveries, map_models, members


def _send_nudge(member_id: int) -> None:  # pragma: no cover - the scheduler stays paused
    raise AssertionError(f"the paused baseline scheduler fired for member {member_id}")


def add_jobs(scheduler: BackgroundScheduler, rows: list[tuple[int, str]]) -> None:
    for member_id, zone in rows:
        scheduler.add_job(
            _send_nudge,
            CronTrigger(day_of_week="mon,thu", hour=9, minute=0, timezone=zone),
            args=(member_id,),
            id=f"nudge:{member_id}",
        )


def paused_scheduler() -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", jobstores={"default": MemoryJobStore()})
    scheduler.start(paused=True)
    return scheduler


@dataclass(frozen=True)
class JobsResult:
    count: int
    seconds: float
    rss_added: int  # bytes of RSS the process grew by while holding every job
    traced_per_job: float  # bytes per job retained, by tracemalloc on a sample
    traced_sample: int


def apscheduler_jobs(rows: list[tuple[int, str]], trace_sample: int = 5_000) -> JobsResult:
    """Time adding one job per (member id, zone) and the memory the jobs hold.

    Run it before anything else has grown and freed the heap, or RSS growth reads low (freed
    memory is reused before the process asks the OS for more).
    """
    scheduler = paused_scheduler()
    settle()
    before = rss_bytes()
    started = time.perf_counter()
    add_jobs(scheduler, rows)
    seconds = time.perf_counter() - started
    settle()
    added = rss_bytes() - before
    assert len(scheduler.get_jobs()) == len(rows)
    scheduler.shutdown(wait=False)
    del scheduler
    gc.collect()

    # Bytes per job under tracemalloc, on a sample (tracing slows adding about threefold).
    sample = rows[: min(trace_sample, len(rows))]
    scheduler = paused_scheduler()
    with traced() as trace:
        add_jobs(scheduler, sample)
    scheduler.shutdown(wait=False)
    del scheduler
    gc.collect()
    per_job = trace.retained / len(sample) if sample else float("nan")

    return JobsResult(len(rows), seconds, max(0, added), per_job, len(sample))


@dataclass(frozen=True)
class NaiveResult:
    sample: int
    seconds: float
    logged: int

    def extrapolate(self, count: int) -> float:
        return self.seconds * count / self.sample


def naive_sweep(
    engine: Engine,
    platforms: list[str],
    now: datetime,
    due_at: datetime,
    sample: int,
    population: int,
    rng: random.Random,
) -> NaiveResult:
    """Make ``sample`` random members due, then sweep them one ORM transaction per member."""
    map_models()
    chosen = rng.sample(range(1, population + 1), min(sample, population))
    with engine.begin() as connection:
        for start in range(0, len(chosen), 500):
            part = chosen[start : start + 500]
            connection.execute(
                update(members).where(members.c.id.in_(part)).values(next_nudge_at=due_at)
            )
    before = _logged(engine, due_at)
    sessions = sessionmaker(bind=engine)  # the defaults a first version would use
    due = select(Member).where(members.c.platform.in_(platforms), members.c.next_nudge_at <= now)
    gc.collect()
    started = time.perf_counter()
    with sessions() as session:
        while True:
            member = session.scalars(due.limit(1)).first()
            if member is None:
                break
            session.execute(
                insert(deliveries).values(
                    member_id=member.id,
                    platform=member.platform,
                    kind="nudge",
                    scheduled_for=member.next_nudge_at,
                    status="pending",
                    attempts=0,
                    not_before=now,
                    created_at=now,
                    detail="",
                )
            )
            member.next_nudge_at, member.next_checkin_at = scheduling.plan(member, now, False)
            session.commit()
    seconds = time.perf_counter() - started
    return NaiveResult(len(chosen), seconds, _logged(engine, due_at) - before)


def _logged(engine: Engine, due_at: datetime) -> int:
    with engine.connect() as connection:
        query = (
            select(func.count()).select_from(deliveries).where(deliveries.c.scheduled_for == due_at)
        )
        return int(connection.execute(query).scalar_one())


@dataclass(frozen=True)
class JobsMemory:
    """Memory one APScheduler job holds, measured on a sample."""

    sample: int
    seconds: float  # adding the sample's jobs
    rss_per_job: float
    traced_per_job: float

    def extrapolate(self, count: int) -> float:
        return self.traced_per_job * count


def jobs_memory(rows: list[tuple[int, str]]) -> JobsMemory:
    """RSS and tracemalloc bytes per job on ``rows``; run it on a fresh heap (see above)."""
    result = apscheduler_jobs(rows, trace_sample=len(rows))
    return JobsMemory(
        result.count, result.seconds, result.rss_added / max(result.count, 1), result.traced_per_job
    )


@dataclass(frozen=True)
class JobsLag:
    sample: int
    seconds: float  # from the jobs' due instant until every one has run or misfired
    lag: Latency  # how late the event loop woke a probe meanwhile, milliseconds
    missed: int  # jobs APScheduler declared missed (more than misfire_grace_time late)

    def extrapolate_worst(self, count: int) -> float:
        """The worst stall grows with the due jobs: one scheduler pass submits all of them."""
        return self.lag.worst * count / self.sample


def jobs_due_at_once(rows: list[tuple[int, str]]) -> JobsLag:
    """AsyncIOScheduler with one job per member in ``rows``, every job due at one instant.

    The jobs do nothing but count (a lower bound for the baseline: real ones would also write
    to the database), so the lag is the scheduler's own work on the loop.
    """
    return asyncio.run(_jobs_due_at_once(rows))


async def _jobs_due_at_once(rows: list[tuple[int, str]], limit: float = 120.0) -> JobsLag:
    settled = asyncio.Event()
    outcomes = {"run": 0, "missed": 0}
    loop = asyncio.get_running_loop()

    async def nudge(_member_id: int) -> None:
        pass

    def listen(event: JobEvent) -> None:  # on the loop or the executor's callback
        outcomes["missed" if event.code == EVENT_JOB_MISSED else "run"] += 1
        if sum(outcomes.values()) >= len(rows):
            loop.call_soon_threadsafe(settled.set)

    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.start(paused=True)
    # Far enough ahead that adding every job finishes first, even on a busy machine.
    due = datetime.now(UTC) + timedelta(seconds=2 + 0.0004 * len(rows))
    for member_id, zone in rows:
        scheduler.add_job(
            nudge,
            CronTrigger(day_of_week="mon,thu", hour=9, minute=0, timezone=zone),
            args=(member_id,),
            id=f"nudge:{member_id}",
            next_run_time=due,
        )
    probe = LagProbe()
    probe.start()
    scheduler.resume()
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    started = time.perf_counter()
    with contextlib.suppress(TimeoutError):  # what did not settle shows in the counts
        await asyncio.wait_for(settled.wait(), timeout=limit)
    seconds = time.perf_counter() - started
    lag = await probe.stop()
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)  # AsyncIOScheduler finishes shutting down in a loop callback
    return JobsLag(len(rows), seconds, lag, outcomes["missed"])
