"""Fixtures: a fake Discord on loopback, a real runtime on a SQLite file, the real adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, select

from bot.bootstrap import bootstrap
from bot.discord import DiscordAdapter
from bot.runtime import Runtime
from bot.settings import Settings
from habits.delivery import Dispatcher
from habits.model import ManualClock, Platform
from storage.database import make_engine
from storage.tables import deliveries, members, publications
from tests.fakes.discord_server import FakeDiscord

# Monday 2026-11-23 08:00 UTC: an hour before a UTC member's week-opening check-in at 09:00.
MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ANA = 400_000_000_000_000_001
BEN = 400_000_000_000_000_002


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    return fake_discord


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'coach.db'}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_8AM)


def discord_settings(fake: FakeDiscord, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "discord_token": fake.token,
        "discord_api_base_url": fake.api_base_url,
        "discord_gateway_url": fake.gateway_url,
        "discord_dev_guild_id": None,
        "sweep_interval_seconds": 0.05,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Harness:
    """Builds runtimes and started adapters, and closes them all at the end of a test."""

    def __init__(self, fake: FakeDiscord, database_url: str, clock: ManualClock):
        self.fake = fake
        self.database_url = database_url
        self.clock = clock
        self.runtimes: list[Runtime] = []
        self.adapters: list[DiscordAdapter] = []

    def runtime(self, **settings: Any) -> Runtime:
        runtime = bootstrap(
            discord_settings(self.fake, self.database_url, **settings), clock=self.clock
        )
        self.runtimes.append(runtime)
        return runtime

    async def adapter(self, runtime: Runtime, **options: Any) -> DiscordAdapter:
        adapter = DiscordAdapter(runtime, **options)
        self.adapters.append(adapter)
        await adapter.start()
        return adapter

    async def close(self) -> None:
        for adapter in self.adapters:
            await adapter.close()
        for runtime in self.runtimes:
            runtime.close()


@pytest.fixture
async def harness(
    fake: FakeDiscord, database_url: str, clock: ManualClock
) -> AsyncIterator[Harness]:
    harness = Harness(fake, database_url, clock)
    yield harness
    await harness.close()


@pytest.fixture
def runtime(harness: Harness) -> Runtime:
    return harness.runtime()


@pytest.fixture
async def adapter(harness: Harness, runtime: Runtime) -> DiscordAdapter:
    return await harness.adapter(runtime)


@pytest.fixture
def dispatcher(runtime: Runtime, adapter: DiscordAdapter) -> Dispatcher:
    """The engine's real delivery loop, ticked by the test instead of the scheduler."""
    return Dispatcher(runtime.outbox, {Platform.DISCORD: adapter.sender}, runtime.call)


class Store:
    """Reads the SQLite file behind the runtime, to check what the engine stored."""

    def __init__(self, database_url: str):
        self.engine = make_engine(database_url, pool_size=1)

    def member(self, user_id: int) -> Row[Any] | None:
        with self.engine.connect() as connection:
            return connection.execute(
                select(members).where(
                    members.c.platform == "discord", members.c.user_id == str(user_id)
                )
            ).first()

    def publications(self, user_id: int) -> list[Row[Any]]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(publications)
                    .join(members, members.c.id == publications.c.member_id)
                    .where(members.c.platform == "discord", members.c.user_id == str(user_id))
                    .order_by(publications.c.id)
                )
            )

    def deliveries(self, user_id: int) -> list[Row[Any]]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(deliveries)
                    .join(members, members.c.id == deliveries.c.member_id)
                    .where(members.c.platform == "discord", members.c.user_id == str(user_id))
                    .order_by(deliveries.c.id)
                )
            )


@pytest.fixture
def store(runtime: Runtime, database_url: str) -> Iterator[Store]:
    store = Store(database_url)  # after the runtime: bootstrap migrated the file
    yield store
    store.engine.dispose()
