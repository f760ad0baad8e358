"""SQLite on a disk that fills up, then gets a little space back: how many members are nudged.

Needs root (it mounts a tmpfs of ``--disk-mb``). Members are nudged every Monday and Thursday;
a ballast file leaves ``--free-mb`` free, and once the database reports the disk full, the
ballast shrinks by ``--freed-mb`` (an operator freeing a little space). Run once with today's
settings and once with ``--wal-pages 8000`` (the former checkpoint interval) to compare::

    python -m bench.fulldisk
    python -m bench.fulldisk --wal-pages 8000 --wal-limit-mb 0
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from habits.coach import Coach
from habits.delivery import Dispatcher, Outcome, SendResult
from habits.messages import Notice
from habits.model import ManualClock, MemberRef
from habits.outbox import Outbox
from storage import database
from storage.uow import SqlUnitOfWorkFactory

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday


class CountingSender:
    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()
        self.week = ""

    async def send(self, notice: Notice) -> SendResult:
        self.sent[(self.week, notice.member.user_id)] += 1
        return SendResult(Outcome.SENT)


def run(args: argparse.Namespace, mount: Path) -> None:
    database.WAL_CHECKPOINT_PAGES = args.wal_pages
    database.WAL_SIZE_LIMIT = args.wal_limit_mb * 1024 * 1024 if args.wal_limit_mb else -1
    url = f"sqlite:///{mount / 'coach.db'}"
    database.upgrade(url)
    engine = database.make_engine(url, pool_size=1)
    clock = ManualClock(START)
    uow_factory = SqlUnitOfWorkFactory(engine)
    coach = Coach(uow_factory, clock)
    for i in range(args.members):
        coach.handle(MemberRef.console(f"member{i:04d}"), "/goal 3 post")
    stat = os.statvfs(mount)
    free = stat.f_bavail * stat.f_frsize
    ballast = mount / "ballast"
    ballast.write_bytes(b"\0" * max(0, free - args.free_mb * 1024 * 1024))
    sender = CountingSender()

    async def direct(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    dispatcher = Dispatcher(Outbox(uow_factory, clock), {"console": sender}, direct)
    loop = asyncio.new_event_loop()
    errors = 0
    first_error: datetime | None = None
    freed_at: datetime | None = None
    steps = int(timedelta(days=7 * args.weeks) / timedelta(minutes=args.step_minutes))
    for _ in range(steps):
        clock.advance(timedelta(minutes=args.step_minutes))
        sender.week = clock.now().strftime("%G-W%V %a")
        try:
            loop.run_until_complete(dispatcher.tick())
        except Exception as exc:
            errors += 1
            if "full" in str(exc) and first_error is None:
                first_error = clock.now()
        if first_error is not None and freed_at is None:
            size = ballast.stat().st_size
            with ballast.open("r+b") as handle:
                handle.truncate(max(0, size - args.freed_mb * 1024 * 1024))
            freed_at = clock.now()
    loop.close()
    engine.dispose()
    rounds = sorted({week for week, _ in sender.sent})
    print(
        f"wal_autocheckpoint={args.wal_pages} journal_size_limit={database.WAL_SIZE_LIMIT} "
        f"disk={args.disk_mb} MiB, {args.free_mb} MiB free, {args.freed_mb} MiB freed"
    )
    print(f"  first 'disk full': {first_error}, space freed at {freed_at}, failed ticks: {errors}")
    for week in rounds:
        reached = sum(1 for (w, _), n in sender.sent.items() if w == week and n)
        print(f"  nudge round {week}: {reached} of {args.members} members")
    wal = mount / "coach.db-wal"
    print(f"  WAL at the end: {wal.stat().st_size / 2**20:.1f} MiB" if wal.exists() else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disk-mb", type=int, default=16)
    parser.add_argument("--free-mb", type=int, default=6)
    parser.add_argument("--freed-mb", type=int, default=2)
    parser.add_argument("--members", type=int, default=800)
    parser.add_argument("--weeks", type=int, default=3)
    parser.add_argument("--step-minutes", type=int, default=30)
    parser.add_argument("--wal-pages", type=int, default=database.WAL_CHECKPOINT_PAGES)
    parser.add_argument("--wal-limit-mb", type=int, default=database.WAL_SIZE_LIMIT // 2**20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with tempfile.TemporaryDirectory() as folder:
        mount = Path(folder)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={args.disk_mb}m", "tmpfs", folder], check=True
        )
        try:
            run(args, mount)
        finally:
            subprocess.run(["umount", folder], check=False)


if __name__ == "__main__":
    main()
