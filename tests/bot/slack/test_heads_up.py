"""The last day's heads-up on Slack: a DM with its own heading, and ``/nudges heads-up``."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.bot.slack.conftest import Harness
from tests.bot.slack.test_nudges import THURSDAY_NINE_BERLIN, buttons

SUNDAY_NINE_BERLIN = datetime(2026, 11, 29, 8, 0, 30, tzinfo=UTC)


async def test_the_heads_up_arrives_as_a_dm_with_its_own_heading(slack: Harness) -> None:
    await slack.command("/goal", "1 post")
    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 1
    assert await slack.tick_at(SUNDAY_NINE_BERLIN) == 1

    nudge, heads_up = slack.fake.messages_to("T1", "U1")

    assert nudge["blocks"][0]["text"]["text"] == ":seedling: *A tiny nudge*"
    heading = heads_up["blocks"][0]["text"]["text"]
    assert heading == ":hourglass_flowing_sand: *Last day of your week*"
    assert heads_up["text"].startswith("1 post to go for this week's goal (0 of 1 so far)")
    assert "Publish the short version — done beats perfect." in heads_up["text"]
    assert list(buttons(heads_up)) == [
        "habit_published",
        "habit_snooze_later",
        "habit_smaller_step",
    ]


async def test_nudges_heads_up_off_and_on_change_only_the_heads_up(slack: Harness) -> None:
    await slack.command("/goal", "1 post")

    off = await slack.command("/nudges", "heads-up off")

    assert off["text"].startswith("No more last-day heads-up.")
    assert "/nudges heads-up on" in off["text"]
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["nudges"]["heads_up"] is False
    assert stored["member"]["nudges"]["on"] is True
    assert await slack.tick_at(SUNDAY_NINE_BERLIN) == 0

    on = await slack.command("/nudges", "heads-up on")

    assert on["text"].startswith("The heads-up is on")
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["nudges"]["heads_up"] is True
    refused = await slack.command("/nudges", "heads-up maybe")
    assert refused["text"] == (
        "The last-day heads-up can be turned on or off.\nExample: /nudges heads-up off"
    )
