"""The connection's life: a gateway reconnect (op 7 → RESUME), restarts, bad tokens, closing."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters import AdapterError
from bot.discord import DiscordAdapter
from bot.discord.interactions import DEFER_AFTER
from bot.runtime import Runtime
from habits.delivery import Dispatcher
from habits.model import ManualClock, Platform
from tests.bot.discord.conftest import ANA, Harness, Store
from tests.fakes.discord_server import FakeDiscord

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


def published_payload(fake: FakeDiscord, title: str) -> dict[str, Any]:
    data = {
        "id": "1",
        "name": "published",
        "type": 1,
        "options": [{"name": "title", "type": 3, "value": title}],
    }
    return fake.interaction(2, data, ANA)


@pytest.mark.parametrize("defer_after", [DEFER_AFTER, 0.0], ids=["answered", "deferred"])
async def test_an_interaction_replayed_after_resume_logs_once_and_is_refused_quietly(
    fake: FakeDiscord,
    harness: Harness,
    runtime: Runtime,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    defer_after: float,
) -> None:
    await harness.adapter(runtime, defer_after=defer_after)
    interaction_id = await fake.send_interaction(published_payload(fake, "Replayed"))
    await fake.answer_to(interaction_id)

    with caplog.at_level(logging.INFO, logger="bot.discord"):
        await fake.request_reconnect(replay=[interaction_id])
        await fake.wait_until(lambda: interaction_id in fake.refused_callbacks)
        # Still serving, on the resumed session.
        answer = await fake.slash(ANA, "streak")

    assert answer.type in (4, 5)
    [refused] = fake.refused_callbacks[interaction_id]
    assert refused["code"] == 40060
    [row] = store.publications(ANA)
    assert (row.title, row.request_key) == ("Replayed", interaction_id)
    ours = [r for r in caplog.records if r.name.startswith("bot.discord")]
    assert [r.levelno for r in ours] == [logging.INFO]
    assert "already answered" in ours[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert len(fake.identifies) == 1  # resumed, not a new session
