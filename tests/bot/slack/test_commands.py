"""Every slash command, good and bad input, in HTTP mode and in Socket Mode.

Each test asserts on both sides: what the fake Slack received (the ephemeral reply posted to the
``response_url``) and what the engine now stores.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.bot.slack.conftest import Harness
from tests.fakes.slack_server import rendered, slash_command, wait_until


def section_text(reply: dict[str, object]) -> str:
    blocks = reply["blocks"]
    assert isinstance(blocks, list)
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b)


async def test_goal_sets_the_goal_and_defaults_the_zone_to_the_slack_profile(
    slack: Harness,
) -> None:
    reply = await slack.command("/goal", "1 post")

    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Goal set: 1 post a week.")
    assert "Goal set: 1 post a week." in section_text(reply)
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["goal"] == {"target": 1, "label": "post"}
    assert stored["member"]["timezone"] == "Europe/Berlin"  # users.info's tz, on first contact
    assert stored["member"]["workspace"] == "T1"
    assert stored["member"]["display_name"] == "Ana"
    assert len(slack.fake.calls_to("users.info")) == 1


async def test_the_command_is_acknowledged_before_any_slow_work(slack: Harness) -> None:
    gate = slack.fake.users_info_gate = asyncio.Event()  # Slack's API is slow today
    response_url = slack.fake.new_response_url()
    payload = slash_command("/goal", "1 post", team="T1", user="U1", response_url=response_url)

    ack = await slack.deliver("slash_commands", payload)  # returns while users.info hangs

    assert ack is None
    responses = slack.fake.responses_to(response_url)
    assert responses == []
    assert await slack.stored() is None
    gate.set()
    await wait_until(lambda: responses)
    assert responses[0]["text"].startswith("Goal set: 1 post a week.")


async def test_the_profile_zone_is_looked_up_once_and_only_seeds_a_new_member(
    slack: Harness,
) -> None:
    await slack.command("/goal", "1 post", user="U2")
    await slack.command("/timezone", "Asia/Tokyo", user="U2")
    reply = await slack.command("/timezone", user="U2")

    assert reply["text"].startswith("Your time zone is Asia/Tokyo")
    stored = await slack.stored("U2")
    assert stored is not None
    assert stored["member"]["timezone"] == "Asia/Tokyo"  # the profile's New York stays a hint
    assert len(slack.fake.calls_to("users.info")) == 1  # cached per (team, user)


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/goal", "abc", "The weekly goal is a number"),
        ("/goal", "99", "out of range"),
        ("/goal", "🎉", "The weekly goal is a number of publications from 1 to 21, not “🎉”"),
        ("/goal", "rest abc", "A rest is 1 to 8 weeks"),
        ("/published", "ftp://example.com", "doesn't look like a web link"),
        ("/nudges", "someday at 9", "isn't a day"),
        ("/nudges", "mon at 25:00", "isn't a time of day"),
        ("/nudges", "pause", "How long should I pause?"),
        ("/timezone", "Mars/Olympus_Mons", "I don't know the time zone"),
        ("/timezone", "Mars/Olympus", "I don't know the time zone “Mars/Olympus”"),
        ("/habit", "dance", "isn't something I know"),
    ],
)
async def test_bad_input_gets_a_friendly_error_with_an_example_and_stores_nothing(
    slack: Harness, command: str, text: str, expected: str
) -> None:
    reply = await slack.command(command, text)

    assert reply["response_type"] == "ephemeral"
    assert expected in rendered(reply["text"])
    assert "\nExample: /" in reply["text"]
    assert "Traceback" not in reply["text"]
    assert await slack.stored() is None  # not even a member row
    # The App Home refresh would come after the reply: wait for a later member's refresh
    # (same single database thread, so it is queued behind it) before asserting there was none.
    await slack.command("/goal", user="U2")
    await wait_until(lambda: slack.fake.homes_of("T1", "U2"))
    assert slack.fake.homes_of("T1", "U1") == []  # nothing changed, so no App Home refresh


async def test_a_link_and_title_with_ampersands_are_stored_as_typed(slack: Harness) -> None:
    reply = await slack.command("/published", "https://ex.com/?a=1&b=2 Q&A night")

    stored = await slack.stored()
    assert stored is not None
    [publication] = stored["publications"]
    assert publication["url"] == "https://ex.com/?a=1&b=2"
    assert publication["title"] == "Q&A night"
    # Escaped exactly once on the way out: the member reads "Q&A", not "Q&amp;A".
    assert "Logged “Q&amp;A night”" in reply["text"]
    assert "&amp;amp;" not in reply["text"]
    assert rendered(section_text(reply)).startswith("Logged “Q&A night”")


async def test_a_title_with_angle_brackets_is_stored_and_shown_as_typed(slack: Harness) -> None:
    reply = await slack.command("/published", "Why <div> & <span> differ")

    stored = await slack.stored()
    assert stored is not None
    assert stored["publications"][0]["title"] == "Why <div> & <span> differ"
    assert rendered(reply["text"]).startswith("Logged “Why <div> & <span> differ”")
    assert "<div>" not in reply["text"]  # never raw mrkdwn control characters


@pytest.mark.parametrize(
    "wire_text",
    [
        pytest.param("<https://ex.com/post?x=1&amp;y=2|ex.com/post> My post", id="with-label"),
        pytest.param("<https://ex.com/post?x=1&amp;y=2> My post", id="bare"),
    ],
)
async def test_a_link_slack_formatted_is_stored_as_the_link(slack: Harness, wire_text: str) -> None:
    await slack.command("/published", wire_text=wire_text)

    stored = await slack.stored()
    assert stored is not None
    [publication] = stored["publications"]
    assert publication["url"] == "https://ex.com/post?x=1&y=2"
    assert publication["title"] == "My post"


async def test_a_bare_domain_slack_linked_is_stored_as_a_web_link(slack: Harness) -> None:
    # should_escape: true: Slack sends <http://example.com/post|example.com/post> My post.
    reply = await slack.command("/published", "example.com/post My post")

    assert "Logged “My post”" in reply["text"]
    stored = await slack.stored()
    assert stored is not None
    [publication] = stored["publications"]
    assert (publication["url"], publication["title"]) == ("http://example.com/post", "My post")


async def test_an_email_address_slack_linked_is_read_as_typed(slack: Harness) -> None:
    # On the wire: <mailto:ana@example.com|ana@example.com> Office hours
    reply = await slack.command("/published", "ana@example.com Office hours")

    assert rendered(reply["text"]).startswith("Logged “ana@example.com Office hours”")
    stored = await slack.stored()
    assert stored is not None
    [publication] = stored["publications"]
    assert (publication["url"], publication["title"]) == (None, "ana@example.com Office hours")


async def test_mentions_slack_formatted_read_as_the_names_typed(slack: Harness) -> None:
    wire = "Thanks <@U9|ana> in <#C9|general> &amp; <!here>"
    reply = await slack.command("/published", wire_text=wire)

    assert rendered(reply["text"]).startswith("Logged “Thanks @ana in #general & @here”")
    stored = await slack.stored()
    assert stored is not None
    assert stored["publications"][0]["title"] == "Thanks @ana in #general & @here"


async def test_a_very_long_title_is_shortened_and_the_reply_says_so(slack: Harness) -> None:
    reply = await slack.command("/published", "https://example.com/long " + "x" * 5000)

    assert "(The title was long, so I kept its first 200 characters.)" in reply["text"]
    stored = await slack.stored()
    assert stored is not None
    title = stored["publications"][0]["title"]
    assert len(title) == 200
    assert title.endswith("x…")


async def test_emoji_in_a_title_are_kept(slack: Harness) -> None:
    reply = await slack.command("/published", "https://example.com/party 🎉 Launch party 🚀")

    assert reply["text"].startswith("Logged “🎉 Launch party 🚀”.")
    stored = await slack.stored()
    assert stored is not None
    assert stored["publications"][0]["title"] == "🎉 Launch party 🚀"


async def test_goal_show_off_and_rest(slack: Harness) -> None:
    assert (await slack.command("/goal"))["text"].startswith("You have no weekly goal yet")
    await slack.command("/goal", "2 newsletters")
    shown = await slack.command("/goal")
    assert shown["text"].startswith("Your goal: 2 newsletters a week")

    rest = await slack.command("/goal", "rest 2")
    assert rest["text"].startswith("Rest 2 weeks")
    stored = await slack.stored()
    assert stored is not None
    assert stored["rest_weeks"] == ["2026-11-23", "2026-11-30"]

    off = await slack.command("/goal", "off")
    assert off["text"].startswith("Goal tracking is off")
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["goal"]["target"] is None


async def test_published_logs_and_undo_removes(slack: Harness) -> None:
    await slack.command("/goal", "1 post")
    logged = await slack.command("/published", "https://example.com/first My first post")

    assert logged["text"].startswith("Logged “My first post”. 1 of 1 this week — goal met!")
    stored = await slack.stored()
    assert stored is not None
    assert [(p["url"], p["title"], p["source"]) for p in stored["publications"]] == [
        ("https://example.com/first", "My first post", "command")
    ]

    again = await slack.command("/published", "https://example.com/first")
    assert again["text"].startswith("You already logged https://example.com/first")

    undone = await slack.command("/published", "undo")
    assert undone["text"].startswith("Removed “My first post”")
    stored = await slack.stored()
    assert stored is not None
    assert stored["publications"] == []


async def test_streak_renders_the_card_as_blocks(slack: Harness) -> None:
    await slack.command("/goal", "2 posts")
    await slack.command("/published", "https://example.com/a")

    reply = await slack.command("/streak", "whatever follows is ignored")

    assert reply["text"].startswith("🔥 Streak: 0 weeks (longest: 0)")
    card = reply["blocks"][0]
    assert card["text"]["text"] == "*🔥 Streak: 0 weeks (longest: 0)*"
    fields = [f["text"] for f in card["fields"]]
    assert fields[0].startswith("*This week*\n1 of 2, ")
    assert fields[1] == "*Total published*\n1"
    assert fields[2] == "*Freezes*\n❄️ 0 of 2 banked"
    # The card's words are the engine's, only laid out: Slack and Discord cannot drift apart.
    shown = [
        card["text"]["text"].strip("*"),
        *(f.replace("*", "").replace("\n", ": ") for f in fields),
    ]
    assert shown == reply["text"].splitlines()


async def test_nudges_show_set_pause_resume_and_off(slack: Harness) -> None:
    await slack.command("/goal", "1 post")
    shown = await slack.command("/nudges")
    assert shown["text"].startswith(
        "Nudges: Mon Thu at 09:00 (Europe/Berlin). Next: Thu 26 Nov 09:00."
    )

    changed = await slack.command("/nudges", "weekdays at 18:30")
    assert changed["text"].startswith("Nudges: weekdays at 18:30 (Europe/Berlin).")
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["nudges"]["time"] == "18:30"

    paused = await slack.command("/nudges", "pause 2w")
    assert paused["text"].startswith("Nudges paused until Mon 07 Dec.")
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["nudges"]["paused_until"] == "2026-12-07"

    await slack.command("/nudges", "resume")
    off = await slack.command("/nudges", "off")
    assert off["text"].startswith("Nudges are off.")
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["nudges"]["on"] is False
    assert stored["member"]["nudges"]["paused_until"] is None


async def test_timezone_show_and_set(slack: Harness) -> None:
    shown = await slack.command("/timezone")
    assert shown["text"].startswith("Your time zone is Europe/Berlin")  # the profile, unsaved
    assert await slack.stored() is None

    changed = await slack.command("/timezone", "America/Chicago")
    assert changed["text"].startswith("Time zone set to America/Chicago")
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["timezone"] == "America/Chicago"


async def test_habit_help(slack: Harness) -> None:
    reply = await slack.command("/habit", "help")
    assert reply["text"].startswith("Habit Coach — start small, start now.")
    assert "/published [link] [title]" in reply["text"]


async def test_habit_export_uploads_the_json_to_the_members_dm(slack: Harness) -> None:
    await slack.command("/goal", "1 post")
    await slack.command("/published", "https://example.com/a A")

    reply = await slack.command("/habit", "export")

    assert reply["text"] == (
        "Here is everything I store about you (1 publications). "
        "I've sent it to our direct messages as a file."
    )
    assert [c.args["filename"] for c in slack.fake.calls_to("files.getUploadURLExternal")] == [
        "habit-coach-export.json"
    ]
    [shared] = slack.fake.shared_files
    assert shared["channel"] == "DU1"
    uploaded = json.loads(slack.fake.uploads[shared["files"][0]["id"]])
    assert uploaded["member"]["user_id"] == "U1"
    assert uploaded["publications"][0]["url"] == "https://example.com/a"


async def test_habit_forget_asks_first_and_the_button_deletes(slack: Harness) -> None:
    await slack.command("/goal", "1 post")

    asked = await slack.command("/habit", "forget")
    assert asked["text"].startswith("This deletes your goal, streak, publications")
    button, cancel = asked["blocks"][-1]["elements"]
    assert button["action_id"] == "habit_forget_confirm"
    assert cancel["action_id"] == "habit_forget_cancel"
    assert await slack.stored() is not None  # nothing deleted before the confirmation

    done = await slack.click(button["action_id"], button["value"])

    assert done is not None
    assert done["replace_original"] is True
    assert done["text"].startswith("Done — everything I stored about you is deleted.")
    assert await slack.stored() is None


async def test_habit_forget_cancel_keeps_everything_and_replaces_the_question(
    slack: Harness,
) -> None:
    await slack.command("/goal", "1 post")
    asked = await slack.command("/habit", "forget")
    _, cancel = asked["blocks"][-1]["elements"]

    kept = await slack.click(cancel["action_id"], cancel["value"])

    assert kept is not None
    assert kept["replace_original"] is True
    assert kept["text"] == "Kept — nothing was deleted."
    assert await slack.stored() is not None


async def test_the_same_title_twice_asks_and_the_button_logs_it_again_in_place(
    slack: Harness,
) -> None:
    await slack.command("/goal", "2 posts")
    await slack.command("/published", "Morning pages")

    asked = await slack.command("/published", "Morning pages")
    assert asked["text"].endswith("log it again?")
    [button] = asked["blocks"][-1]["elements"]
    assert button["action_id"] == "habit_publish_again"
    assert button["value"].startswith("/published again ")

    done = await slack.click(button["action_id"], button["value"])

    assert done is not None
    assert done["replace_original"] is True
    assert done["text"].startswith("Logged “Morning pages”. 2 of 2 this week")
