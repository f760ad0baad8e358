"""The designs we did not choose, measured in the same run for the ratios.

1. One APScheduler 3 job per member: a weekly CronTrigger in the member's zone on a paused
   BackgroundScheduler with the MemoryJobStore (so nothing fires while we measure).
2. The naive sweep: the ORM loads one due member, plans it, logs its nudge and commits — one
   transaction per member. Run on a sample and extrapolated to N.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass
from datetime import datetime

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import sessionmaker

from bench.measure import rss_bytes, settle, traced
from habits import scheduling
from habits.model import Member
from storage.tables import deliveries, map_models, members


def _send_nudge(member_id: int) -> None:  # pragma: no cover - the scheduler stays paused
    raise AssertionError(f"the paused baseline scheduler fired for member {member_id}")


def _add_jobs(scheduler: BackgroundScheduler, rows: list[tuple[int, str]]) -> None:
    for member_id, zone in rows:
        scheduler.add_job(
            _send_nudge,
            CronTrigger(day_of_week="mon,thu", hour=9, minute=0, timezone=zone),
            args=(member_id,),
            id=f"nudge:{member_id}",
        )


def _paused_scheduler() -> BackgroundScheduler:
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
    scheduler = _paused_scheduler()
    settle()
    before = rss_bytes()
    started = time.perf_counter()
    _add_jobs(scheduler, rows)
    seconds = time.perf_counter() - started
    settle()
    added = rss_bytes() - before
    assert len(scheduler.get_jobs()) == len(rows)
    scheduler.shutdown(wait=False)
    del scheduler
    gc.collect()

    # Bytes per job under tracemalloc, on a sample (tracing slows adding about threefold).
    sample = rows[: min(trace_sample, len(rows))]
    scheduler = _paused_scheduler()
    with traced() as trace:
        _add_jobs(scheduler, sample)
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
            member.next_nudge_at, member.next_recap_at = scheduling.plan(member, now, False)
            session.commit()
    seconds = time.perf_counter() - started
    return NaiveResult(len(chosen), seconds, _logged(engine, due_at) - before)


def _logged(engine: Engine, due_at: datetime) -> int:
    with engine.connect() as connection:
        query = (
            select(func.count()).select_from(deliveries).where(deliveries.c.scheduled_for == due_at)
        )
        return int(connection.execute(query).scalar_one())
