"""Shared fixtures: a fixed clock and the same storage on a real SQLite file and real PostgreSQL.

PostgreSQL tests run when HABIT_COACH_TEST_POSTGRES_URL names a server (CI always sets it) and
skip with that reason otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from habits.coach import Coach
from habits.model import ManualClock
from habits.outbox import Outbox
from storage.database import make_engine, upgrade
from storage.uow import SqlUnitOfWorkFactory

POSTGRES_ENV = "HABIT_COACH_TEST_POSTGRES_URL"
# A Monday, 13:00 UTC (14:00 in Berlin): the start of an ordinary week.
MONDAY = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def reset_postgres(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'coach.db'}"
    upgrade(url)
    return url


@pytest.fixture
def pg_url() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    reset_postgres(url)
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on a real SQLite file and on a real PostgreSQL server."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def uow_factory(engine: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


@pytest.fixture
def coach(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> Coach:
    return Coach(uow_factory, clock)


@pytest.fixture
def outbox(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> Outbox:
    return Outbox(uow_factory, clock)
