"""Deliveries through a database that fails for a while (a full disk, a lock, a timeout) and
then recovers: each is retried until it goes out, and no attempt is used up by the database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from habits.coach import Coach
from habits.delivery import Dispatcher
from habits.model import ManualClock
from habits.outbox import Outbox
from habits.ports import StorageUnavailableError
from storage import delivery_log
from storage.uow import SqlUnitOfWorkFactory
from tests.habits.test_delivery import (
    PLATFORMS,
    THU_0900_BERLIN,
    Driver,
    FakeSender,
    join,
    log_rows,
    run_sync,
)


class FullDisk:
    """Makes the delivery repository's lease renewal, the first write of composing a notice,
    fail ``times`` times the way SQLite does on a full disk; then the space is back."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int):
        self.left = times
        renew = delivery_log.SqlDeliveryRepository.renew

        def renew_or_fail(repo: Any, *args: Any) -> bool:
            if self.left > 0:
                self.left -= 1
                raise OperationalError(
                    "UPDATE deliveries", {}, sqlite3.OperationalError("database or disk is full")
                )
            return renew(repo, *args)

        monkeypatch.setattr(delivery_log.SqlDeliveryRepository, "renew", renew_or_fail)


@pytest.fixture
def driver(clock: ManualClock, outbox: Outbox, sender: FakeSender) -> Iterator[Driver]:
    loop = asyncio.new_event_loop()
    dispatcher = Dispatcher(outbox, dict.fromkeys(PLATFORMS, sender), run_sync)
    yield Driver(clock, dispatcher, loop)
    loop.close()


@pytest.fixture
def sender(clock: ManualClock) -> FakeSender:
    return FakeSender(clock)


def test_a_nudge_that_met_a_full_disk_is_sent_once_the_space_is_back(
    coach: Coach,
    driver: Driver,
    sender: FakeSender,
    engine: Engine,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    join(coach, "ana", "/goal 1 post")
    outage = FullDisk(monkeypatch, times=12)  # more failures than a message has attempts

    driver.at(THU_0900_BERLIN)
    (row,) = log_rows(engine)
    assert (row.status, row.attempts, row.detail) == ("pending", 0, "database unavailable")
    assert row.not_before == THU_0900_BERLIN + timedelta(seconds=30)
    driver.run_until(THU_0900_BERLIN + timedelta(minutes=10), step=timedelta(seconds=30))

    assert outage.left == 0
    assert [s.who for s in sender.sent] == ["ana"]
    (row,) = log_rows(engine)
    assert (row.status, row.attempts) == ("sent", 1)


def test_the_unit_of_work_says_the_database_is_unavailable_not_what_driver_failed(
    uow_factory: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    FullDisk(monkeypatch, times=1)

    with pytest.raises(StorageUnavailableError, match="disk is full"), uow_factory() as uow:
        uow.deliveries.renew(1, "me", clock.now())

    with uow_factory() as uow:  # and the next unit of work works
        assert uow.deliveries.renew(1, "me", clock.now()) is False


def test_a_bug_while_composing_still_uses_up_the_attempts(
    coach: Coach,
    driver: Driver,
    sender: FakeSender,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    join(coach, "ana", "/goal 1 post")

    def broken(*args: Any) -> bool:
        raise RuntimeError("a bug, not the database")

    monkeypatch.setattr(delivery_log.SqlDeliveryRepository, "renew", broken)

    driver.run_until(THU_0900_BERLIN + timedelta(hours=1), step=timedelta(minutes=1))

    (row,) = log_rows(engine)
    assert (row.status, row.detail) == ("failed", "gave up: compose failed")
    assert sender.sent == []
