"""Registering the slash commands: only when they changed, and never fatal when Discord refuses."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from discord import app_commands
from sqlalchemy.exc import IntegrityError

from bot.discord import adapter as discord_adapter
from bot.discord import commands as discord_commands
from bot.discord.adapter import COMMANDS_RECORD
from bot.runtime import Runtime
from tests.bot.discord.conftest import ANA, Harness
from tests.fakes.discord_server import FakeDiscord

GUILD = 500_000_000_000_000_001


def puts(fake: FakeDiscord) -> list[str]:
    return [r.path for r in fake.requests_to("PUT", f"/applications/{fake.application_id}/")]


async def restart(harness: Harness, **settings: object) -> Runtime:
    """Close every adapter, then start a new one on a new runtime over the same database."""
    for adapter in harness.adapters:
        await adapter.close()
    await harness.fake.wait_until(lambda: not harness.fake.connected)
    runtime = harness.runtime(**settings)
    await harness.adapter(runtime)
    return runtime


async def test_commands_are_registered_once_and_again_only_when_they_change(
    fake: FakeDiscord, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = fake.application_id
    runtime = await restart(harness)
    assert puts(fake) == [f"/applications/{app}/commands"]
    record = runtime.records.get(COMMANDS_RECORD, app)
    assert record is not None
    assert record["count"] == 6

    await restart(harness)  # the same commands: Discord still has them
    assert len(puts(fake)) == 1
    answer = await fake.slash(ANA, "goal", {"count": 1})
    assert "Goal set: 1 post a week" in answer.content

    # A new version with a changed option is registered on its first start, then not again.
    fewer = discord_commands.GOAL_CHANGES[:2]
    monkeypatch.setattr(discord_commands, "GOAL_CHANGES", fewer)
    await restart(harness)
    assert len(puts(fake)) == 2
    [goal] = [c for c in fake.commands[None] if c["name"] == "goal"]
    [change] = [o for o in goal["options"] if o["name"] == "change"]
    assert [c["value"] for c in change["choices"]] == ["off", "rest"]
    await restart(harness)
    assert len(puts(fake)) == 2

    # Another target (a development guild) is registered there, even with the same commands.
    await restart(harness, discord_dev_guild_id=GUILD)
    assert puts(fake)[-1] == f"/applications/{app}/guilds/{GUILD}/commands"
    await restart(harness, discord_dev_guild_id=GUILD)
    assert len(puts(fake)) == 3
    await restart(harness)  # back to global: registered again
    assert puts(fake)[-1] == f"/applications/{app}/commands"
    assert len(puts(fake)) == 4


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 50035), (403, 50001), (503, 0), (429, 0)],
    ids=["400", "403", "503", "429"],
)
async def test_a_failed_sync_is_a_warning_and_the_adapter_serves_anyway(
    fake: FakeDiscord,
    harness: Harness,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    code: int,
) -> None:
    app = fake.application_id
    if status == 429:  # longer than the coach waits in place
        fake.rate_limit(f"/applications/{app}/commands", retry_after=600.0)
    else:
        fake.fail("PUT", f"/applications/{app}/commands", status, code, times=5)
    # discord.py retries a 5xx for about 16 s; the coach gives up on the sync sooner.
    monkeypatch.setattr(discord_adapter, "SYNC_TIMEOUT", 0.5)
    runtime = harness.runtime()

    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        await harness.adapter(runtime)

    [warning] = [r.getMessage() for r in caplog.records if r.name.startswith("bot.discord")]
    assert "slash commands" in warning
    assert "registered before" in warning
    assert runtime.records.get(COMMANDS_RECORD, app) is None  # the next start tries again
    answer = await fake.slash(ANA, "goal", {"count": 1})
    assert "Goal set: 1 post a week" in answer.content


async def test_a_retried_5xx_then_success_registers_the_commands(
    fake: FakeDiscord, harness: Harness
) -> None:
    app = fake.application_id
    fake.fail("PUT", f"/applications/{app}/commands", 502)  # discord.py retries after 1 s
    runtime = harness.runtime()

    await harness.adapter(runtime)

    assert len(puts(fake)) == 2
    assert runtime.records.get(COMMANDS_RECORD, app) is not None


async def test_commands_discord_would_refuse_do_not_stop_the_adapter(
    fake: FakeDiscord,
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    too_long = app_commands.Choice(name="x" * 101, value="off")  # choice names: 100 at most
    monkeypatch.setattr(discord_commands, "GOAL_CHANGES", [too_long])
    runtime = harness.runtime()

    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        await harness.adapter(runtime)

    assert fake.commands == {}  # the fake refused them, as Discord would: 400, 50035
    [warning] = [r.getMessage() for r in caplog.records if r.name.startswith("bot.discord")]
    assert "answered 400" in warning
    assert "Must be between 1 and 100 in length" in warning
    answer = await fake.slash(ANA, "streak")
    assert answer.type == 4


class BrokenRecords:
    """Our double of bot.runtime.RecordStore whose database fails on ``broken`` calls."""

    def __init__(self, *broken: str):
        self.broken = broken
        self.data: dict[tuple[str, str], dict[str, Any]] = {}

    def _check(self, call: str) -> None:
        if call in self.broken:
            raise IntegrityError(
                "INSERT INTO adapter_records ...", {}, Exception("UNIQUE constraint failed")
            )

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        self._check("put")
        self.data[kind, key] = data

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        self._check("get")
        return self.data.get((kind, key))

    def delete(self, kind: str, key: str) -> bool:
        self._check("delete")
        return self.data.pop((kind, key), None) is not None

    def take(self, kind: str, key: str, max_age: timedelta) -> dict[str, Any] | None:
        self._check("take")
        return self.data.pop((kind, key), None)


@pytest.mark.parametrize("broken", ["get", "put"])
async def test_a_database_error_on_the_commands_record_is_a_warning_and_serves_anyway(
    fake: FakeDiscord, harness: Harness, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    runtime = harness.runtime()
    runtime.records = BrokenRecords(broken)  # e.g. two replicas starting together

    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        await harness.adapter(runtime)

    [warning] = [r.getMessage() for r in caplog.records if r.name.startswith("bot.discord")]
    assert "IntegrityError" in warning
    assert puts(fake) == [f"/applications/{fake.application_id}/commands"]  # synced all the same
    answer = await fake.slash(ANA, "goal", {"count": 1})
    assert "Goal set: 1 post a week" in answer.content
