"""Three replicas on one PostgreSQL database, one of them SIGKILLed in the middle of a batch.

Each replica is a real process running the engine's tick loop (``Outbox`` + ``Dispatcher``) with a
slow recording sender: every send sleeps, then inserts the notice's key into ``bench_sends``,
which has no unique key, so a message sent twice shows up twice. The lease is short so the
survivors take the killed replica's claimed batch over quickly.

The baseline: the same three processes each holding one APScheduler job per member (what a
per-member-job design does when it is scaled out): every process sends every job.

``python -m bench.replicas worker …`` is the replica itself; the parent runs it three times.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, func, select, text

from bench.bulk import write_rows
from bench.measure import progress
from bench.population import MEMBER_COLUMNS
from habits.delivery import DeliverySettings, Dispatcher, Outcome, SendResult
from habits.messages import Notice
from habits.model import DEFAULT_NUDGE_DAYS, DEFAULT_NUDGE_MINUTE, SystemClock
from habits.outbox import Outbox, SweepSettings
from storage.database import make_engine
from storage.tables import deliveries, members
from storage.uow import SqlUnitOfWorkFactory

REPLICAS = 3
SENDS_TABLE = "bench_sends"
READY_TABLE = "bench_ready"
GO_TABLE = "bench_go"
KILL_WAIT_SECONDS = 60.0
FINISH_TIMEOUT_SECONDS = 180.0


# --- the replica process ----------------------------------------------------------------------


class RecordingSender:
    """A slow platform that writes down every message it accepts, duplicates included."""

    def __init__(self, engine: Engine, owner: str, seconds: float, executor: ThreadPoolExecutor):
        self.engine = engine
        self.owner = owner
        self.seconds = seconds
        self.executor = executor

    async def send(self, notice: Notice) -> SendResult:
        await asyncio.sleep(self.seconds)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, record_send, self.engine, notice.key, self.owner)
        return SendResult(Outcome.SENT)


def record_send(engine: Engine, key: str, owner: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO {SENDS_TABLE} (key, owner, at) VALUES (:key, :owner, now())"),
            {"key": key, "owner": owner},
        )


async def run_replica(url: str, owner: str, lease: float, send_seconds: float) -> None:
    """Tick like ``habit-coach run`` (sweep, then claim and deliver) until killed."""
    engine = make_engine(url, pool_size=4)
    outbox = Outbox(SqlUnitOfWorkFactory(engine), SystemClock())
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"{owner}-db")

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        return await loop.run_in_executor(executor, partial(func, *args, **kwargs))

    sender = RecordingSender(engine, owner, send_seconds, executor)
    dispatcher = Dispatcher(
        outbox,
        {"discord": sender},
        run_sync,
        SweepSettings(batch_size=500),
        DeliverySettings(owner=owner, lease=timedelta(seconds=lease), claim_limit=50),
    )
    while True:
        await dispatcher.tick()
        await asyncio.sleep(0.1)


def apscheduler_replica(url: str, owner: str, send_seconds: float) -> None:
    """One APScheduler job per member, all due at the instant the parent names; each sends
    like the real sender. Reports ready first, so every process fires at the same moment."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger

    engine = make_engine(url, pool_size=10)
    with engine.begin() as connection:
        ids = list(connection.execute(select(members.c.id)).scalars())
        connection.execute(text(f"INSERT INTO {READY_TABLE} (owner) VALUES (:o)"), {"o": owner})
    fire_at = None
    while fire_at is None:
        time.sleep(0.02)
        with engine.connect() as connection:
            fire_at = connection.execute(text(f"SELECT fire_at FROM {GO_TABLE}")).scalar()

    def nudge(member_id: int) -> None:
        time.sleep(send_seconds)
        record_send(engine, f"nudge-member-{member_id}", owner)

    scheduler = BackgroundScheduler(timezone="UTC")
    for member_id in ids:
        scheduler.add_job(nudge, DateTrigger(run_date=fire_at), args=(member_id,))
    scheduler.start()
    threading.Event().wait()  # until killed


def _worker(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas worker")
    parser.add_argument("mode", choices=("ours", "apscheduler"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--send-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    # The baseline's misfires show in the counts; APScheduler would also log each one.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    if args.mode == "ours":
        asyncio.run(run_replica(args.url, args.owner, args.lease, args.send_ms / 1000))
    else:
        apscheduler_replica(args.url, args.owner, args.send_ms / 1000)
    return 0


# --- the parent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicasResult:
    members: int
    expected: int  # messages that should go out: one per member
    exactly_once: int
    duplicates: int  # extra sends beyond the first, over every member
    edge_duplicates: int  # of those, first sent by the killed replica and not yet marked sent
    lost: int  # members never sent to (and not deliberately skipped)
    skipped: int
    in_flight_at_kill: int  # deliveries the killed replica held under lease
    seconds: float  # start of the replicas to every message settled
    killed: str


def prepare(engine: Engine, count: int, due_at: datetime) -> None:
    """``count`` Discord members in UTC with a goal and nothing published, all due at once."""
    rows = [
        (
            member_id,
            "discord",
            "",
            str(500_000_000_000_000_000 + member_id),
            f"Replica writer {member_id}",
            due_at - timedelta(days=30),
            "UTC",
            0,
            1,
            "post",
            DEFAULT_NUDGE_DAYS,
            DEFAULT_NUDGE_MINUTE,
            True,
            None,
            None,
            due_at,
            None,
            None,
            False,
        )
        for member_id in range(1, count + 1)
    ]
    with engine.begin() as connection:
        write_rows(connection, members, MEMBER_COLUMNS, rows)
        connection.execute(
            text(
                f"CREATE TABLE {SENDS_TABLE} "
                "(key text NOT NULL, owner text NOT NULL, at timestamptz NOT NULL)"
            )
        )
        connection.execute(text(f"CREATE TABLE {READY_TABLE} (owner text NOT NULL)"))
        connection.execute(text(f"CREATE TABLE {GO_TABLE} (fire_at timestamptz NOT NULL)"))
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('members', 'id'), :n)"), {"n": count}
        )


def _spawn(url: str, mode: str, owner: str, lease: float, send_ms: float) -> Any:
    command = [
        sys.executable,
        "-m",
        "bench.replicas",
        "worker",
        mode,
        "--url",
        url,
        "--owner",
        owner,
        "--lease",
        str(lease),
        "--send-ms",
        str(send_ms),
    ]
    return subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _scalar(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def run_ours(url: str, engine: Engine, count: int, lease: float, send_ms: float) -> ReplicasResult:
    prepare(engine, count, datetime.now(UTC) - timedelta(minutes=1))
    started = time.perf_counter()
    workers = [_spawn(url, "ours", f"replica-{i}", lease, send_ms) for i in range(REPLICAS)]
    victim = "replica-0"
    held = 0
    try:
        # Kill replica-0 once it has sent some and holds a claimed batch under lease.
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while time.monotonic() < deadline:
            sent = _scalar(engine, f"SELECT count(*) FROM {SENDS_TABLE} WHERE owner = :o", o=victim)
            held = _held(engine, victim)
            if sent >= max(5, count // (REPLICAS * 10)) and held > 0:
                break
            time.sleep(0.01)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        progress(f"replicas: SIGKILLed {victim} holding {held} claimed deliveries")
        deadline = time.monotonic() + FINISH_TIMEOUT_SECONDS
        while time.monotonic() < deadline and _unsettled(engine) > 0:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        _stop(workers)
    return _tally(engine, count, held, seconds, victim)


def _held(engine: Engine, owner: str) -> int:
    query = (
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.status == "sending", deliveries.c.lease_owner == owner)
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _unsettled(engine: Engine) -> int:
    """Members still due, plus log rows not yet sent, skipped or failed."""
    with engine.connect() as connection:
        due = connection.execute(
            select(func.count()).select_from(members).where(members.c.next_nudge_at <= func.now())
        ).scalar_one()
        open_rows = connection.execute(
            select(func.count())
            .select_from(deliveries)
            .where(deliveries.c.status.in_(("pending", "sending")))
        ).scalar_one()
    return int(due + open_rows)


def _stop(workers: list[Any]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _tally(engine: Engine, count: int, held: int, seconds: float, victim: str) -> ReplicasResult:
    with engine.connect() as connection:
        per_key: dict[str, int] = {
            str(key): int(n)
            for key, n in connection.execute(
                text(f"SELECT key, count(*) FROM {SENDS_TABLE} GROUP BY key")
            )
        }
        first_by: dict[str, str] = dict(
            connection.execute(
                text(f"SELECT DISTINCT ON (key) key, owner FROM {SENDS_TABLE} ORDER BY key, at")
            ).all()
        )
        skipped = connection.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.status == "skipped")
        ).scalar_one()
        logged = list(connection.execute(select(deliveries.c.id, deliveries.c.status)).all())
    # A member's message is keyed by its delivery ("nudge-<id>"); the baseline by member.
    expected_keys = [f"nudge-{row.id}" for row in logged if row.status != "skipped"]
    if not logged:  # the baseline has no delivery log
        expected_keys = [f"nudge-member-{member_id}" for member_id in range(1, count + 1)]
    exactly_once = sum(1 for key in expected_keys if per_key.get(key) == 1)
    lost = sum(1 for key in expected_keys if key not in per_key)
    duplicates = sum(n - 1 for n in per_key.values() if n > 1)
    # The documented at-least-once edge: the platform accepted a message from the replica
    # that was then killed before it could mark it sent; its lease expired and another sent it.
    edge = sum(n - 1 for key, n in per_key.items() if n > 1 and first_by.get(key) == victim)
    if not logged:  # the baseline keeps no delivery log, so it has no such edge
        edge = 0
    return ReplicasResult(
        count,
        len(expected_keys),
        exactly_once,
        int(duplicates),
        int(edge),
        lost,
        int(skipped),
        held,
        seconds,
        victim,
    )


def run_apscheduler(url: str, engine: Engine, count: int, send_ms: float) -> ReplicasResult:
    """The per-member-job design scaled to three processes, one killed part-way."""
    prepare(engine, count, datetime.now(UTC) + timedelta(days=1))
    workers = [_spawn(url, "apscheduler", f"replica-{i}", 0, send_ms) for i in range(REPLICAS)]
    victim = "replica-0"
    sent_by = f"SELECT count(*) FROM {SENDS_TABLE} WHERE owner = :o"
    try:
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        ready = f"SELECT count(*) FROM {READY_TABLE}"
        while time.monotonic() < deadline and _scalar(engine, ready) < REPLICAS:
            time.sleep(0.05)
        with engine.begin() as connection:
            connection.execute(text(f"INSERT INTO {GO_TABLE} VALUES (now() + interval '1 second')"))
        started = time.perf_counter() + 1.0
        while time.monotonic() < deadline and _scalar(engine, sent_by, o=victim) < count // 3:
            time.sleep(0.01)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        progress(f"replicas baseline: SIGKILLed {victim}")
        _wait_until_quiet(engine)
        seconds = time.perf_counter() - started
    finally:
        _stop(workers)
    return _tally(engine, count, 0, seconds, victim)


def _wait_until_quiet(engine: Engine, quiet: float = 2.0) -> None:
    """Until no process has sent anything for ``quiet`` seconds (or the time limit)."""
    total = f"SELECT count(*) FROM {SENDS_TABLE}"
    deadline = time.monotonic() + FINISH_TIMEOUT_SECONDS
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        now = _scalar(engine, total)
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        raise SystemExit(_worker(sys.argv[2:]))
    raise SystemExit("usage: python -m bench.replicas worker ours|apscheduler --url URL …")
