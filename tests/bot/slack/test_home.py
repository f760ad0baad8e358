"""The App Home tab: published on app_home_opened, and again after every change."""

from __future__ import annotations

from typing import Any

from tests.bot.slack.conftest import Harness
from tests.fakes.slack_server import app_home_opened, wait_until


def texts(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [
            e.get("text", "") for e in block.get("elements", []) if block["type"] == "context"
        ]
    return "\n".join(parts)


async def test_opening_the_home_tab_publishes_the_card_without_storing_a_member(
    slack: Harness,
) -> None:
    await slack.open_home()

    await wait_until(lambda: slack.fake.homes_of("T1", "U1"))
    [view] = slack.fake.homes_of("T1", "U1")
    assert view["type"] == "home"
    shown = texts(view)
    assert "*🔥 Streak: 0 weeks (longest: 0)*" in shown
    assert "*Goal*\nYou have no weekly goal yet." in shown
    assert "*Time zone*\nYour time zone is Europe/Berlin" in shown  # the profile's, as a hint
    assert await slack.stored() is None  # looking is not joining


async def test_the_home_tab_is_republished_after_a_change(slack: Harness) -> None:
    await slack.command("/goal", "2 posts")
    await wait_until(lambda: slack.fake.homes_of("T1", "U1"))
    await slack.command("/published", "https://example.com/a")

    await wait_until(lambda: len(slack.fake.homes_of("T1", "U1")) == 2)
    latest = texts(slack.fake.homes_of("T1", "U1")[-1])
    assert "*This week*\n1 of 2, " in latest
    assert "*Goal*\nYour goal: 2 posts a week" in latest
    assert "*Nudges*\nNudges: Mon Thu at 09:00 (Europe/Berlin)." in latest


async def test_the_home_tab_follows_a_modal_submission(slack: Harness) -> None:
    await slack.command("/goal", "1 post")
    await wait_until(lambda: len(slack.fake.homes_of("T1", "U1")) == 1)

    await slack.submit_publication("https://example.com/a", "A")

    await wait_until(lambda: len(slack.fake.homes_of("T1", "U1")) == 2)
    assert "goal met! 🎉" in texts(slack.fake.homes_of("T1", "U1")[-1])


async def test_the_messages_tab_does_not_publish_a_home_view(slack: Harness) -> None:
    await slack.deliver("events_api", app_home_opened(team="T1", user="U1", tab="messages"))
    await slack.open_home(user="U2")  # a later event that does publish, to wait on

    await wait_until(lambda: slack.fake.homes_of("T1", "U2"))
    assert slack.fake.homes_of("T1", "U1") == []
