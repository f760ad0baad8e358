"""Our design, measured through the engine's own entry points: Coach.handle and Outbox.sweep."""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import pstats
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update

from bench.measure import LagProbe, Latency, PeakRss, Traced, peak_rss, time_calls, traced
from habits.coach import Coach
from habits.model import MemberRef, Platform
from habits.outbox import Outbox, SweepSettings
from storage.tables import deliveries, members


def random_refs(engine: Engine, count: int, population: int, rng: random.Random) -> list[MemberRef]:
    """Identities of ``count`` random members (with repeats when count > population)."""
    ids = [rng.randint(1, population) for _ in range(count)]
    wanted = sorted(set(ids))
    found: dict[int, MemberRef] = {}
    columns = (members.c.id, members.c.platform, members.c.user_id, members.c.workspace)
    with engine.connect() as connection:
        for start in range(0, len(wanted), 500):
            query = select(*columns).where(members.c.id.in_(wanted[start : start + 500]))
            for row in connection.execute(query):
                found[row.id] = MemberRef(Platform(row.platform), row.user_id, row.workspace)
    return [found[member_id] for member_id in ids]


@dataclass(frozen=True)
class CommandLatency:
    published: Latency
    streak: Latency
    failures: int


def command_latency(
    coach: Coach, refs: list[MemberRef], samples: int, warmup: int, tag: str
) -> CommandLatency:
    """``/published <unique url>`` then ``/streak``, each for random members, after a warm-up."""
    failures = 0

    def published(index: int) -> None:
        nonlocal failures
        ref = refs[index % len(refs)]
        reply = coach.handle(ref, f"/published https://bench.example/{tag}/{index}")
        failures += not reply.ok

    def streak(index: int) -> None:
        nonlocal failures
        reply = coach.handle(refs[-1 - index % len(refs)], "/streak")
        failures += not reply.ok

    # Warm up on the last part of the sample list with different URLs (caches, statements).
    for index in range(warmup):
        published(samples + index)
        streak(samples + index)
    failures = 0
    gc.collect()
    published_times = time_calls(published, samples)
    gc.collect()
    streak_times = time_calls(streak, samples)
    return CommandLatency(Latency.of(published_times), Latency.of(streak_times), failures)


@dataclass
class SweepRun:
    seconds: float
    swept: int
    added: int
    duplicates: int
    missed: int
    still_due: int
    rss: PeakRss | None = None
    traced: Traced | None = None
    lag: Latency | None = None

    @property
    def exact(self) -> bool:
        return self.duplicates == 0 and self.missed == 0 and self.still_due == 0


def make_all_due(engine: Engine, due_at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(update(members).values(next_nudge_at=due_at))


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(deliveries)).scalar_one())


def verify_sweep(
    engine: Engine, due_at: datetime, now: datetime, population: int
) -> tuple[int, int, int]:
    """(duplicates, missed, still due) for the nudges scheduled at ``due_at``."""
    logged = select(deliveries.c.member_id).where(
        deliveries.c.kind == "nudge", deliveries.c.scheduled_for == due_at
    )
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(logged.subquery())).scalar_one()
        distinct = connection.execute(
            select(func.count()).select_from(logged.distinct().subquery())
        ).scalar_one()
        due = connection.execute(
            select(func.count()).select_from(members).where(members.c.next_nudge_at <= now)
        ).scalar_one()
    return int(rows - distinct), int(population - distinct), int(due)


def timed_sweep(
    engine: Engine,
    outbox: Outbox,
    platforms: list[str],
    settings: SweepSettings,
    due_at: datetime,
    population: int,
    memory: str = "rss",
) -> SweepRun:
    """Make every member due at ``due_at``, then time one ``Outbox.sweep`` until nothing is due.

    ``memory`` is "rss" (the kernel's peak RSS over the sweep, timing unaffected) or "traced"
    (tracemalloc's peak; slows Python down, so that run's time is not a headline figure).
    """
    make_all_due(engine, due_at)
    before = _count(engine)
    gc.collect()
    rss = trace = None
    if memory == "traced":
        with traced() as trace:
            started = time.perf_counter()
            swept = outbox.sweep(platforms, settings)
            seconds = time.perf_counter() - started
    else:
        with peak_rss() as rss:
            started = time.perf_counter()
            swept = outbox.sweep(platforms, settings)
            seconds = time.perf_counter() - started
    added = _count(engine) - before
    duplicates, missed, still_due = verify_sweep(engine, due_at, outbox.now(), population)
    return SweepRun(seconds, swept, added, duplicates, missed, still_due, rss, trace)


def loop_sweep(
    engine: Engine,
    outbox: Outbox,
    platforms: list[str],
    settings: SweepSettings,
    due_at: datetime,
    population: int,
    threads: int,
) -> SweepRun:
    """Make every member due at ``due_at`` and sweep them the way ``habit-coach run`` does.

    As ``Dispatcher.tick`` does, each batch is one job on a ThreadPoolExecutor (one thread for
    SQLite, ``threads`` for PostgreSQL) awaited from the event loop, while a probe coroutine
    measures how late the loop wakes it. The time is from the first batch to the last.
    """
    make_all_due(engine, due_at)
    before = _count(engine)
    gc.collect()
    with peak_rss() as rss:
        seconds, swept, lag = asyncio.run(_sweep_on_loop(outbox, platforms, settings, threads))
    added = _count(engine) - before
    duplicates, missed, still_due = verify_sweep(engine, due_at, outbox.now(), population)
    return SweepRun(seconds, swept, added, duplicates, missed, still_due, rss, None, lag)


async def _sweep_on_loop(
    outbox: Outbox, platforms: list[str], settings: SweepSettings, threads: int
) -> tuple[float, int, Latency]:
    loop = asyncio.get_running_loop()
    probe = LagProbe()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-db") as executor:
        probe.start()
        await asyncio.sleep(0.05)  # the probe is running before the first batch
        started = time.perf_counter()
        run = outbox.start_sweep(platforms, settings)
        while await loop.run_in_executor(executor, run.batch):
            pass
        seconds = time.perf_counter() - started
        lag = await probe.stop()
    return seconds, run.swept, lag


def profile_sweep(
    engine: Engine,
    outbox: Outbox,
    platforms: list[str],
    settings: SweepSettings,
    due_at: datetime,
    top: int = 25,
) -> str:
    """cProfile of one full sweep: the top functions by own time, then by cumulative time."""
    make_all_due(engine, due_at)
    profiler = cProfile.Profile()
    profiler.enable()
    outbox.sweep(platforms, settings)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def idle_ticks(
    outbox: Outbox, platforms: list[str], settings: SweepSettings, count: int
) -> Latency:
    """A sweep with nothing due, ``count`` times: the cost of a tick on a quiet minute."""
    for _ in range(10):
        outbox.sweep(platforms, settings)
    swept = 0

    def tick(_: int) -> None:
        nonlocal swept
        swept += outbox.sweep(platforms, settings)

    timings = time_calls(tick, count)
    assert swept == 0, f"idle ticks found {swept} due members"
    return Latency.of(timings)


def due_instant(now: datetime, run: int) -> datetime:
    """A distinct instant per run inside the nudge grace window, so runs never collide."""
    return now - timedelta(minutes=1 + run)
