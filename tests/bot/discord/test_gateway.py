"""The connection's life: a gateway reconnect (op 7 → RESUME), restarts, bad tokens, closing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.adapters import AdapterError
from bot.discord import DiscordAdapter
from bot.runtime import Runtime
from habits.delivery import Dispatcher
from habits.model import ManualClock, Platform
from tests.bot.discord.conftest import ANA, Harness, Store
from tests.bot.discord.fake_discord import FakeDiscord

MONDAY_9AM = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)


async def test_op_7_reconnects_and_resumes_without_losing_an_interaction(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    session = fake.session_id

    await fake.request_reconnect()
    # Sent while the bot is between connections: Discord replays it after the RESUME.
    missed = fake.interaction(
        2,
        {
            "id": "1",
            "name": "goal",
            "type": 1,
            "options": [{"name": "count", "type": 4, "value": 2}],
        },
        ANA,
    )
    missed_id = await fake.send_interaction(missed)

    await fake.wait_until(lambda: fake.resumes and fake.connected)
    [resume] = fake.resumes
    assert resume["session_id"] == session
    assert resume["seq"] >= 2
    answer = await fake.answer_to(missed_id)
    assert "Goal set: 2 posts a week" in answer.content

    after = await fake.slash(ANA, "goal")
    assert "Your goal: 2 posts a week" in after.content
    assert len(fake.identifies) == 1  # resumed, not a new session
    member = store.member(ANA)
    assert member is not None
    assert member.goal_target == 2


async def test_buttons_and_forms_from_before_a_restart_still_work(
    fake: FakeDiscord,
    harness: Harness,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    clock.set(MONDAY_9AM)
    assert await dispatcher.tick() == 1
    [dm] = fake.dms_to(ANA)
    form = await fake.click(ANA, dm, "habit:published")
    assert form.type == 9

    await adapter.close()
    await adapter.close()  # closing twice is fine
    await fake.wait_until(lambda: not fake.connected)
    restarted = await harness.adapter(harness.runtime())  # a new process on the same database
    assert len(fake.identifies) == 2

    snoozed = await fake.click(ANA, dm, "habit:snooze_tomorrow")
    assert "Snoozed — I'll nudge you again Tue 24 Nov 09:00" in snoozed.content
    submitted = await fake.submit(ANA, "habit:form:published", {"url": "", "title": "After"})
    assert "Logged “After”" in submitted.content
    assert [p.title for p in store.publications(ANA)] == ["After"]
    assert restarted.client is not None
    assert not restarted.client.is_closed()


async def test_a_refused_token_is_a_clear_start_error(fake: FakeDiscord, harness: Harness) -> None:
    runtime = harness.runtime(discord_token="not-the-token")
    adapter = DiscordAdapter(runtime)

    with pytest.raises(AdapterError, match=r"refused DISCORD_TOKEN \(401"):
        await adapter.start()

    assert adapter.client is not None
    assert adapter.client.is_closed()
    assert fake.identifies == []
    await adapter.close()  # safe after a failed start


async def test_a_gateway_that_closes_for_good_ends_wait_closed(
    fake: FakeDiscord, adapter: DiscordAdapter, runtime: Runtime
) -> None:
    waiting = adapter.wait_closed()

    await fake.kick(4004)  # authentication failed: discord.py does not reconnect

    async with asyncio.timeout(5):
        await waiting
    assert adapter.platform == Platform.DISCORD
    assert adapter.name == "Discord"
