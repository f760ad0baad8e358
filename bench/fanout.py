"""``python -m bench.fanout``: a first fan-out of Discord DMs against Discord's REST limits.

The real Discord adapter and engine of `habit-coach run` (pieces shared with ``bench.adapters``)
deliver every member's nudge at once to the project's fake Discord, which here enforces 50
requests/s per bot and counts what Discord counts. A fraction of members have their DMs closed
(each costs a 403: an invalid request). Each regime runs for ``--seconds`` on its own SQLite file
and fake, and reports the sustained request rate (median of 1-s windows after a warm-up), global
429s, invalid requests per 10 minutes (extrapolated from the run) and members settled per second.

Regimes: a harsh 20% closed and a realistic 2%, paced; 20% with the invalid-request governor's
10-minute window compressed to half the run (budget scaled alike), to show its steady state within a
short run; and the baseline, what the coach had before pacing: discord.py alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from bench.adapters import FIRST_USER, _make_all_due
from bench.measure import progress
from bench.population import BENCH_NOW, populate
from bench.report import Row, table, verdict
from bot.bootstrap import bootstrap
from bot.discord import DiscordAdapter
from bot.discord.sender import INVALID_BUDGET, INVALID_WINDOW, DiscordPacing, DiscordSender
from bot.runtime import Runtime
from bot.serve import serve
from bot.settings import Settings
from habits.model import ManualClock
from storage.database import make_engine, upgrade
from storage.tables import deliveries
from tests.fakes.discord_server import FakeDiscord

DISCORD_GLOBAL_LIMIT = 50
TARGET_RATE = 45.0  # the target: sustained requests/s
WARM_UP_S = 3.0  # login, command sync, the first sweep


@dataclass(frozen=True)
class Regime:
    name: str
    closed: float
    paced: bool = True
    compressed_window: bool = False  # the governor's window shrunk to half the run


@dataclass(frozen=True)
class FanoutFigures:
    """One regime's figures."""

    regime: str
    closed: float
    paced: bool
    members: int
    seconds: float
    requests_per_second: float  # median over 1-s windows after the warm-up
    global_429s: int
    invalid: int  # 401/403/429 answers during the run
    invalid_per_10_min: float  # extrapolated from the run
    settled: int  # deliveries with an outcome (skipped ones need no request)
    sent: int  # DMs Discord accepted
    settled_per_second: float
    governor_window_s: float
    governor_budget: int

    @property
    def invalid_budget_per_10_min(self) -> float:
        return self.governor_budget * 600 / self.governor_window_s


@dataclass(frozen=True)
class FanoutReport:
    """What ``python -m bench`` puts in its table: every regime, the baseline last."""

    regimes: list[FanoutFigures] = field(default_factory=list)

    def named(self, name: str) -> FanoutFigures:
        return next(r for r in self.regimes if r.regime == name)


def regimes(closed: float) -> list[Regime]:
    share = f"{closed:.0%} closed"
    return [
        Regime(f"paced, {share}", closed),
        Regime(f"paced, {share}, governor window = run/2", closed, compressed_window=True),
        Regime("paced, 2% closed", 0.02),
        Regime(f"discord.py alone, {share}", closed, paced=False),
    ]


def _settled(engine: Engine, statuses: tuple[str, ...] = ("sent", "failed", "skipped")) -> int:
    """Deliveries with an outcome: sent, failed (DMs closed among them) or skipped."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(deliveries)
                .where(deliveries.c.status.in_(statuses))
            ).scalar_one()
        )


def median_rate(served: list[float], start: float, end: float) -> float:
    """Median requests per 1-s window in [start, end)."""
    windows = int(end - start)
    if windows < 1:
        return float("nan")
    counts = [0] * windows
    for moment in served:
        index = int(moment - start)
        if 0 <= index < windows:
            counts[index] += 1
    return float(statistics.median(counts))


async def run_regime(
    regime: Regime, members: int, seconds: float, database: Path, seed: int = 2026
) -> FanoutFigures:
    url = f"sqlite:///{database}"
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    populate(engine, members, BENCH_NOW, seed=seed)
    _make_all_due(engine)
    fake = FakeDiscord()
    await fake.start()
    step = round(1 / regime.closed) if regime.closed > 0 else 0
    for member_id in range(1, members + 1):
        if step and member_id % step == 0:
            fake.close_dms(FIRST_USER + member_id)
    limits = fake.enforce_limits(per_second=DISCORD_GLOBAL_LIMIT)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        discord_token=SecretStr(fake.token),
        discord_api_base_url=fake.api_base_url,
        discord_gateway_url=fake.gateway_url,
        sweep_interval_seconds=0.2,
    )
    runtime: Runtime = bootstrap(settings, clock=ManualClock(BENCH_NOW))
    adapter = DiscordAdapter(runtime)
    sender = adapter.sender
    assert isinstance(sender, DiscordSender)
    # Compressed: half the run, so old answers leave the window within it and the governor's
    # steady state shows; the budget scales with the window (the same rate of invalid answers).
    window = seconds / 2 if regime.compressed_window else INVALID_WINDOW
    budget = max(10, round(INVALID_BUDGET * window / INVALID_WINDOW))
    sender.pacing = DiscordPacing(invalid_budget=budget, invalid_window=window)
    if not regime.paced:
        sender.pacing = None
    # Without pacing every request past 50/s is a global 429, each logged as a warning.
    logging.getLogger("bot.discord.sender").setLevel(
        logging.WARNING if regime.paced else logging.ERROR
    )
    stop = asyncio.Event()
    started = time.monotonic()
    serving = asyncio.ensure_future(serve(runtime, [adapter], stop))
    try:
        await fake.wait_until(lambda: fake.connected, within=30)
        while time.monotonic() - started < seconds and _settled(engine) < members:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.5)
        ended = time.monotonic()
        settled = _settled(engine)
        sent = _settled(engine, ("sent",))
    finally:
        stop.set()
        await asyncio.wait_for(serving, 60)
        runtime.close()
        await fake.stop()
        engine.dispose()
    elapsed = ended - started
    invalid = sum(1 for moment, _ in limits.invalid if moment < ended)
    return FanoutFigures(
        regime=regime.name,
        closed=regime.closed,
        paced=regime.paced,
        members=members,
        seconds=elapsed,
        requests_per_second=median_rate(limits.served, started + WARM_UP_S, ended),
        global_429s=sum(1 for moment in limits.global_429s if moment < ended),
        invalid=invalid,
        invalid_per_10_min=invalid * 600 / elapsed,
        settled=settled,
        sent=sent,
        settled_per_second=settled / elapsed,
        governor_window_s=window,
        governor_budget=budget,
    )


async def _measure(members: int, closed: float, seconds: float) -> FanoutReport:
    figures = []
    for regime in regimes(closed):
        progress(f"fan-out: {regime.name}, {members:,} members, up to {seconds:g} s …")
        with tempfile.TemporaryDirectory(prefix="habit-coach-fanout-") as tmp:
            figures.append(await run_regime(regime, members, seconds, Path(tmp) / "bench.db"))
    return FanoutReport(figures)


def measure(members: int = 3000, closed: float = 0.2, seconds: float = 30.0) -> FanoutReport:
    """Run every regime (about ``4 × seconds`` plus set-up) and return the figures."""
    return asyncio.run(_measure(members, closed, seconds))


def rows(report: FanoutReport) -> list[Row]:
    """The figures as report rows: ours (paced) beside the baseline (discord.py alone)."""
    baseline = report.regimes[-1]
    result = []
    for figures in report.regimes[:-1]:
        budget = figures.invalid_budget_per_10_min
        result += [
            Row(
                f"fan-out {figures.regime}: requests/s sustained",
                f"{figures.requests_per_second:.0f}",
                f"{baseline.requests_per_second:.0f}",
                target=f">= {TARGET_RATE:g} and <= {DISCORD_GLOBAL_LIMIT}",
                met=verdict(TARGET_RATE <= figures.requests_per_second <= DISCORD_GLOBAL_LIMIT),
            ),
            Row(
                f"fan-out {figures.regime}: global 429s",
                f"{figures.global_429s}",
                f"{baseline.global_429s}",
                target="0",
                met=verdict(figures.global_429s == 0),
            ),
            Row(
                f"fan-out {figures.regime}: invalid requests per 10 min",
                f"{figures.invalid_per_10_min:,.0f}",
                f"{baseline.invalid_per_10_min:,.0f}",
                target=f"< {budget:,.0f}",
                met=verdict(figures.invalid_per_10_min < budget),
            ),
            Row(
                f"fan-out {figures.regime}: members settled/s",
                f"{figures.settled_per_second:.1f}",
                f"{baseline.settled_per_second:.1f}",
            ),
        ]
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("--members", type=int, default=3000, help="members due at once")
    parser.add_argument("--closed", type=float, default=0.2, help="share with DMs closed")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each regime")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.members < 1 or not 0 <= args.closed < 1 or args.seconds < WARM_UP_S + 2:
        print(
            f"bench.fanout: needs --members >= 1, 0 <= --closed < 1, --seconds >= {WARM_UP_S + 2}",
            file=sys.stderr,
        )
        return 2
    report = measure(args.members, args.closed, args.seconds)
    print(table(rows(report)))
    print(
        f"\nbaseline = the same fan-out sent by discord.py alone (no pacing). Each regime: "
        f"{args.members:,} members due at once, {args.seconds:g} s at most, a first fan-out "
        f"(no DM channel cached: 2 requests a member), fake Discord enforcing "
        f"{DISCORD_GLOBAL_LIMIT} requests/s over a sliding second; warm-up {WARM_UP_S:g} s. "
        f"Invalid per 10 min is extrapolated from the run; the governor's budget is "
        f"{INVALID_BUDGET:,} per {INVALID_WINDOW:g} s (scaled to a window of half the run "
        f"when compressed)."
    )
    for figures in report.regimes:
        print(
            f"- {figures.regime}: {figures.settled:,} settled ({figures.sent:,} DMs sent) in "
            f"{figures.seconds:.1f} s, {figures.invalid} invalid answers"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
