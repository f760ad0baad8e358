"""``python -m bench``: populate a SQLite file, measure ours and the baselines, print the table."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import baseline, ours, report
from bench.measure import MB, Latency, progress, settle
from bench.population import (
    BENCH_NOW,
    PLATFORMS,
    Populated,
    member_zones,
    plan_cost,
    populate,
)
from bench.report import Row, megabytes, millis, ratio, seconds, verdict
from habits.model import ManualClock
from habits.service import Coach, SweepSettings
from storage.database import make_engine, upgrade
from storage.uow import SqlUnitOfWorkFactory

LATENCY_TARGET_MS = 10.0
SWEEP_TARGET_S = 3.0
MEMORY_TARGET_PER_100K = 50 * MB
QUICK_MEMBERS = 10_000
QUICK_SAMPLES = 500


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the Habit Coach engine on SQLite against one APScheduler job "
        "per member. Progress goes to stderr, the report to stdout.",
    )
    parser.add_argument("--members", type=int, help="members to create (default 100000)")
    parser.add_argument("--samples", type=int, help="calls per command for latency (default 2000)")
    parser.add_argument("--db", type=Path, help="SQLite file to create (default: a temp dir)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_MEMBERS:,} members, {QUICK_SAMPLES} samples",
    )
    parser.add_argument("--sweeps", type=int, default=3, help="timed full sweeps (median)")
    parser.add_argument("--idle-ticks", type=int, default=500, help="idle ticks (median)")
    parser.add_argument("--naive-sample", type=int, default=2000, help="rows for the naive sweep")
    parser.add_argument(
        "--batch-size", type=int, default=SweepSettings().batch_size, help="sweep batch size"
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed for the population")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip APScheduler and the naive sweep"
    )
    parser.add_argument("--profile", action="store_true", help="print cProfile of one sweep")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    count = args.members or (QUICK_MEMBERS if args.quick else 100_000)
    samples = args.samples or (QUICK_SAMPLES if args.quick else 2000)
    if count < 1 or samples < 2 or not 1 <= args.sweeps <= 100:
        print("bench: needs --members >= 1, --samples >= 2, 1 <= --sweeps <= 100", file=sys.stderr)
        return 2
    if args.db is not None:
        if args.db.exists():
            print(f"bench: {args.db} exists; pass a new file", file=sys.stderr)
            return 2
        return _run(args, count, samples, args.db)
    with tempfile.TemporaryDirectory(prefix="habit-coach-bench-") as tmp:
        return _run(args, count, samples, Path(tmp) / "bench.db")


def _run(args: argparse.Namespace, count: int, samples: int, path: Path) -> int:
    started = time.perf_counter()
    load_before = report.load_average()
    rng = random.Random(args.seed)
    url = f"sqlite:///{path}"
    platforms = list(PLATFORMS)
    settings = SweepSettings(batch_size=args.batch_size)
    now = BENCH_NOW

    progress(f"migrating {path}")
    upgrade(url)
    engine = make_engine(url)
    coach = Coach(SqlUnitOfWorkFactory(engine), ManualClock(now))
    try:
        jobs = None
        if not args.no_baseline:
            # First, on a fresh heap, so the RSS the jobs add is not hidden by reused memory.
            progress(f"APScheduler: adding {count:,} jobs")
            jobs = baseline.apscheduler_jobs(member_zones(count, args.seed))
            settle()

        progress(f"populating {count:,} members")
        pop = populate(engine, count, now, args.seed)
        plan_seconds = plan_cost(pop.plan_samples, now)

        progress(f"latency: {samples:,} × /published and /streak")
        warmup = max(20, min(200, samples // 10))
        refs = ours.random_refs(engine, samples + warmup, count, rng)
        latency = ours.command_latency(coach, refs, samples, warmup, tag=str(args.seed))
        del refs

        runs = []
        for run in range(args.sweeps):
            progress(f"sweep {run + 1}/{args.sweeps}: {count:,} due")
            due_at = ours.due_instant(now, run)
            runs.append(ours.timed_sweep(engine, coach, platforms, settings, due_at, count))
        progress("sweep under tracemalloc")
        traced_run = ours.timed_sweep(
            engine, coach, platforms, settings, ours.due_instant(now, args.sweeps), count, "traced"
        )
        profile = ""
        if args.profile:
            progress("sweep under cProfile")
            due_at = ours.due_instant(now, args.sweeps + 1)
            profile = ours.profile_sweep(engine, coach, platforms, settings, due_at)
        progress(f"{args.idle_ticks} idle ticks")
        idle = ours.idle_ticks(coach, platforms, settings, args.idle_ticks)

        naive = None
        if not args.no_baseline:
            sample = min(args.naive_sample, count)
            progress(f"naive sweep: ORM commit per row, {sample:,} rows")
            naive = baseline.naive_sweep(
                engine, platforms, now, now - timedelta(hours=5), sample, count, rng
            )
    finally:
        engine.dispose()

    rows = _rows(count, pop, plan_seconds, latency, runs, traced_run, idle, naive, jobs)
    facts = [
        *report.machine_facts(),
        ("run on", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("database", f"SQLite file, WAL, migrated to head ({path})"),
        (
            "members",
            f"{count:,} ({pop.publications:,} publications, {pop.goal_changes:,} goal "
            f"changes, {pop.rest_weeks:,} rest weeks)",
        ),
        ("load average", f"{load_before} at start, {report.load_average()} at end (1/5/15 min)"),
        ("engine clock", f"ManualClock at {now:%a %Y-%m-%d %H:%M} UTC"),
        ("sweep", f"platforms {', '.join(platforms)}; batch {settings.batch_size}"),
        (
            "samples",
            f"{samples:,} per command after {warmup} warm-up; {args.idle_ticks} idle "
            f"ticks; {args.sweeps} timed sweeps",
        ),
    ]
    print()
    print(report.facts_block("Habit Coach benchmark", facts))
    print()
    print(report.table(rows))
    print()
    print(_details(pop, runs, traced_run, naive, jobs))
    if profile:
        print()
        print("cProfile of one full sweep")
        print(profile)
    progress(f"done in {time.perf_counter() - started:,.0f} s")
    return 0


def _rows(
    count: int,
    pop: Populated,
    plan_seconds: float,
    latency: ours.CommandLatency,
    runs: list[ours.SweepRun],
    traced_run: ours.SweepRun,
    idle: Latency,
    naive: baseline.NaiveResult | None,
    jobs: baseline.JobsResult | None,
) -> list[Row]:
    n = f"{count:,}"
    rows = [
        Row(f"populate {n} members + history", seconds(pop.seconds_total)),
        Row(
            f"schedule {n} members (plan + INSERT vs add jobs)",
            seconds(pop.seconds_schedule),
            seconds(jobs.seconds) if jobs else "—",
            ratio(pop.seconds_schedule, jobs.seconds) if jobs else "—",
        ),
        Row(
            "plan() per member, un-memoised",
            f"{plan_seconds * 1e6:.0f} µs",
            target=f"(× {n} = {plan_seconds * count:.1f} s)",
        ),
    ]
    for name, figures in (("/published", latency.published), ("/streak", latency.streak)):
        rows += [
            Row(f"{name} p50", millis(figures.p50)),
            Row(
                f"{name} p99",
                millis(figures.p99),
                target=f"< {LATENCY_TARGET_MS:.0f} ms",
                met=verdict(figures.p99 < LATENCY_TARGET_MS),
            ),
            Row(f"{name} mean", millis(figures.mean)),
        ]
    rows.append(
        Row(
            "command failures (Reply.ok false)",
            str(latency.failures),
            target="0",
            met=verdict(latency.failures == 0),
        )
    )

    sweep = statistics.median(run.seconds for run in runs)
    naive_full = naive.extrapolate(count) if naive else float("nan")
    target = SWEEP_TARGET_S * count / 100_000
    rows += [
        Row(
            f"sweep {n} due nudges (median of {len(runs)})",
            seconds(sweep),
            f"{seconds(naive_full)} (extrapolated)" if naive else "—",
            ratio(sweep, naive_full) if naive else "—",
            f"≤ {target:g} s" + (" (3 s per 100k)" if count != 100_000 else ""),
            verdict(sweep <= target),
        ),
        Row(
            "sweep throughput",
            f"{count / sweep:,.0f} /s",
            f"{naive.sample / naive.seconds:,.0f} /s" if naive else "—",
        ),
    ]
    all_runs = [*runs, traced_run]
    exact = all(run.exact and run.added == count for run in all_runs)
    worst_dup = max(run.duplicates for run in all_runs)
    worst_missed = max(run.missed + run.still_due for run in all_runs)
    rows.append(
        Row(
            "deliveries logged per sweep",
            f"{min(r.added for r in all_runs):,}–{max(r.added for r in all_runs):,}; "
            f"dup {worst_dup}, missed {worst_missed}",
            f"{naive.logged:,} of {naive.sample:,}" if naive else "—",
            target=f"= {n}, 0 dup, 0 missed",
            met=verdict(exact),
        )
    )
    rows.append(Row(f"idle tick over {n} rows (median)", millis(idle.p50)))
    rows.append(Row("idle tick p99", millis(idle.p99)))

    # Our memory does not grow with N (one batch at a time), so small runs keep the 100k target.
    memory_target = MEMORY_TARGET_PER_100K * max(count, 100_000) / 100_000
    target_text = f"< {megabytes(memory_target)}"
    if count != 100_000:
        target_text += " (50 MB per 100k)"
    rss_peak = statistics.median(run.rss.peak_added for run in runs if run.rss)
    traced = traced_run.traced.peak_added if traced_run.traced else float("nan")
    jobs_traced = jobs.traced_per_job * count if jobs else float("nan")
    rows += [
        Row(
            "memory: RSS peak added by a sweep vs N jobs",
            megabytes(rss_peak),
            megabytes(jobs.rss_added) if jobs else "—",
            ratio(rss_peak, jobs.rss_added) if jobs else "—",
            target_text,
            verdict(rss_peak < memory_target),
        ),
        Row(
            "memory: tracemalloc peak, sweep vs N jobs",
            megabytes(traced),
            f"{megabytes(jobs_traced)} (extrapolated)" if jobs else "—",
            ratio(traced, jobs_traced) if jobs else "—",
            target_text,
            verdict(traced < memory_target),
        ),
    ]
    return rows


def _details(
    pop: Populated,
    runs: list[ours.SweepRun],
    traced_run: ours.SweepRun,
    naive: baseline.NaiveResult | None,
    jobs: baseline.JobsResult | None,
) -> str:
    lines = ["Details"]
    lines.append(
        f"  populate: plan {pop.seconds_plan:.2f} s ({pop.distinct_plans:,} distinct schedules), "
        f"INSERT members {pop.seconds_insert_members:.2f} s, INSERT history "
        f"{pop.seconds_insert_history:.2f} s, total {pop.seconds_total:.2f} s"
    )
    for index, run in enumerate(runs, 1):
        rss = run.rss
        memory = (
            f"RSS peak +{megabytes(rss.peak_added)} ({rss.method}), kept +{megabytes(rss.retained)}"
            if rss
            else ""
        )
        lines.append(
            f"  sweep {index}: {run.seconds:.2f} s, swept {run.swept:,}, logged {run.added:,}, "
            f"dup {run.duplicates}, missed {run.missed}, still due {run.still_due}; {memory}"
        )
    if traced_run.traced:
        lines.append(
            f"  sweep under tracemalloc: {traced_run.seconds:.2f} s (slowed by tracing), "
            f"peak +{megabytes(traced_run.traced.peak_added)}, "
            f"kept +{megabytes(traced_run.traced.retained)}, logged {traced_run.added:,}"
        )
    if naive:
        lines.append(
            f"  naive sweep: {naive.sample:,} rows in {naive.seconds:.2f} s "
            f"({naive.seconds / naive.sample * 1000:.2f} ms/row), logged {naive.logged:,}; "
            "the baseline figure is that rate × N (extrapolated, not run)"
        )
    if jobs:
        lines.append(
            f"  APScheduler: {jobs.count:,} jobs added in {jobs.seconds:.2f} s, RSS "
            f"+{megabytes(jobs.rss_added)} ({jobs.rss_added / max(jobs.count, 1) / 1024:.1f} "
            f"KB/job); tracemalloc {jobs.traced_per_job / 1024:.1f} KB/job on "
            f"{jobs.traced_sample:,} jobs"
        )
    return "\n".join(lines)
