"""``python -m bench``: the scale table — every figure beside the naive design, in one run.

Progress goes to stderr; the report (machine facts, the exact command, the Markdown table and
the details behind it) to stdout. What each figure measures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text, update
from sqlalchemy.engine import make_url

from bench import baseline, ours, picture, replicas, report
from bench.bulk import Target, analyze
from bench.figures import Results, Shared, details, fanout_result, figures
from bench.idle import idle_tick
from bench.measure import progress, settle
from bench.population import BENCH_NOW, PLATFORMS, member_zones, populate, populate_members
from bench.restart import jobs_restart, restart
from habits.coach import Coach
from habits.model import ManualClock
from habits.outbox import Outbox, SweepSettings
from storage.database import make_engine
from storage.tables import deliveries
from storage.uow import SqlUnitOfWorkFactory

NAMES = ("latency", "sweep", "idle", "memory", "restart", "fanout", "replicas", "picture")
POSTGRES_ENV = "HABIT_COACH_BENCH_POSTGRES_URL"
PACKAGES = ("SQLAlchemy", "APScheduler", "psycopg", "alembic", "discord.py", "slack_bolt")
DOWN_FOR = timedelta(hours=1)
# (full, --quick) defaults
SIZES = {
    "small": (100_000, 5_000),
    "large": (1_000_000, 20_000),
    "samples": (2_000, 200),
    "naive_sample": (2_000, 300),
    "jobs_sample": (5_000, 500),
    "restart_sample": (1_000, 200),
    "replica_members": (1_000, 200),
    "idle_ticks": (300, 50),
    "picture_samples": (200, 30),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Scale figures for Habit Coach, each beside the naive design "
        "(one APScheduler job per member, an ORM commit per row) measured in the same run. "
        "Progress goes to stderr, the report to stdout.",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get(POSTGRES_ENV) or None,
        help=f"also run on this PostgreSQL database (default ${POSTGRES_ENV}); its public "
        "schema is DROPPED and recreated by every phase, so give it a database of its own",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run with small sizes")
    parser.add_argument("--only", metavar="NAME,…", help=f"run only these rows: {', '.join(NAMES)}")
    for name, (full, quick) in SIZES.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=int, help=f"default {full:,} ({quick:,} with --quick)")
    parser.add_argument(
        "--batch-size", type=int, default=SweepSettings().batch_size, help="sweep batch size"
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed for the populations")
    return parser


def _sizes(args: argparse.Namespace) -> dict[str, int]:
    return {
        name: getattr(args, name) or (quick if args.quick else full)
        for name, (full, quick) in SIZES.items()
    }


def _only(args: argparse.Namespace) -> set[str] | None:
    if not args.only:
        return set(NAMES)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(NAMES)
    if unknown:
        print(f"bench: unknown --only name(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return None
    return wanted


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    only = _only(args)
    if only is None:
        return 2
    sizes = _sizes(args)
    if min(sizes.values()) < 1 or sizes["samples"] < 2:
        print("bench: sizes must be positive and --samples at least 2", file=sys.stderr)
        return 2
    # APScheduler logs every misfired job of the baselines; the figures count them instead.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    started = time.perf_counter()
    load_before = report.load_average()
    shared = Shared(sizes=sizes, only=only)
    _baselines(shared)
    if "picture" in only:
        progress(f"picture of the year: {sizes['picture_samples']:,} drawn, the loop probed")
        shared.picture = picture.measure(sizes["picture_samples"])
        settle()
    targets = [Target.sqlite()]
    if args.postgres:
        targets.append(Target.postgres(args.postgres))
    results: list[Results] = []
    for target in targets:
        try:
            results.append(_run_target(target, shared, args))
        finally:
            target.close()
    if "fanout" in only:
        shared.fanout = fanout_result(args.quick)

    facts = [
        *report.machine_facts(),
        ("PostgreSQL", _server_version(args.postgres) if args.postgres else "not run"),
        ("packages", report.package_versions(PACKAGES)),
        ("command", _command(argv)),
        ("run on", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("took", f"{time.perf_counter() - started:,.0f} s"),
        ("load average", f"{load_before} at start, {report.load_average()} at end"),
        ("engine clock", f"ManualClock from {BENCH_NOW:%a %Y-%m-%d %H:%M} UTC"),
        ("sizes", ", ".join(f"{k.replace('_', '-')} {v:,}" for k, v in sizes.items())),
    ]
    rows = figures(results, shared, postgres=bool(args.postgres))
    print(report.facts_block("Habit Coach benchmark", facts))
    print()
    print(report.issue_table(rows))
    print()
    print(details(results, shared))
    failed = [row for row in rows if row.met.startswith("NO") and "check" in row.target]
    progress(f"done in {time.perf_counter() - started:,.0f} s")
    if failed:
        progress(
            "correctness checks failed: " + "; ".join(f"{r.name} ({r.database})" for r in failed)
        )
        return 1
    return 0


def _command(argv: list[str]) -> str:
    shown = []
    for arg in argv:
        if "://" in arg:
            url = make_url(arg)
            arg = url.render_as_string(hide_password=True)
        shown.append(shlex.quote(arg))
    return " ".join(["python -m bench", *shown])


def _server_version(url: str) -> str:
    engine = make_engine(Target.postgres(url).postgres_url or url, pool_size=1)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar_one())
    except Exception as exc:  # the run itself will say more
        return f"unreachable ({type(exc).__name__})"
    finally:
        engine.dispose()


def _baselines(shared: Shared) -> None:
    """The APScheduler samples, first, while the heap is fresh (RSS growth would read low on a
    heap that has grown and freed before)."""
    sizes, only = shared.sizes, shared.only
    rows = member_zones(sizes["jobs_sample"], 7)
    if "memory" in only:
        progress(f"baseline: memory of {len(rows):,} APScheduler jobs")
        shared.jobs_memory = baseline.jobs_memory(rows)
        settle()
    if "sweep" in only:
        progress(f"baseline: event loop while {len(rows):,} APScheduler jobs come due at once")
        shared.jobs_lag = baseline.jobs_due_at_once(rows)
        settle()
    if "restart" in only:
        sample = member_zones(sizes["restart_sample"], 11)
        progress(f"baseline: APScheduler restart with {len(sample):,} overdue jobs")
        with tempfile.TemporaryDirectory(prefix="habit-coach-bench-jobs-") as folder:
            shared.jobs_restart = jobs_restart(sample, Path(folder))
        settle()


def _run_target(target: Target, shared: Shared, args: argparse.Namespace) -> Results:
    result = Results(target.name)
    only, sizes = shared.only, shared.sizes
    settings = SweepSettings(batch_size=args.batch_size)
    threads = 1 if target.is_sqlite else 4
    if only & {"latency", "sweep", "memory"}:
        _small_phase(target, result, shared, settings, threads, args.seed)
    if only & {"sweep", "idle", "memory", "restart"}:
        _large_phase(target, result, shared, settings, threads, args.seed)
    if "replicas" in only and not target.is_sqlite:
        assert target.postgres_url is not None
        url = target.fresh("replicas")
        engine = make_engine(url)
        try:
            members = sizes["replica_members"]
            progress(f"{target.name}: 3 replicas, {members:,} due, one SIGKILLed mid-batch")
            result.replicas = replicas.run_ours(url, engine, members, lease=3.0, send_ms=5.0)
        finally:
            engine.dispose()
        url = target.fresh("replicas-baseline")
        engine = make_engine(url)
        try:
            progress(f"{target.name}: baseline, 3 processes with one APScheduler job per member")
            result.replicas_baseline = replicas.run_apscheduler(url, engine, members, send_ms=5.0)
        finally:
            engine.dispose()
    return result


def _small_phase(
    target: Target,
    result: Results,
    shared: Shared,
    settings: SweepSettings,
    threads: int,
    seed: int,
) -> None:
    only, size = shared.only, shared.sizes["small"]
    url = target.fresh(f"members-{size}")
    engine = make_engine(url, pool_size=threads)
    uow_factory, clock = SqlUnitOfWorkFactory(engine), ManualClock(BENCH_NOW)
    coach, outbox = Coach(uow_factory, clock), Outbox(uow_factory, clock)
    try:
        if "latency" in only:
            progress(f"{target.name}: populating {size:,} members with history")
            pop = populate(engine, size, BENCH_NOW, seed)
            result.notes.append(
                f"populate {size:,} members + history: {pop.seconds_total:.1f} s "
                f"({pop.publications:,} publications, {pop.distinct_plans:,} distinct schedules)"
            )
            samples = shared.sizes["samples"]
            progress(f"{target.name}: latency, {samples:,} × /published and /streak")
            rng = random.Random(seed)
            warmup = max(20, min(200, samples // 10))
            refs = ours.random_refs(engine, samples + warmup, size, rng)
            result.latency = ours.command_latency(coach, refs, samples, warmup, tag=str(seed))
        else:
            progress(f"{target.name}: populating {size:,} members")
            members = populate_members(engine, size, BENCH_NOW, seed)
            result.notes.append(f"populate {size:,} members: {members.seconds_total:.1f} s")
        if only & {"sweep", "memory"}:
            _sweeps(target, engine, outbox, result, settings, threads, size, BENCH_NOW, shared)
        if "sweep" in only:
            sample = min(shared.sizes["naive_sample"], size)
            progress(f"{target.name}: naive sweep, ORM commit per row, {sample:,} rows")
            result.naive = baseline.naive_sweep(
                engine,
                list(PLATFORMS),
                BENCH_NOW,
                BENCH_NOW - timedelta(hours=5),
                sample,
                size,
                random.Random(seed),
            )
    finally:
        engine.dispose()
        target.discard(url)


def _sweeps(
    target: Target,
    engine: Engine,
    outbox: Outbox,
    result: Results,
    settings: SweepSettings,
    threads: int,
    size: int,
    now: datetime,
    shared: Shared,
) -> None:
    platforms = list(PLATFORMS)
    progress(f"{target.name}: sweep of {size:,} due, batches on a thread pool, loop probed")
    due_at = ours.due_instant(now, 0)
    result.sweeps[size] = ours.loop_sweep(
        engine, outbox, platforms, settings, due_at, size, threads
    )
    if "memory" in shared.only:
        progress(f"{target.name}: sweep of {size:,} due under tracemalloc")
        result.traced[size] = ours.timed_sweep(
            engine, outbox, platforms, settings, ours.due_instant(now, 1), size, "traced"
        )


def _large_phase(
    target: Target,
    result: Results,
    shared: Shared,
    settings: SweepSettings,
    threads: int,
    seed: int,
) -> None:
    only, size = shared.only, shared.sizes["large"]
    url = target.fresh(f"members-{size}")
    engine = make_engine(url, pool_size=threads)
    try:
        progress(f"{target.name}: populating {size:,} members (bulk, no history)")
        members = populate_members(engine, size, BENCH_NOW, seed + 1)
        result.notes.append(
            f"populate {size:,} members (bulk): {members.seconds_total:.1f} s "
            f"(generate {members.seconds_generate:.1f} s, write {members.seconds_write:.1f} s, "
            f"{members.distinct_plans:,} distinct schedules)"
        )
        now = BENCH_NOW
        if "restart" in only:
            now = BENCH_NOW + DOWN_FOR
            progress(f"{target.name}: restart after an hour down, {size:,} members")
            result.restart = restart(url, engine, list(PLATFORMS), BENCH_NOW, now)
            _settle_log(engine, now)
        outbox = Outbox(SqlUnitOfWorkFactory(engine), ManualClock(now))
        if "idle" in only:
            progress(f"{target.name}: idle ticks over {size:,} members")
            result.idle = idle_tick(
                engine, outbox, list(PLATFORMS), settings, shared.sizes["idle_ticks"]
            )
        if only & {"sweep", "memory"}:
            _sweeps(target, engine, outbox, result, settings, threads, size, now, shared)
    finally:
        engine.dispose()
        target.discard(url)


def _settle_log(engine: Engine, now: datetime) -> None:
    """Mark the restart's deliveries sent, so the idle tick that follows has nothing to claim
    (the platforms would have taken them by now), then refresh PostgreSQL's statistics."""
    with engine.begin() as connection:
        connection.execute(
            update(deliveries).values(
                status="sent", finished_at=now, lease_owner=None, lease_until=None
            )
        )
    analyze(engine)
