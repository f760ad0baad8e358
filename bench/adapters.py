"""``python -m bench.adapters``: Discord interactions answered while a sweep drains.

The real Discord adapter of `habit-coach run` talks to the project's fake Discord on loopback
(``tests/fakes/discord_server.py``; no rate limits there). Members are written to a SQLite
file and all made due at once; the scheduler then sweeps and delivers their nudges as DMs while
``/streak`` interactions arrive at a steady rate. Each interaction's time from dispatch to the
bot's answer is measured twice in the same process: with nothing due (the baseline) and while
the nudges drain. Discord drops an interaction that is not answered within 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, func, select, update

from bench.measure import Latency, progress
from bench.population import BENCH_NOW, populate
from bench.report import Row, millis, ratio, table, verdict
from bot.bootstrap import bootstrap
from bot.discord import DiscordAdapter
from bot.runtime import Runtime
from bot.serve import serve
from bot.settings import Settings
from habits.model import ManualClock
from storage.database import make_engine, upgrade
from storage.tables import deliveries, members
from tests.fakes.discord_server import FakeDiscord

DISCORD_ANSWER_LIMIT_S = 3.0
FIRST_USER = 400_000_000_000_000_000
ASKER = FIRST_USER - 1  # a member who is not in the population


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.adapters", description=__doc__)
    parser.add_argument("--members", type=int, default=20_000, help="members due at once")
    parser.add_argument("--samples", type=int, default=200, help="interactions per phase")
    parser.add_argument("--rate", type=float, default=20.0, help="interactions per second")
    parser.add_argument(
        "--max-drain",
        type=float,
        default=600.0,
        help="seconds to wait for every nudge to settle (paced at Discord's limit, 100,000 "
        "take over half an hour: the interactions are measured during the first of it)",
    )
    return parser


def _make_all_due(engine: Engine) -> None:
    """Every member a Discord member, due for a nudge now."""
    with engine.begin() as connection:
        connection.execute(
            update(members).values(
                platform="discord",
                workspace="",
                user_id=func.cast(FIRST_USER + members.c.id, members.c.user_id.type),
                next_nudge_at=BENCH_NOW,
                next_checkin_at=None,
                unreachable=False,
            )
        )


def _delivered(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(deliveries).where(deliveries.c.status != "pending")
            ).scalar_one()
        )


async def _interactions(fake: FakeDiscord, samples: int, rate: float) -> list[float]:
    """Seconds from dispatching each ``/streak`` to the bot's answer, sent at ``rate`` per s."""

    async def one() -> float:
        started = time.perf_counter()
        await fake.slash(ASKER, "streak")
        return time.perf_counter() - started

    tasks = []
    for _ in range(samples):
        tasks.append(asyncio.ensure_future(one()))
        await asyncio.sleep(1 / rate)
    return list(await asyncio.gather(*tasks))


async def _measure(args: argparse.Namespace, database: Path) -> int:
    url = f"sqlite:///{database}"
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    progress(f"writing {args.members:,} members …")
    populate(engine, args.members, BENCH_NOW, seed=2026)
    fake = FakeDiscord()
    await fake.start()
    clock = ManualClock(BENCH_NOW.replace(hour=3))  # nothing due yet
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        discord_token=fake.token,
        discord_api_base_url=fake.api_base_url,
        discord_gateway_url=fake.gateway_url,
        sweep_interval_seconds=0.2,
    )
    runtime: Runtime = bootstrap(settings, clock=clock)
    stop = asyncio.Event()
    serving = asyncio.ensure_future(serve(runtime, [DiscordAdapter(runtime)], stop))
    try:
        await fake.wait_until(lambda: fake.connected, within=30)
        await _interactions(fake, 20, args.rate)  # warm-up: first connections and caches
        progress(f"baseline: {args.samples} interactions with nothing due …")
        idle = Latency.of(await _interactions(fake, args.samples, args.rate))

        _make_all_due(engine)
        clock.set(BENCH_NOW)
        progress(f"draining {args.members:,} due nudges while {args.samples} interactions arrive …")
        started = time.perf_counter()
        busy_samples = await _interactions(fake, args.samples, args.rate)
        busy = Latency.of(busy_samples)
        while _delivered(engine) < args.members and time.perf_counter() - started < args.max_drain:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.2)
        drained_s = time.perf_counter() - started
        delivered = _delivered(engine)
        dms = sum(len(m) for m in fake.messages.values())
    finally:
        stop.set()
        await asyncio.wait_for(serving, 60)
        runtime.close()
        await fake.stop()
        engine.dispose()

    within = busy.worst / 1000 < DISCORD_ANSWER_LIMIT_S
    rows = [
        Row(
            "/streak answer p50, while draining",
            millis(busy.p50),
            millis(idle.p50),
            ratio(busy.p50, idle.p50),
        ),
        Row(
            "/streak answer p99, while draining",
            millis(busy.p99),
            millis(idle.p99),
            ratio(busy.p99, idle.p99),
        ),
        Row(
            "/streak answer worst, while draining",
            millis(busy.worst),
            millis(idle.worst),
            ratio(busy.worst, idle.worst),
            f"< {DISCORD_ANSWER_LIMIT_S:g} s",
            verdict(within),
        ),
        Row(
            f"{args.members:,} due nudges: settled within {drained_s:.1f} s",
            f"{delivered:,}",
            target=f"{dms:,} DMs sent",
        ),
    ]
    print(table(rows))
    print(
        f"\nbaseline = the same interactions with nothing due, in this process. "
        f"{args.samples} interactions per phase at {args.rate:g}/s; the fake Discord enforces no "
        f"rate limit, the sender paces itself at {settings.discord_requests_per_second:g} "
        f"requests/s; SQLite file; {os.cpu_count()} CPUs."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.members < 1 or args.samples < 2 or args.rate <= 0:
        print("bench.adapters: needs --members >= 1, --samples >= 2, --rate > 0", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="habit-coach-bench-") as tmp:
        return asyncio.run(_measure(args, Path(tmp) / "bench.db"))


if __name__ == "__main__":
    raise SystemExit(main())
