"""Two sweepers on one database at once: every due nudge is delivered, and only once."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from habits.delivery import DeliverySettings, Dispatcher, Outcome, SendResult
from habits.messages import Notice
from habits.model import DeliveryStatus, ManualClock
from habits.outbox import Outbox, SweepSettings
from storage.database import make_engine
from storage.tables import deliveries, members
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.rows import due_member_row

THURSDAY_0900 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def add_due_members(url: str, count: int) -> None:
    """``count`` members with a goal and a nudge due at Thursday 09:00 UTC."""
    engine = make_engine(url, pool_size=1)
    rows = [due_member_row(f"u{i}", THURSDAY_0900) for i in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(members), rows)
    engine.dispose()


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, notice: Notice) -> SendResult:
        self.sent.append((notice.member.user_id, notice.kind))
        return SendResult(Outcome.SENT)


async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def replica(
    url: str,
    name: str,
    start: threading.Barrier,
    sender: RecordingSender,
    *,
    full: bool,
    at: datetime = THURSDAY_0900,
) -> None:
    """One process's worth of sweeper: its own engine, outbox and clock.

    ``full`` runs the real Dispatcher (prepare and send included); otherwise the loop is just
    sweep, claim and finish, which is where replicas race and much quicker to run at scale.
    """
    engine = make_engine(url, pool_size=2)
    try:
        outbox = Outbox(SqlUnitOfWorkFactory(engine), ManualClock(at))
        sweep = SweepSettings(batch_size=50)
        dispatcher = Dispatcher(
            outbox,
            {"discord": sender},
            run_sync,
            sweep,
            DeliverySettings(owner=name, claim_limit=25),
        )
        start.wait()
        for _ in range(3):  # the scheduler ticks again and again; repeats must find nothing
            if full:
                asyncio.run(dispatcher.tick())
                continue
            outbox.sweep(["discord"], sweep)
            while batch := outbox.claim(["discord"], name, timedelta(seconds=60), 25):
                for delivery in batch:
                    sender.sent.append((delivery.user_id, delivery.kind))
                    outbox.finish(delivery, DeliveryStatus.SENT)
    finally:
        engine.dispose()


def run_replicas(
    url: str, count: int, *, full: bool = True, at: datetime = THURSDAY_0900
) -> list[RecordingSender]:
    senders = [RecordingSender() for _ in range(count)]
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            replica(url, f"replica-{index}", start, senders[index], full=full, at=at)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return senders


def assert_each_delivered_once(url: str, senders: list[RecordingSender], count: int) -> None:
    delivered = Counter(item for sender in senders for item in sender.sent)
    assert [item for item, times in delivered.items() if times > 1] == []
    assert set(delivered) == {(f"u{i}", "nudge") for i in range(count)}
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        rows = connection.execute(
            select(deliveries.c.status, deliveries.c.attempts, func.count()).group_by(
                deliveries.c.status, deliveries.c.attempts
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("sent", 1, count)]


@pytest.mark.postgres
def test_two_replicas_on_postgresql_claim_every_due_nudge_exactly_once(pg_url: str) -> None:
    add_due_members(pg_url, 2000)

    senders = run_replicas(pg_url, 2, full=False)

    assert_each_delivered_once(pg_url, senders, 2000)
    # Both did real work: SKIP LOCKED shared the load instead of serializing it.
    assert all(sender.sent for sender in senders)


@pytest.mark.postgres
def test_four_dispatchers_on_postgresql_send_every_due_nudge_exactly_once(pg_url: str) -> None:
    add_due_members(pg_url, 400)

    senders = run_replicas(pg_url, 4)

    assert_each_delivered_once(pg_url, senders, 400)


def test_two_engines_on_one_sqlite_file_send_every_due_nudge_exactly_once(
    sqlite_url: str,
) -> None:
    add_due_members(sqlite_url, 500)

    senders = run_replicas(sqlite_url, 2)

    assert_each_delivered_once(sqlite_url, senders, 500)


@pytest.mark.postgres
def test_a_sweep_skips_members_another_replica_has_locked(pg_url: str) -> None:
    add_due_members(pg_url, 120)
    engines = [make_engine(pg_url, pool_size=1) for _ in range(2)]
    first, second = (SqlUnitOfWorkFactory(e) for e in engines)
    try:
        with first() as holding:
            # Replica one has swept a batch and not committed yet...
            assert (
                holding.deliveries.sweep(
                    THURSDAY_0900, ["discord"], _plan, 50, timedelta(hours=6), timedelta(days=2)
                )
                == 50
            )
            # ...so replica two, without waiting, takes the other 70 and nothing else.
            other = Outbox(second, ManualClock(THURSDAY_0900))
            assert other.sweep(["discord"], SweepSettings(batch_size=50)) == 70
            holding.commit()
        with engines[0].connect() as connection:
            logged = connection.execute(
                select(deliveries.c.member_id, func.count()).group_by(deliveries.c.member_id)
            ).all()
    finally:
        for engine in engines:
            engine.dispose()
    assert len(logged) == 120
    assert {count for _, count in logged} == {1}


@pytest.mark.postgres
def test_a_claim_skips_deliveries_another_replica_is_claiming(pg_url: str) -> None:
    add_due_members(pg_url, 30)
    engines = [make_engine(pg_url, pool_size=1) for _ in range(2)]
    first, second = (SqlUnitOfWorkFactory(e) for e in engines)
    try:
        Outbox(first, ManualClock(THURSDAY_0900)).sweep(["discord"])
        lease = timedelta(seconds=60)
        with first() as holding:
            mine = holding.deliveries.claim(THURSDAY_0900, ["discord"], "one", lease, 10)
            theirs = Outbox(second, ManualClock(THURSDAY_0900)).claim(["discord"], "two", lease)
            holding.commit()
    finally:
        for engine in engines:
            engine.dispose()
    assert (len(mine), len(theirs)) == (10, 20)
    assert not {d.id for d in mine} & {d.id for d in theirs}


class GatedSender(RecordingSender):
    """Records each notice as it starts, then waits at a gate the test opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def send(self, notice: Notice) -> SendResult:
        self.sent.append((notice.member.user_id, notice.kind))
        await self.gate.wait()
        return SendResult(Outcome.SENT)


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - the state is the database's
            await asyncio.sleep(0.01)


def test_a_stopping_replica_hands_its_claim_to_another_at_once(db_url: str) -> None:
    """Replica A stops with 4 sends in flight and 21 claimed but not started; replica B, on its
    own engine, sends those 21 and the rest at once, while A's 4 finish: 0 lost, 0 twice."""
    add_due_members(db_url, 60)
    engines = [make_engine(db_url, pool_size=2) for _ in range(2)]
    first, second = (Outbox(SqlUnitOfWorkFactory(e), ManualClock(THURSDAY_0900)) for e in engines)
    stopping_sender, other_sender = GatedSender(), RecordingSender()
    replica_a = Dispatcher(
        first,
        {"discord": stopping_sender},
        run_sync,
        delivery=DeliverySettings(owner="a", claim_limit=25, concurrency=4),
    )
    replica_b = Dispatcher(
        second, {"discord": other_sender}, run_sync, delivery=DeliverySettings(owner="b")
    )

    async def scenario() -> tuple[int, int]:
        ticking = asyncio.ensure_future(replica_a.tick())
        await _until(lambda: len(stopping_sender.sent) == 4)
        replica_a.stop()
        await _until(lambda: second.backlog(["discord"]) == 60 - 25 + 21)
        sent_by_b = await replica_b.tick()  # A's four are still in flight
        stopping_sender.gate.set()
        return await ticking, sent_by_b

    try:
        sent_by_a, sent_by_b = asyncio.run(scenario())
    finally:
        for engine in engines:
            engine.dispose()

    assert (sent_by_a, sent_by_b) == (4, 56)
    assert_each_delivered_once(db_url, [stopping_sender, other_sender], 60)


def _plan(member: Any, after: datetime) -> tuple[datetime | None, datetime | None]:
    return after + timedelta(days=7), after + timedelta(days=7)
