"""The last day's heads-up on Discord: a DM under its own heading, and the typed option that
turns it off and on."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.discord import DiscordAdapter
from habits.delivery import Dispatcher
from habits.model import ManualClock
from tests.bot.discord.conftest import ANA, Store
from tests.bot.discord.test_dms import buttons
from tests.fakes.discord_server import FakeDiscord

THURSDAY_9AM = datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)
SUNDAY_9AM = datetime(2026, 11, 29, 9, 0, 30, tzinfo=UTC)  # the week's last day, in UTC


async def test_the_heads_up_arrives_as_a_dm_under_its_own_heading(
    fake: FakeDiscord, adapter: DiscordAdapter, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    clock.set(THURSDAY_9AM)
    assert await dispatcher.tick() == 1
    clock.set(SUNDAY_9AM)
    assert await dispatcher.tick() == 1

    nudge, heads_up = fake.dms_to(ANA)

    assert nudge["content"].startswith("**Nudge**")
    assert heads_up["content"].startswith(
        "**Heads-up: last day of your week**\n1 post to go for this week's goal (0 of 1 so far)"
    )
    assert "Publish the short version" in heads_up["content"]
    assert buttons(heads_up) == ["habit:published", "habit:snooze_later", "habit:smaller_step"]


async def test_the_change_option_turns_the_heads_up_off_and_on(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})

    off = await fake.slash(ANA, "nudges", {"change": "heads-up off"})

    assert off.content.startswith("No more last-day heads-up.")
    assert "/nudges change:heads-up on" in off.content
    member = store.member(ANA)
    assert member is not None
    assert (member.heads_up_enabled, member.nudges_on) == (False, True)
    clock.set(SUNDAY_9AM)
    assert await dispatcher.tick() == 0

    on = await fake.slash(ANA, "nudges", {"change": "heads-up on"})

    assert on.content.startswith("The heads-up is on")
    member = store.member(ANA)
    assert member is not None
    assert member.heads_up_enabled
