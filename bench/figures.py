"""What a run measured, turned into the scale table's rows (ours beside the naive baseline) and the
details printed under the table."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from bench import baseline, ours
from bench.idle import IdleTick
from bench.measure import MB
from bench.picture import LAG_PICTURES, PictureResult
from bench.replicas import ReplicasResult
from bench.report import Figure, count, megabytes, millis, ratio, seconds, verdict
from bench.restart import JobsRestart, RestartResult

LATENCY_TARGET_MS = {"SQLite": 10.0, "PostgreSQL": 25.0}
SWEEP_TARGET_S = {100_000: 2.0, 1_000_000: 30.0}
LAG_TARGET_MS = 100.0
IDLE_TARGET_MS = 1.0
MEMORY_TARGET_PER_100K = 30 * MB
RESTART_READY_S = 2.0
RESTART_QUEUED_S = 1.0
PICTURE_RENDER_TARGET_MS = 30.0
PICTURE_SIZE_TARGET = 40 * 1024
PICTURE_LAG_TARGET_MS = 20.0
CHECK = "check: "  # targets that are correctness checks (a failure sets the exit status)


@dataclass
class Shared:
    """Inputs and database-independent baselines of one run."""

    sizes: dict[str, int]
    only: set[str]
    jobs_memory: baseline.JobsMemory | None = None
    jobs_lag: baseline.JobsLag | None = None
    jobs_restart: JobsRestart | None = None
    fanout: Any = None  # the PACING helper's dataclass, or a string saying why not
    picture: PictureResult | None = None


@dataclass
class Results:
    """Everything measured on one database."""

    database: str
    latency: ours.CommandLatency | None = None
    sweeps: dict[int, ours.SweepRun] = field(default_factory=dict)
    traced: dict[int, ours.SweepRun] = field(default_factory=dict)
    naive: baseline.NaiveResult | None = None
    idle: IdleTick | None = None
    restart: RestartResult | None = None
    replicas: ReplicasResult | None = None
    replicas_baseline: ReplicasResult | None = None
    notes: list[str] = field(default_factory=list)


def _sweep_target(size: int) -> float:
    """2 s for 100k, 30 s for 1M; other sizes scaled linearly from the nearer one."""
    if size in SWEEP_TARGET_S:
        return SWEEP_TARGET_S[size]
    per_member = 2.0 / 100_000 if size <= 100_000 else 30.0 / 1_000_000
    return per_member * size


def figures(results: list[Results], shared: Shared, postgres: bool) -> list[Figure]:
    rows: list[Figure] = []
    only = shared.only
    databases = [r.database for r in results]
    if postgres is False:
        databases.append("PostgreSQL")
    by_name = {r.database: r for r in results}
    for name in ("latency", "sweep", "idle", "memory", "restart"):
        if name not in only:
            continue
        for database in databases:
            result = by_name.get(database)
            if result is None:
                rows.append(_skipped(name, database, shared))
                continue
            rows += ROW_MAKERS[name](result, shared)
    if "fanout" in only:
        rows += _fanout(shared)
    if shared.picture is not None:
        rows += _picture(shared.picture)
    if "replicas" in only:
        result = by_name.get("PostgreSQL")
        rows += _replicas(result) if result else [_skipped("replicas", "PostgreSQL", shared)]
    return rows


def _skipped(name: str, database: str, shared: Shared) -> Figure:
    return Figure(name, WORKLOADS[name](shared.sizes), database, "skipped: no PostgreSQL URL")


WORKLOADS = {
    "latency": lambda s: f"/published, /streak at {count(s['small'])} members",
    "sweep": lambda s: f"{count(s['small'])} and {count(s['large'])} due at once",
    "idle": lambda s: f"nothing due, {count(s['large'])} members",
    "memory": lambda s: f"sweeping {count(s['small'])} vs {count(s['large'])} members",
    "restart": lambda s: f"{count(s['large'])} members, down for an hour",
    "replicas": lambda s: f"3 replicas, {s['replica_members']:,} due, one SIGKILLed",
}


def _latency(result: Results, shared: Shared) -> list[Figure]:
    latency = result.latency
    if latency is None:
        return []
    target = LATENCY_TARGET_MS[result.database]
    workload = WORKLOADS["latency"](shared.sizes)
    rows = []
    for command, figures_ in (("/published", latency.published), ("/streak", latency.streak)):
        rows.append(
            Figure(
                f"command latency {command} p99",
                workload,
                result.database,
                f"{millis(figures_.p99)} (p50 {millis(figures_.p50)})",
                "— (same command path)",
                target=f"< {target:g} ms",
                met=verdict(figures_.p99 < target and latency.failures == 0),
            )
        )
    return rows


def _sweep(result: Results, shared: Shared) -> list[Figure]:
    rows = []
    naive = result.naive
    for size, run in sorted(result.sweeps.items()):
        workload = f"{count(size)} members due at once"
        goal = _sweep_target(size)
        naive_seconds = naive.extrapolate(size) if naive else math.nan
        rows.append(
            Figure(
                "sweep: time",
                workload,
                result.database,
                seconds(run.seconds),
                f"{seconds(naive_seconds)} (extrapolated)" if naive else "—",
                ratio(run.seconds, naive_seconds) if naive else "—",
                f"≤ {goal:g} s",
                verdict(run.seconds <= goal),
            )
        )
        rows.append(
            Figure(
                "sweep: duplicates / missed",
                workload,
                result.database,
                f"{run.duplicates} / {run.missed + run.still_due} ({run.added:,} logged)",
                f"{naive.logged:,} logged of {naive.sample:,} (sample)" if naive else "—",
                target=CHECK + "0 / 0",
                met=verdict(run.exact and run.added == size),
            )
        )
        lag = run.lag
        jobs = shared.jobs_lag
        jobs_worst = jobs.extrapolate_worst(size) if jobs else math.nan
        rows.append(
            Figure(
                "sweep: event-loop lag max (p99)",
                workload,
                result.database,
                f"{millis(lag.worst)} ({millis(lag.p99)})" if lag else "—",
                f"{millis(jobs_worst)} (extrapolated)" if jobs else "—",
                ratio(lag.worst, jobs_worst) if lag and jobs else "—",
                f"< {LAG_TARGET_MS:g} ms",
                verdict(lag is not None and lag.worst < LAG_TARGET_MS),
            )
        )
    return rows


def _idle(result: Results, shared: Shared) -> list[Figure]:
    idle = result.idle
    if idle is None:
        return []
    workload = WORKLOADS["idle"](shared.sizes)
    median_us = idle.latency.p50 * 1000
    return [
        Figure(
            "idle tick: time (median)",
            workload,
            result.database,
            f"{median_us:,.0f} µs (p99 {idle.latency.p99 * 1000:,.0f} µs)",
            "— (APScheduler sleeps until its next job)",
            target=f"< {IDLE_TARGET_MS * 1000:,.0f} µs",
            met=verdict(idle.latency.p50 < IDLE_TARGET_MS),
        ),
        Figure(
            "idle tick: query plan",
            workload,
            result.database,
            ("index search" if idle.indexed else "NO index search")
            + f" on members; found {idle.found}",
            "—",
            target=CHECK + "index search, 0 found",
            met=verdict(idle.indexed and idle.found == 0),
        ),
    ]


def _memory(result: Results, shared: Shared) -> list[Figure]:
    rows = []
    jobs = shared.jobs_memory
    per_100k: list[float] = []
    for size, traced_run in sorted(result.traced.items()):
        traced = traced_run.traced.peak_added if traced_run.traced else math.nan
        swept = result.sweeps.get(size)
        rss = swept.rss.peak_added if swept and swept.rss else math.nan
        scale = 100_000 / size
        per_100k.append(traced * scale)
        flat = len(per_100k) < 2 or per_100k[-1] <= per_100k[0] * 1.1
        jobs_bytes = jobs.extrapolate(size) if jobs else math.nan
        budget = MEMORY_TARGET_PER_100K * size / 100_000
        rows.append(
            Figure(
                "memory: tracemalloc peak (RSS peak)",
                f"sweeping {count(size)} members",
                result.database,
                f"{megabytes(traced)} ({megabytes(rss)}); {megabytes(traced * scale)} per 100k",
                f"{megabytes(jobs_bytes)} (extrapolated, {count(size)} jobs)" if jobs else "—",
                ratio(traced, jobs_bytes) if jobs else "—",
                f"< {megabytes(budget)}" + (", flat" if len(per_100k) > 1 else ""),
                verdict(traced < budget and flat),
            )
        )
    return rows


def _restart(result: Results, shared: Shared) -> list[Figure]:
    run = result.restart
    if run is None:
        return []
    jobs = shared.jobs_restart
    workload = WORKLOADS["restart"](shared.sizes)
    size = shared.sizes["large"]
    lost_share = jobs.persisted_missed / jobs.sample if jobs else math.nan
    return [
        Figure(
            "restart: ready",
            workload,
            result.database,
            seconds(run.ready_seconds),
            f"{seconds(jobs.rebuild(size))} (rebuild {count(size)} jobs, extrapolated)"
            if jobs
            else "—",
            ratio(run.ready_seconds, jobs.rebuild(size)) if jobs else "—",
            f"< {RESTART_READY_S:g} s",
            verdict(run.ready_seconds < RESTART_READY_S),
        ),
        Figure(
            "restart: first overdue queued",
            f"{run.overdue:,} slots fell in the hour",
            result.database,
            seconds(run.first_queued_seconds),
            "never (missed: see lost)" if jobs else "—",
            target=f"< {RESTART_QUEUED_S:g} s",
            met=verdict(run.first_queued_seconds < RESTART_QUEUED_S),
        ),
        Figure(
            "restart: every overdue queued",
            f"{run.overdue:,} slots fell in the hour",
            result.database,
            seconds(run.queued_seconds),
            "never (missed: see lost)" if jobs else "—",
            target=f"< {RESTART_QUEUED_S:g} s",
            met=verdict(run.queued_seconds < RESTART_QUEUED_S),
        ),
        Figure(
            "restart: lost / duplicates",
            f"{run.overdue:,} overdue",
            result.database,
            f"{run.lost} / {run.duplicates}",
            f"{lost_share * run.overdue:,.0f} / 0 (all misfired, sample of {jobs.sample:,})"
            if jobs
            else "—",
            target=CHECK + "0 / 0",
            met=verdict(run.lost == 0 and run.duplicates == 0 and run.still_due == 0),
        ),
    ]


def _replicas(result: Results) -> list[Figure]:
    run, naive = result.replicas, result.replicas_baseline
    if run is None:
        return []
    workload = f"3 replicas, {run.members:,} due, one SIGKILLed mid-batch"
    beyond_edge = run.duplicates - run.edge_duplicates
    return [
        Figure(
            "replicas: duplicates / lost",
            workload,
            result.database,
            f"{run.duplicates} / {run.lost}"
            + (f" ({run.edge_duplicates} at the kill edge)" if run.edge_duplicates else ""),
            f"{naive.duplicates:,} / {naive.lost:,}" if naive else "—",
            target=CHECK + "0 / 0 (beyond the documented edge)",
            met=verdict(beyond_edge == 0 and run.lost == 0),
        ),
        Figure(
            "replicas: time to finish",
            workload,
            result.database,
            seconds(run.seconds),
            seconds(naive.seconds) if naive else "—",
        ),
    ]


ROW_MAKERS = {
    "latency": _latency,
    "sweep": _sweep,
    "idle": _idle,
    "memory": _memory,
    "restart": _restart,
}


# --- fan-out: the PACING helper's measurement, when it exists ---------------------------------


def fanout_result(quick: bool) -> Any:
    """Run ``bench.fanout.measure`` (the PACING helper's) if the module exists, else say so.

    Its output to stdout (the adapter's "connected" lines) goes to stderr with our progress.
    """
    if importlib.util.find_spec("bench.fanout") is None:
        return "pending: bench/fanout.py does not exist yet"
    module = importlib.import_module("bench.fanout")
    measure = getattr(module, "measure", None)
    if measure is None:
        return "pending: bench.fanout has no measure()"
    sizes = {"members": 1_000, "seconds": 10.0} if quick else {}
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return measure(**sizes)
    except Exception as exc:  # another helper's module: its failure must not lose our table
        traceback.print_exc()
        return f"failed: {type(exc).__name__}: {str(exc)[:120]}"


def _fanout(shared: Shared) -> list[Figure]:
    outcome = shared.fanout
    workload = "fake Discord, 50 req/s"
    if outcome is None or isinstance(outcome, str):
        target = "≥ 45 req/s, 0 global 429s, < 1,000 invalid / 10 min"
        return [Figure("fan-out", workload, "—", outcome or "pending", target=target)]
    module = importlib.import_module("bench.fanout")
    return [
        Figure(
            row.name,
            workload,
            "SQLite",
            row.ours,
            f"{row.baseline} (discord.py alone)" if row.baseline != "—" else "—",
            row.ratio,
            row.target,
            row.met,
        )
        for row in module.rows(outcome)
    ]


# --- the picture of the year (database-independent) ---------------------------------------------


def _picture(result: PictureResult) -> list[Figure]:
    workload = "52 weeks of every state, 1 PNG"
    render, blank = result.render, result.blank
    thread, inline = result.lag_thread, result.lag_inline
    return [
        Figure(
            "picture: render time median (p99)",
            workload,
            "—",
            f"{millis(render.p50)} ({millis(render.p99)})",
            f"{millis(blank.p50)} (blank PNG, same size)",
            ratio(render.p50, blank.p50),
            f"< {PICTURE_RENDER_TARGET_MS:.0f} ms",
            verdict(render.p50 < PICTURE_RENDER_TARGET_MS),
        ),
        Figure(
            "picture: PNG size",
            workload,
            "—",
            f"{result.size_bytes / 1024:.1f} KB",
            target=f"< {PICTURE_SIZE_TARGET // 1024} KB",
            met=verdict(result.size_bytes < PICTURE_SIZE_TARGET),
        ),
        Figure(
            "picture: event-loop lag max (p99)",
            f"{LAG_PICTURES} pictures drawn",
            "—",
            f"{millis(thread.worst)} ({millis(thread.p99)}), worker thread",
            f"{millis(inline.worst)} ({millis(inline.p99)}), drawn on the loop",
            ratio(thread.worst, inline.worst),
            f"< {PICTURE_LAG_TARGET_MS:.0f} ms",
            verdict(thread.worst < PICTURE_LAG_TARGET_MS),
        ),
    ]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}"
    return str(value)


# --- details under the table ------------------------------------------------------------------


def details(results: list[Results], shared: Shared) -> str:
    lines = ["Details"]
    jobs = shared.jobs_memory
    if jobs:
        lines.append(
            f"  APScheduler memory: {jobs.sample:,} jobs added in {jobs.seconds:.2f} s; "
            f"{jobs.traced_per_job / 1024:.2f} KB/job (tracemalloc), "
            f"{jobs.rss_per_job / 1024:.2f} KB/job (RSS)"
        )
    jobs_lag = shared.jobs_lag
    if jobs_lag:
        lines.append(
            f"  APScheduler due at once: {jobs_lag.sample:,} jobs (doing nothing) settled in "
            f"{jobs_lag.seconds:.2f} s, {jobs_lag.missed:,} of them declared missed "
            f"(misfire_grace_time 1 s); loop lag max {millis(jobs_lag.lag.worst)}, p99 "
            f"{millis(jobs_lag.lag.p99)}; the worst stall grows with the due jobs (one scheduler "
            "pass submits every one), so it is extrapolated linearly"
        )
    restart = shared.jobs_restart
    if restart:
        lines.append(
            f"  APScheduler restart, {restart.sample:,} members: rebuilding one job each "
            f"(MemoryJobStore) took {restart.rebuild_seconds:.2f} s and produced "
            f"{restart.rebuild_overdue_fired} runs for the missed hour (triggers start from "
            f"now); a persistent SQLAlchemyJobStore started in "
            f"{restart.persisted_ready_seconds:.3f} s, then declared "
            f"{restart.persisted_missed:,} overdue jobs missed and ran "
            f"{restart.persisted_run:,} in {restart.persisted_settled_seconds:.1f} s "
            "(misfire_grace_time 1 s, the default)"
        )
    for result in results:
        lines.append(f"  {result.database}:")
        lines += [f"    {note}" for note in result.notes]
        for size, run in sorted(result.sweeps.items()):
            lag = run.lag
            lines.append(
                f"    sweep {size:,}: {run.seconds:.2f} s, swept {run.swept:,}, logged "
                f"{run.added:,}, dup {run.duplicates}, missed {run.missed}, still due "
                f"{run.still_due}; RSS peak +{megabytes(run.rss.peak_added if run.rss else 0)}"
                + (
                    f"; loop lag p50 {millis(lag.p50)}, p99 {millis(lag.p99)}, max "
                    f"{millis(lag.worst)} over {lag.count:,} probes"
                    if lag
                    else ""
                )
            )
        for size, run in sorted(result.traced.items()):
            if run.traced:
                lines.append(
                    f"    sweep {size:,} under tracemalloc: {run.seconds:.1f} s (slowed by "
                    f"tracing), peak +{megabytes(run.traced.peak_added)}, kept "
                    f"+{megabytes(run.traced.retained)}, exact {run.exact}"
                )
        if result.naive:
            naive = result.naive
            lines.append(
                f"    naive sweep: {naive.sample:,} rows in {naive.seconds:.2f} s "
                f"({naive.seconds / naive.sample * 1000:.2f} ms/row, one ORM commit each); "
                "the baseline is that rate × N"
            )
        if result.latency:
            latency = result.latency
            lines.append(
                f"    latency: /published mean {millis(latency.published.mean)}, worst "
                f"{millis(latency.published.worst)}; /streak mean {millis(latency.streak.mean)}, "
                f"worst {millis(latency.streak.worst)}; failures {latency.failures}"
            )
        if result.restart:
            run_ = result.restart
            lines.append(
                f"    restart: {run_.overdue:,} overdue slots; ready {run_.ready_seconds:.2f} s "
                f"(bootstrap: engine, migrations, runtime, scheduler start), all queued "
                f"{run_.queued_seconds:.2f} s later; logged {run_.logged:,}, lost {run_.lost}, "
                f"dup {run_.duplicates}, still due {run_.still_due}; RSS peak "
                f"+{megabytes(run_.rss_added)}"
            )
        if result.idle:
            idle = result.idle
            lines.append(
                f"    idle tick (one probe of the due indexes): median "
                f"{idle.latency.p50 * 1000:,.0f} µs, p99 "
                f"{idle.latency.p99 * 1000:,.0f} µs over {idle.latency.count} ticks, found "
                f"{idle.found}; query plans:"
            )
            for plan in idle.plans:
                mark = "ok" if plan.ok else "NOT AN INDEX SEARCH"
                lines.append(f"      [{mark}] {plan.statement[:160]}")
                lines += [f"          {line}" for line in plan.lines]
        for label, rep in (("ours", result.replicas), ("baseline", result.replicas_baseline)):
            if rep:
                lines.append(
                    f"    replicas ({label}): {rep.expected:,} expected, {rep.exactly_once:,} "
                    f"sent exactly once, {rep.duplicates} duplicates ({rep.edge_duplicates} "
                    f"at the kill edge), {rep.lost} lost, {rep.skipped} skipped; "
                    f"{rep.in_flight_at_kill} claimed by {rep.killed} when killed; "
                    f"{rep.seconds:.1f} s"
                )
    return "\n".join(lines)
