"""Sharding: replicas split the gateway by DISCORD_SHARD_IDS, and Discord's routing decides who
answers. The fake gateway routes a guild's events to ``(guild_id >> 22) % count`` and DMs to
shard 0 only, so an interaction is served only if the replica holding its shard is up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.adapters import AdapterError
from bot.discord import DiscordAdapter
from habits.delivery import Dispatcher
from habits.model import ManualClock, Platform
from tests.bot.discord.conftest import ANA, BEN, Harness
from tests.fakes.discord_server import FakeDiscord, guild_on_shard, shard_of

MONDAY_9AM = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)  # the week-opening check-in is due


def command_puts(fake: FakeDiscord) -> list[str]:
    return [r.path for r in fake.requests_to("PUT", f"/applications/{fake.application_id}/")]


def guild_ids(adapter: DiscordAdapter) -> set[int]:
    assert adapter.client is not None
    return {guild.id for guild in adapter.client.guilds}


def test_guild_ids_made_for_a_shard_route_to_it() -> None:
    for count in (1, 2, 3, 16):
        for shard in range(count):
            guilds = [guild_on_shard(shard, count, nth) for nth in range(3)]
            assert [shard_of(guild, count) for guild in guilds] == [shard] * 3
            assert len(set(guilds)) == 3
    assert shard_of(None, 3) == 0  # DMs


async def test_replicas_split_the_shards_and_each_serves_only_its_own(
    fake: FakeDiscord, harness: Harness
) -> None:
    fake.guilds = [guild_on_shard(shard, 3) for shard in range(3)]
    # Shard 0's replica starts last: the others must not register the commands meanwhile.
    upper = await harness.adapter(harness.runtime(discord_shard_count=3, discord_shard_ids=(1, 2)))
    assert command_puts(fake) == []
    first = await harness.adapter(harness.runtime(discord_shard_count=3, discord_shard_ids=(0,)))
    assert command_puts(fake) == [f"/applications/{fake.application_id}/commands"]
    assert upper.syncs_commands is False
    assert first.syncs_commands is True

    assert fake.held_shards(3) == {0, 1, 2}
    assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 3), (1, 3), (2, 3)]
    assert fake.requests_to("GET", "/gateway/bot") == []  # the count was given
    await fake.wait_until(lambda: guild_ids(first) and len(guild_ids(upper)) == 2)
    assert guild_ids(first) == {fake.guilds[0]}
    assert guild_ids(upper) == {fake.guilds[1], fake.guilds[2]}

    for shard, guild in enumerate(fake.guilds):
        answer = await fake.slash(ANA, "goal", {"count": shard + 1}, guild_id=guild)
        assert f"Goal set: {shard + 1}" in answer.content
        assert fake.shards_that_got(answer.interaction_id) == [(shard, 3)]
    in_dm = await fake.slash(BEN, "streak")  # a DM: shard 0 only
    assert in_dm.ephemeral
    assert fake.shards_that_got(in_dm.interaction_id) == [(0, 3)]


async def test_an_interaction_on_a_shard_nobody_holds_goes_unanswered(
    fake: FakeDiscord, harness: Harness
) -> None:
    await harness.adapter(harness.runtime(discord_shard_count=2, discord_shard_ids=(1,)))
    orphan = fake.interaction(
        2, {"id": "1", "name": "streak", "type": 1, "options": []}, ANA, guild_id=None
    )  # a DM: shard 0, which no replica holds here
    orphan_id = await fake.send_interaction(orphan)
    served = await fake.slash(ANA, "streak", guild_id=guild_on_shard(1, 2))

    assert served.ephemeral
    assert fake.shards_that_got(orphan_id) == []
    with pytest.raises(TimeoutError):
        await fake.answer_to(orphan_id, within=0.5)


async def test_without_shard_settings_one_process_holds_every_shard_discord_recommends(
    fake: FakeDiscord, harness: Harness
) -> None:
    fake.recommended_shards = 2
    adapter = await harness.adapter(harness.runtime())  # discord.py spaces IDENTIFYs by 5 s

    assert len(fake.requests_to("GET", "/gateway/bot")) == 1
    assert [i["shard"] for i in fake.identifies] == [[0, 2], [1, 2]]
    assert adapter.client is not None
    assert adapter.client.held_shards() == [0, 1]
    assert fake.held_shards(2) == {0, 1}
    assert adapter.syncs_commands is True
    assert len(command_puts(fake)) == 1
    for shard in range(2):
        answer = await fake.slash(ANA, "streak", guild_id=guild_on_shard(shard, 2))
        assert fake.shards_that_got(answer.interaction_id) == [(shard, 2)]


async def test_a_replica_without_shard_0_still_delivers_dms(
    fake: FakeDiscord, harness: Harness, clock: ManualClock
) -> None:
    """DMs are REST: the delivery loop of any replica sends them, whatever shards it holds."""
    runtime = harness.runtime(discord_shard_count=2, discord_shard_ids=(1,))
    adapter = await harness.adapter(runtime)
    answer = await fake.slash(ANA, "goal", {"count": 1}, guild_id=guild_on_shard(1, 2))
    assert "Goal set: 1 post a week" in answer.content
    dispatcher = Dispatcher(runtime.outbox, {Platform.DISCORD: adapter.sender}, runtime.call)

    clock.set(MONDAY_9AM)
    assert await dispatcher.tick() == 1

    [dm] = fake.dms_to(ANA)
    assert "0 of 1 this week" in dm["content"]
    assert fake.held_shards(2) == {1}  # nobody holds shard 0, and the DM went out anyway


async def test_a_shard_count_too_small_for_the_servers_is_a_clear_start_error(
    fake: FakeDiscord, harness: Harness
) -> None:
    fake.max_guilds_per_shard = 1
    fake.guilds = [guild_on_shard(0, 1, nth) for nth in range(2)]
    adapter = DiscordAdapter(harness.runtime(discord_shard_count=1), connect_timeout=10)

    with pytest.raises(AdapterError, match=r"4011 Sharding required.*DISCORD_SHARD_COUNT"):
        await adapter.start()

    assert adapter.client is not None
    assert adapter.client.is_closed()
    await asyncio.wait_for(adapter.close(), 5)
