"""A stuck database becomes an error within the configured timeouts, never a thread stuck for
good: a statement that runs too long, a lock another session holds, a SQLite file another
process is writing. The running coach gets the timeouts from its settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.bootstrap import bootstrap
from bot.settings import Settings
from habits.coach import Coach
from habits.messages import OOPS_REPLY
from habits.model import ManualClock, MemberRef
from storage.database import DatabaseTimeouts, make_engine
from storage.records import SqlRecordStore
from storage.uow import SqlUnitOfWorkFactory

ANA = MemberRef.console("ana")
TINY = DatabaseTimeouts(connect=2, statement=0.2, lock=0.2)
# How long a test waits for an answer before it calls the call stuck (a guard: a passing test
# gets its answer in a fraction of a second, and never sleeps).
STUCK = 20.0
T = TypeVar("T")


def answered(call: Callable[[], T]) -> T:
    """``call()``'s result; fails the test, instead of hanging it, if no answer comes."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=STUCK)


@pytest.fixture
def tiny_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, pool_size=1, timeouts=TINY)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_a_statement_past_the_timeout_is_cancelled(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1, timeouts=TINY)

    def sleep_long() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(30)"))

    with pytest.raises(OperationalError, match="statement timeout"):
        answered(sleep_long)
    engine.dispose()


@pytest.mark.postgres
def test_options_in_the_url_are_kept_beside_the_timeouts(pg_url: str) -> None:
    url = make_url(pg_url).update_query_dict({"options": "-c application_name=coach-test"})
    engine = make_engine(url.render_as_string(hide_password=False), timeouts=TINY)

    with engine.connect() as connection:
        shown = {
            name: connection.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("statement_timeout", "lock_timeout", "application_name")
        }
    engine.dispose()

    assert shown == {
        "statement_timeout": "200ms",
        "lock_timeout": "200ms",
        "application_name": "coach-test",
    }


def test_a_command_on_a_locked_database_answers_try_again(
    db_url: str, tiny_engine: Engine, clock: ManualClock
) -> None:
    """Another session holds the members table (PostgreSQL) or the write lock (SQLite)."""
    coach = Coach(SqlUnitOfWorkFactory(tiny_engine), clock)
    holder = make_engine(db_url, pool_size=1)
    with holder.connect() as connection:
        if holder.dialect.name == "postgresql":
            connection.execute(text("LOCK TABLE members IN ACCESS EXCLUSIVE MODE"))
        else:
            connection.execute(text("INSERT INTO adapter_records VALUES ('k', 'k', '{}', '')"))

        reply = answered(lambda: coach.handle(ANA, "/goal 1 post"))

        connection.rollback()
    holder.dispose()

    assert not reply.ok
    assert reply.text == OOPS_REPLY.text
    assert coach.handle(ANA, "/goal 1 post").ok  # the lock gone, the same command works


def test_a_sqlite_file_locked_by_another_process_is_an_error_not_a_hang(
    sqlite_url: str, clock: ManualClock
) -> None:
    path = make_url(sqlite_url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)  # as another process would
    other.execute("BEGIN EXCLUSIVE")
    engine = make_engine(sqlite_url, pool_size=1, timeouts=TINY)
    store = SqlRecordStore(engine, clock.now)
    try:
        with pytest.raises(OperationalError, match="locked"):
            answered(lambda: store.put("k", "k", {}))
    finally:
        other.rollback()
        other.close()
    store.put("k", "k", {"v": 1})
    assert store.get("k", "k") == {"v": 1}
    engine.dispose()


def test_the_running_coach_takes_its_timeouts_from_the_settings(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        database_statement_timeout_seconds=0.25,
        database_lock_timeout_seconds=0.125,
    )
    runtime = bootstrap(settings, clock=clock)
    records = runtime.records
    assert isinstance(records, SqlRecordStore)
    try:
        with records.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                shown = [
                    connection.execute(text(f"SHOW {name}")).scalar_one()
                    for name in ("statement_timeout", "lock_timeout")
                ]
                assert shown == ["250ms", "125ms"]
            else:
                busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
                assert busy == 250
    finally:
        runtime.close()
