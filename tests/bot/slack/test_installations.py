"""The installation store Bolt reads before every request: brief in-memory caching of bots,
Enterprise Grid workspaces found by their team alone, and uninstalls that leave nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.bootstrap import bootstrap
from bot.runtime import RecordStore, Runtime
from bot.settings import Settings
from bot.slack.installations import BOT_KIND, INSTALLATION_KIND, RecordInstallationStore
from habits.model import ManualClock
from tests.conftest import MONDAY


class CountingRecords:
    """The real record store, counting reads."""

    def __init__(self, inner: RecordStore):
        self.inner = inner
        self.reads = 0

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        self.inner.put(kind, key, data)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.inner.get(kind, key)

    def delete(self, kind: str, key: str) -> bool:
        return self.inner.delete(kind, key)

    def take(self, kind: str, key: str, max_age: Any) -> dict[str, Any] | None:
        return self.inner.take(kind, key, max_age)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'c.db'}")  # type: ignore[call-arg]
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    runtime.records = CountingRecords(runtime.records)
    yield runtime
    runtime.close()


def installation(
    team: str, token: str, enterprise: str | None = None, user: str = "UA"
) -> Installation:
    return Installation(
        app_id="ATEST",
        enterprise_id=enterprise,
        team_id=team,
        user_id=user,
        bot_token=token,
        bot_id=f"B{team}",
        bot_user_id=f"UBOT{team}",
        bot_scopes=["chat:write"],
    )


async def test_find_bot_is_answered_from_memory_for_a_minute(runtime: Runtime) -> None:
    clock = Clock()
    store = RecordInstallationStore(runtime, cache_seconds=60, clock=clock)
    records = runtime.records
    assert isinstance(records, CountingRecords)
    await store.async_save(installation("T1", "xoxb-one"))

    reads = records.reads
    for _ in range(5):
        bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
        assert bot is not None
        assert bot.bot_token == "xoxb-one"
    assert records.reads == reads + 1

    clock.now += 61
    await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert records.reads == reads + 2


async def test_an_install_or_uninstall_clears_the_cache_at_once(runtime: Runtime) -> None:
    removed: list[str] = []
    store = RecordInstallationStore(runtime, cache_seconds=60, clock=Clock())
    store.on_bot_removed = removed.append
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None  # cached miss

    await store.async_save(installation("T1", "xoxb-one"))
    found = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert found is not None
    assert found.bot_token == "xoxb-one"

    await store.async_save(installation("T1", "xoxb-two"))
    found = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert found is not None
    assert found.bot_token == "xoxb-two"
    assert removed == ["xoxb-one"]  # the replaced token is forgotten by whoever cached it

    await store.async_delete_all(enterprise_id=None, team_id="T1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert removed == ["xoxb-one", "xoxb-two"]


async def test_a_grid_workspace_is_found_by_its_team_alone_and_deleted_whole(
    runtime: Runtime,
) -> None:
    store = RecordInstallationStore(runtime)
    await store.async_save(installation("T4", "xoxb-grid", enterprise="E1", user="UA"))

    by_team = await store.async_find_bot(enterprise_id=None, team_id="T4")
    by_both = await store.async_find_bot(enterprise_id="E1", team_id="T4")
    assert by_team is not None
    assert by_both is not None
    assert by_team.bot_token == by_both.bot_token == "xoxb-grid"

    await store.async_delete_all(enterprise_id="E1", team_id="T4")

    assert await store.async_find_bot(enterprise_id=None, team_id="T4") is None
    for kind, key in [
        (BOT_KIND, "E1:T4"),
        (BOT_KIND, "-:T4"),
        (INSTALLATION_KIND, "E1:T4"),
        (INSTALLATION_KIND, "E1:T4:UA"),
    ]:
        assert await runtime.call(runtime.records.get, kind, key) is None, (kind, key)
