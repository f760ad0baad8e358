"""Slash commands against the fake Discord: what Discord received, and what the engine stored."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.discord import DiscordAdapter
from bot.discord.render import DISCORD_EXAMPLES, DISCORD_HELP
from bot.runtime import Runtime
from habits import timekeeping as tk
from habits.grammar import EXAMPLES
from habits.model import MAX_LABEL, MAX_TITLE, MAX_URL, ManualClock
from tests.bot.discord.conftest import ANA, BEN, Harness, Store
from tests.fakes.discord_server import Callback, FakeDiscord

PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content


def options_of(command: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {option["name"]: option for option in command.get("options", [])}


async def test_login_registers_every_command_globally_with_typed_options(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    calls = [(r.method, r.path) for r in fake.requests]
    app = fake.application_id
    assert calls[:3] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("PUT", f"/applications/{app}/commands"),
    ]
    assert list(fake.commands) == [None]  # global: no DISCORD_DEV_GUILD_ID
    commands = {c["name"]: c for c in fake.commands[None]}
    assert set(commands) == {"goal", "published", "streak", "nudges", "timezone", "habit"}
    for command in commands.values():
        assert command["contexts"] == [0, 1]  # servers and DMs with the bot

    goal = options_of(commands["goal"])
    assert goal["count"]["type"] == 4
    assert (goal["count"]["min_value"], goal["count"]["max_value"]) == (1, 21)
    assert goal["label"]["type"] == 3
    assert [c["value"] for c in goal["change"]["choices"]] == [
        "off",
        "rest",
        "rest off",
        "week sunday",
        "week monday",
        "freezes off",
        "freezes on",
    ]
    assert (goal["weeks"]["min_value"], goal["weeks"]["max_value"]) == (1, 8)
    assert not any(option["required"] for option in goal.values())
    published = options_of(commands["published"])
    assert set(published) == {"url", "title", "when", "undo", "list", "remove"}
    assert published["when"]["autocomplete"] is True
    assert (published["list"]["type"], published["remove"]["type"]) == (5, 4)
    assert published["url"]["max_length"] == MAX_URL  # the engine's limits (Discord's is 6,000)
    assert published["title"]["max_length"] == MAX_TITLE
    assert goal["label"]["max_length"] == MAX_LABEL
    assert options_of(commands["published"])["undo"]["type"] == 5
    assert set(options_of(commands["nudges"])) == {"days", "time", "change", "pause_for"}
    assert [c["value"] for c in options_of(commands["nudges"])["change"]["choices"]] == [
        "pause",
        "resume",
        "off",
        "snooze later",
        "snooze tomorrow",
        "smaller",
        "heads-up off",
        "heads-up on",
    ]
    assert options_of(commands["timezone"])["zone"]["autocomplete"] is True
    habit = options_of(commands["habit"])
    assert {name: option["type"] for name, option in habit.items()} == {
        "help": 1,
        "export": 1,
        "forget": 1,
    }
    assert commands["streak"]["options"] == []

    # The gateway: API v10, and no privileged intent asked for.
    assert fake.gateway_queries[0]["v"] == "10"
    assert len(fake.identifies) == 1
    assert fake.identifies[0]["intents"] & PRIVILEGED_INTENTS == 0


async def test_a_development_guild_gets_the_commands_instantly_and_they_work_there(
    fake: FakeDiscord, harness: Harness
) -> None:
    guild = 500_000_000_000_000_001
    runtime = harness.runtime(discord_dev_guild_id=guild)
    await harness.adapter(runtime)

    assert list(fake.commands) == [str(guild)]
    assert fake.requests_to("PUT", f"/applications/{fake.application_id}/guilds/{guild}/commands")
    answer = await fake.slash(ANA, "goal", {"count": 2}, guild_id=guild)
    assert answer.type == 4
    assert "Goal set: 2 posts a week" in answer.content


async def test_goal_sets_shows_rests_and_turns_off(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    answer = await fake.slash(ANA, "goal", {"count": 3, "label": "newsletters"})
    assert answer.type == 4
    assert answer.ephemeral
    assert "Goal set: 3 newsletters a week" in answer.content
    member = store.member(ANA)
    assert member is not None
    assert (member.goal_target, member.goal_label) == (3, "newsletter")
    assert member.display_name == "writer01"

    shown = await fake.slash(ANA, "goal")
    assert "Your goal: 3 newsletters a week" in shown.content

    rest = await fake.slash(ANA, "goal", {"change": "rest", "weeks": 2})
    assert "Rest 2 weeks" in rest.content
    member = store.member(ANA)
    assert member is not None
    assert member.rest_until is not None

    sunday = await fake.slash(ANA, "goal", {"change": "week sunday"})
    assert "Your weeks now start on Sun" in sunday.content
    member = store.member(ANA)
    assert member is not None
    assert member.week_starts_on == tk.SUNDAY

    off = await fake.slash(ANA, "goal", {"change": "off"})
    assert "Goal tracking is off" in off.content
    member = store.member(ANA)
    assert member is not None
    assert member.goal_target is None


async def test_bad_goal_options_get_a_private_error_with_an_example_and_store_nothing(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    bad = [
        {"count": 50},  # a client that ignores max_value: the engine still refuses
        {"label": "post"},
        {"change": "off", "count": 2},
        {"weeks": 2},
        {"change": "rest", "weeks": 9},
        {"count": 1, "label": "https://example.com"},
    ]
    for options in bad:
        answer = await fake.slash(ANA, "goal", options)
        assert answer.type == 4, options
        assert answer.ephemeral, options
        assert "Example: /goal" in answer.content, (options, answer.content)
    assert store.member(ANA) is None


async def test_published_logs_once_per_interaction_and_undo_removes_it(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    payload = fake.interaction(
        2,
        {
            "id": "1",
            "name": "published",
            "type": 1,
            "options": [
                {"name": "url", "type": 3, "value": "https://Example.com/first-post/"},
                {"name": "title", "type": 3, "value": "First post"},
            ],
        },
        ANA,
    )
    interaction_id = await fake.send_interaction(payload)
    answer = await fake.answer_to(interaction_id)
    assert "Logged “First post”" in answer.content
    assert "goal met" in answer.content

    # The gateway delivers the same interaction again after a RESUME: the engine logs nothing
    # new, and the bot's second answer (refused by Discord with 40060) changes nothing.
    await fake.request_reconnect(replay=[interaction_id])
    await fake.wait_until(lambda: interaction_id in fake.refused_callbacks)
    assert [e["code"] for e in fake.refused_callbacks[interaction_id]] == [40060]
    assert len(fake.callbacks[interaction_id]) == 1
    [row] = store.publications(ANA)
    assert (row.url, row.title, row.source) == (
        "https://example.com/first-post",
        "First post",
        "command",
    )
    assert row.request_key == interaction_id

    title_only = await fake.slash(ANA, "published", {"title": "http is a fine word"})
    assert "Logged “http is a fine word”" in title_only.content
    assert len(store.publications(ANA)) == 2

    undo = await fake.slash(ANA, "published", {"undo": True})
    assert "Removed “http is a fine word”" in undo.content
    assert [r.title for r in store.publications(ANA)] == ["First post"]


async def test_bad_published_options_are_refused_privately(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    not_a_link = await fake.slash(ANA, "published", {"url": "not a link", "title": "Post"})
    assert not_a_link.ephemeral
    assert "doesn't look like a web link" in not_a_link.content
    assert "Example: /published url:https://example.com/my-post" in not_a_link.content

    undo_with_title = await fake.slash(ANA, "published", {"undo": True, "title": "x"})
    assert undo_with_title.ephemeral
    assert "Example: /published undo" in undo_with_title.content

    with_password = await fake.slash(ANA, "published", {"url": "https://me:pw@example.com/a"})
    assert "username or password" in with_password.content
    assert store.member(ANA) is None


async def test_streak_is_an_embed_card(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    await fake.slash(ANA, "published", {"title": "One"})

    answer = await fake.slash(ANA, "streak")

    assert answer.type == 4
    assert answer.ephemeral
    assert not answer.content
    [embed] = answer.data["embeds"]
    assert "Streak: 1 week" in embed["description"]
    assert "Total published: 1" in embed["description"]
    assert "Freezes: ❄️ 0 of 2 banked" in embed["description"]


async def test_nudges_schedule_pause_resume_and_off(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})

    schedule = await fake.slash(ANA, "nudges", {"days": "mon wed fri", "time": "6:30pm"})
    assert "Mon Wed Fri at 18:30 (UTC)" in schedule.content
    member = store.member(ANA)
    assert member is not None
    assert (tk.mask_days(member.nudge_days), member.nudge_minute) == ([0, 2, 4], 18 * 60 + 30)

    time_only = await fake.slash(ANA, "nudges", {"time": "9am"})
    assert "Mon Wed Fri at 09:00" in time_only.content

    paused = await fake.slash(ANA, "nudges", {"change": "pause", "pause_for": "2w"})
    assert "Nudges paused until" in paused.content
    member = store.member(ANA)
    assert member is not None
    assert member.paused_until is not None

    resumed = await fake.slash(ANA, "nudges", {"change": "resume"})
    assert "Nudges: Mon Wed Fri at 09:00" in resumed.content
    member = store.member(ANA)
    assert member is not None
    assert member.paused_until is None

    smaller = await fake.slash(ANA, "nudges", {"change": "smaller"})
    assert smaller.content.startswith(("Even smaller: ", "That's the smallest step"))

    off = await fake.slash(ANA, "nudges", {"change": "off"})
    assert "Nudges are off" in off.content
    member = store.member(ANA)
    assert member is not None
    assert not member.nudges_on

    shown = await fake.slash(ANA, "nudges")
    assert "Nudges are off" in shown.content


async def test_bad_nudges_options_change_nothing(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    before = store.member(ANA)

    for options, example in [
        ({"days": "funday", "time": "9am"}, "Example: /nudges days:mon thu time:9:00"),
        ({"days": "mon", "time": "25:00"}, "Example: /nudges days:mon thu time:9:00"),
        ({"change": "pause", "pause_for": "forever"}, "Example: /nudges change:pause pause_for:2w"),
        ({"change": "pause"}, "Example: /nudges change:pause pause_for:2w"),
        ({"pause_for": "2w"}, "Example: /nudges change:pause pause_for:2w"),
        ({"change": "off", "days": "mon"}, "Example: /nudges days:mon thu time:9:00"),
    ]:
        answer = await fake.slash(ANA, "nudges", options)
        assert answer.ephemeral, options
        assert example in answer.content, (options, answer.content)

    after = store.member(ANA)
    assert before is not None
    assert after is not None
    assert after._asdict() == before._asdict()


async def test_timezone_sets_by_name_or_city_and_refuses_unknown_zones(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    unknown = await fake.slash(ANA, "timezone", {"zone": "Mars/Olympus"})
    assert unknown.ephemeral
    assert "I don't know the time zone" in unknown.content
    assert "Example: /timezone zone:Europe/Berlin" in unknown.content
    assert store.member(ANA) is None

    by_city = await fake.slash(ANA, "timezone", {"zone": "Berlin"})
    assert "Time zone set to Europe/Berlin" in by_city.content
    by_name = await fake.slash(ANA, "timezone", {"zone": "America/New_York"})
    assert "Time zone set to America/New_York" in by_name.content
    member = store.member(ANA)
    assert member is not None
    assert member.timezone == "America/New_York"

    shown = await fake.slash(ANA, "timezone")
    assert "Your time zone is America/New_York" in shown.content


async def test_timezone_autocomplete_offers_iana_zones_for_cities_and_typed_text(
    fake: FakeDiscord, adapter: DiscordAdapter, runtime: Runtime
) -> None:
    berlin = await fake.autocomplete(ANA, "timezone", "zone", "berl")
    assert berlin[0] == {"name": "Europe/Berlin (UTC+01:00)", "value": "Europe/Berlin"}

    new_york = await fake.autocomplete(ANA, "timezone", "zone", "new york")
    assert new_york[0]["value"] == "America/New_York"

    typed_area = await fake.autocomplete(ANA, "timezone", "zone", "Australia/")
    assert typed_area
    assert all(c["value"].startswith("Australia/") for c in typed_area)

    near_miss = await fake.autocomplete(ANA, "timezone", "zone", "Europe/Berlln")
    assert "Europe/Berlin" in [c["value"] for c in near_miss]

    nothing_typed = await fake.autocomplete(ANA, "timezone", "zone", "")
    assert 0 < len(nothing_typed) <= 25
    many = await fake.autocomplete(ANA, "timezone", "zone", "a")
    assert len(many) == 25
    for choices in (berlin, new_york, typed_area, near_miss, nothing_typed, many):
        assert all(c["value"] in tk.known_zone_names() for c in choices)
        assert all(len(c["name"]) <= 100 for c in choices)


async def test_timezone_abbreviations_offer_places_and_are_not_set(
    fake: FakeDiscord, adapter: DiscordAdapter, runtime: Runtime, store: Store
) -> None:
    est = await fake.autocomplete(ANA, "timezone", "zone", "EST")
    assert [c["value"] for c in est[:2]] == ["America/New_York", "America/Toronto"]
    for typed in ("EST", "mst", "hst", "gmt", "EST5EDT", "Etc/GMT+5"):
        values = [c["value"] for c in await fake.autocomplete(ANA, "timezone", "zone", typed)]
        assert values, typed
        assert all(v == "UTC" or ("/" in v and not v.startswith("Etc/")) for v in values), values

    typed = await fake.slash(ANA, "timezone", {"zone": "EST"})  # typed, not picked from the list
    assert "did you mean America/New_York" in typed.content
    assert "Example: /timezone zone:America/New_York" in typed.content
    assert store.member(ANA) is None


async def test_habit_help_lists_every_command(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    answer = await fake.slash(ANA, "habit", subcommand="help")
    assert answer.ephemeral
    for command in ("/goal", "/published", "/streak", "/nudges", "/timezone", "/habit export"):
        assert command in answer.content
    # In Discord's option syntax, not typed text; the pause example two weeks from today.
    assert answer.content == DISCORD_HELP.format(until="2026-12-07")
    assert "/goal count:1 label:post" in answer.content


@pytest.mark.parametrize(
    ("now", "zone", "until"),
    [
        (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), None, "2026-12-07"),
        # 01:00 on Tuesday 2 March in Auckland while it is still Monday in UTC.
        (datetime(2027, 3, 1, 12, 0, tzinfo=UTC), "Pacific/Auckland", "2027-03-16"),
    ],
)
async def test_help_and_errors_date_their_examples_from_the_members_today(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    clock: ManualClock,
    now: datetime,
    zone: str | None,
    until: str,
) -> None:
    clock.set(now)
    if zone is not None:
        assert (await fake.slash(ANA, "timezone", {"zone": zone})).content.startswith("Time zone")

    help_answer = await fake.slash(ANA, "habit", subcommand="help")
    error = await fake.slash(ANA, "nudges", {"change": "pause", "pause_for": "until 2026-13-45"})

    assert f"/nudges change:pause pause_for:2w (or until {until})" in help_answer.content
    assert error.content.endswith(f"Example: /nudges change:pause pause_for:until {until}")


def written_options(form: str) -> tuple[str, list[tuple[str, str]]]:
    """("goal", [("count", "1"), ("label", "post")]) for "/goal count:1 label:post"."""
    name, _, rest = form.removeprefix("/").partition(" ")
    return name, re.findall(r"(\w+):(.*?)(?= \w+:|$)", rest)


def help_forms() -> list[str]:
    """Every "option:value" form the Discord help shows, each with its command's name."""
    forms = []
    for line in DISCORD_HELP.splitlines():
        if not line.startswith("/"):
            continue
        name = line.split(" ", 1)[0]
        for segment in re.split(r" · | — ", line):
            segment = segment.removeprefix(name).strip()
            if re.match(r"\w+:", segment):
                forms.append(f"{name} {segment}")
    return forms


async def test_every_example_and_the_help_use_options_that_are_registered(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    assert set(DISCORD_EXAMPLES) == set(EXAMPLES)  # one Discord form per grammar example
    commands = {c["name"]: c for c in fake.commands[None]}
    forms = [f for f in DISCORD_EXAMPLES.values() if not f.startswith("/habit")] + help_forms()
    assert "/goal change:rest weeks:2" in forms
    assert "/nudges days:weekdays time:18:30" in forms
    for form in forms:
        name, pairs = written_options(form)
        options = options_of(commands[name])
        assert pairs, form
        for option, value in pairs:
            assert option in options, form
            choices = [c["value"] for c in options[option].get("choices", [])]
            if choices:
                assert value.split(" (")[0] in choices, form
            if options[option]["type"] == 4:
                low, high = options[option]["min_value"], options[option]["max_value"]
                assert low <= int(value) <= high, form


async def test_an_error_shows_its_example_in_discords_option_syntax(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    answer = await fake.slash(ANA, "nudges", {"days": "funday", "time": "9am"})

    assert answer.ephemeral
    assert answer.content.endswith("Example: /nudges days:mon thu time:9:00")


async def test_export_is_a_json_file_attachment(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    nothing = await fake.slash(ANA, "habit", subcommand="export")
    assert "nothing to export" in nothing.content
    assert not nothing.files

    await fake.slash(ANA, "goal", {"count": 1, "label": "video"})
    await fake.slash(ANA, "published", {"url": "https://example.com/v1", "title": "Video one"})

    answer = await fake.slash(ANA, "habit", subcommand="export")

    assert answer.type == 4
    assert answer.ephemeral
    assert "1 publications" in answer.content
    [(filename, content)] = answer.files.values()
    assert filename == "habit-coach-export.json"
    assert answer.data["attachments"][0]["filename"] == "habit-coach-export.json"
    exported = json.loads(content)
    assert exported["member"]["user_id"] == str(ANA)
    assert exported["member"]["goal"] == {"target": 1, "label": "video"}
    assert [p["title"] for p in exported["publications"]] == ["Video one"]


async def test_forget_asks_first_then_a_click_deletes_everything(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    await fake.slash(BEN, "goal", {"count": 2})
    await fake.slash(ANA, "published", {"title": "Mine"})

    ask = await fake.slash(ANA, "habit", subcommand="forget")
    assert ask.ephemeral
    assert "Are you sure?" in ask.content
    assert ask.custom_ids == ["habit:forget_confirm", "habit:forget_cancel"]
    assert store.member(ANA) is not None  # asking deletes nothing

    message = fake.message("0", ask.data)
    done = await fake.click(ANA, message, "habit:forget_confirm")

    assert done.type == 7  # the confirmation is replaced, its button gone
    assert done.data["allowed_mentions"] == {"parse": []}
    assert "everything I stored about you is deleted" in done.content
    assert done.data["components"] == []
    assert store.member(ANA) is None
    assert store.publications(ANA) == []
    assert store.member(BEN) is not None  # nobody else's data


async def test_forget_cancel_keeps_everything_and_replaces_the_question(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    ask = await fake.slash(ANA, "habit", subcommand="forget")

    kept = await fake.click(ANA, fake.message("0", ask.data), "habit:forget_cancel")

    assert kept.type == 7
    assert kept.content == "Kept — nothing was deleted."
    assert kept.data["components"] == []
    assert store.member(ANA) is not None


async def test_slow_engine_work_is_deferred_then_followed_up(
    fake: FakeDiscord, harness: Harness, runtime: Runtime, store: Store
) -> None:
    await harness.adapter(runtime, defer_after=0)  # as if the database were slow

    answer = await fake.slash(ANA, "goal", {"count": 1})

    assert answer.type == 5  # deferred within Discord's 3 s
    assert answer.ephemeral
    followup = await fake.followup_to(answer.token)
    assert "Goal set: 1 post a week" in followup.body["content"]
    assert followup.body["flags"] & 64
    assert followup.body["allowed_mentions"] == {"parse": []}
    member = store.member(ANA)
    assert member is not None
    assert member.goal_target == 1


async def test_commands_work_in_a_server_channel_too(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    answer = await fake.slash(BEN, "goal", {"count": 2}, guild_id=600_000_000_000_000_001)
    assert "Goal set: 2 posts a week" in answer.content
    member = store.member(BEN)
    assert member is not None
    assert member.goal_target == 2


async def test_a_stale_command_gets_a_friendly_answer_not_an_error(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    answer = await fake.slash(ANA, "checkin", {"when": "now"})  # removed since the last sync

    assert answer.type == 4
    assert answer.ephemeral
    assert "That command is out of date" in answer.content
    assert "Traceback" not in answer.content


async def test_a_slow_confirmation_click_is_deferred_then_the_message_edited(
    fake: FakeDiscord, harness: Harness, runtime: Runtime, store: Store
) -> None:
    await harness.adapter(runtime, defer_after=0)
    await fake.slash(ANA, "goal", {"count": 1})
    ask = await fake.followup_to((await fake.slash(ANA, "habit", subcommand="forget")).token)

    done = await fake.click(ANA, fake.message("0", ask.body), "habit:forget_confirm")

    assert done.type == 6  # deferred update of the clicked message
    await fake.wait_until(lambda: done.token in fake.edits)
    [edit] = fake.edits[done.token]
    assert edit.path.endswith("/messages/@original")
    assert "everything I stored about you is deleted" in edit.body["content"]
    assert edit.body["components"] == []
    assert edit.body["allowed_mentions"] == {"parse": []}
    assert store.member(ANA) is None


async def test_a_title_longer_than_discord_allows_is_shortened_and_the_reply_says_so(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    # Registered with max_length 200 (MAX_TITLE); a client that ignores it gets a sane answer.
    answer = await fake.slash(ANA, "published", {"title": "Long " + "x" * 4995})

    assert answer.ephemeral
    assert "The title was long, so I kept its first 200 characters" in answer.content
    assert len(answer.content) <= 2000  # the fake refuses longer content, as Discord does
    [row] = store.publications(ANA)
    assert len(row.title) == 200
    assert row.title.endswith("…")


async def test_emoji_in_a_label_and_a_title_are_kept(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    goal = await fake.slash(ANA, "goal", {"count": 1, "label": "🎙️ episodes"})
    assert "Goal set: 1 🎙️ episode a week" in goal.content
    title = "Launch day 🚀 — 👩‍💻 notes"
    logged = await fake.slash(ANA, "published", {"title": title})
    assert f"Logged “{title}”" in logged.content

    member = store.member(ANA)
    assert member is not None
    assert member.goal_label == "🎙️ episode"
    assert [r.title for r in store.publications(ANA)] == [title]


async def test_over_long_and_bogus_options_are_refused_privately_and_store_nothing(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    long = "🦄" * 5000
    for name, options, example in [
        ("goal", {"count": 1, "label": long}, "Example: /goal count:1 label:post"),
        ("nudges", {"days": long, "time": "9am"}, "Example: /nudges days:mon thu time:9:00"),
        ("nudges", {"days": "mon", "time": long}, "Example: /nudges days:mon thu time:9:00"),
        (
            "nudges",
            {"change": "pause", "pause_for": long},
            "Example: /nudges change:pause pause_for:2w",
        ),
        ("timezone", {"zone": long}, "Example: /timezone zone:Europe/Berlin"),
        ("timezone", {"zone": "Mars/Olympus"}, "Example: /timezone zone:Europe/Berlin"),
        ("timezone", {"zone": "🪐"}, "Example: /timezone zone:Europe/Berlin"),
        ("published", {"url": long}, "Example: /published url:https://example.com/my-post"),
        ("published", {"url": "https://🦄"}, "Example: /published url:https://example.com/my-post"),
    ]:
        answer = await fake.slash(ANA, name, options)
        assert answer.type == 4, options
        assert answer.ephemeral, options
        assert example in answer.content, (options, answer.content)
        assert len(answer.content) <= 500, options  # the input is not echoed back whole
    assert store.member(ANA) is None


async def test_a_value_that_is_not_one_of_the_choices_gets_the_commands_own_example(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    nudges = await fake.slash(ANA, "nudges", {"change": "sometimes"})
    assert nudges.ephemeral
    assert "“sometimes” isn't one of the values" in nudges.content
    assert nudges.content.endswith("Example: /nudges days:mon thu time:9:00")

    goal = await fake.slash(ANA, "goal", {"change": "sideways"})
    assert goal.content.endswith("Example: /goal count:1 label:post")
    assert store.member(ANA) is None


# A command in the engine's typed grammar ("/goal 1 post"), not in Discord's options.
TYPED_FORM = re.compile(r"/(goal|published|nudges|timezone) (?![a-z_]+:)[A-Za-z0-9]")


def shown(answer: Callback) -> str:
    """What the member reads: the content, or the streak card's description."""
    embeds = answer.data.get("embeds") or []
    return answer.content + "".join(e.get("description") or "" for e in embeds)


async def test_replies_mention_commands_in_discords_option_syntax(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    answers = {
        "streak without a goal": await fake.slash(ANA, "streak"),
        "nudges without a goal": await fake.slash(ANA, "nudges"),
        "smaller without a goal": await fake.slash(ANA, "nudges", {"change": "smaller"}),
        "publish without a goal": await fake.slash(ANA, "published", {"title": "Early"}),
        "goal off without a goal": await fake.slash(BEN, "goal", {"change": "off"}),
        "first goal in UTC": await fake.slash(ANA, "goal", {"count": 1}),
        "timezone": await fake.slash(ANA, "timezone"),
        "pause": await fake.slash(ANA, "nudges", {"change": "pause", "pause_for": "2w"}),
        "nudges off": await fake.slash(ANA, "nudges", {"change": "off"}),
        "nudges while off": await fake.slash(ANA, "nudges"),
        "goal off": await fake.slash(ANA, "goal", {"change": "off"}),
        "undo with a title": await fake.slash(ANA, "published", {"undo": True, "title": "x"}),
        "forget": await fake.slash(ANA, "habit", subcommand="forget"),
        "help": await fake.slash(ANA, "habit", subcommand="help"),
    }
    for what, answer in answers.items():
        text = shown(answer)
        assert text, what
        assert not TYPED_FORM.search(text), (what, text)
        assert "/habit forget confirm" not in text, (what, text)

    assert "/goal count:1 label:post" in shown(answers["streak without a goal"])
    assert "/goal count:1 label:post" in shown(answers["publish without a goal"])
    assert "/timezone zone:Europe/Berlin" in answers["first goal in UTC"].content
    assert (
        "Change it with /timezone zone:, e.g. /timezone zone:Europe/Berlin."
        in answers["timezone"].content
    )
    assert "/nudges change:resume brings them back sooner" in answers["pause"].content
    assert "Turn them on with /nudges change:resume." in answers["nudges while off"].content
    assert "/goal count:1 label:post" in answers["goal off"].content
    assert answers["forget"].content.endswith("Are you sure?")  # the button confirms
    assert answers["forget"].custom_ids == ["habit:forget_confirm", "habit:forget_cancel"]


async def test_a_label_without_a_count_asks_for_the_count(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    answer = await fake.slash(ANA, "goal", {"label": "newsletter"})

    assert answer.ephemeral
    assert "A label goes with a count" in answer.content
    assert "not “newsletter”" not in answer.content
    assert answer.content.endswith("Example: /goal count:1 label:newsletter")
    assert store.member(ANA) is None


async def test_a_title_shows_as_typed_and_pings_nobody(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    title = f"**Big** news _today_ <@123> <@{BEN}> @everyone @here"
    answer = await fake.slash(ANA, "published", {"title": title})

    assert answer.data["allowed_mentions"] == {"parse": []}
    zwsp = "\u200b"
    assert (
        rf"Logged “\*\*Big\*\* news \_today\_ \<@123\> \<@{zwsp}{BEN}\> "
        rf"@{zwsp}everyone @{zwsp}here”" in answer.content
    )
    assert [r.title for r in store.publications(ANA)] == [title]  # stored as typed

    undone = await fake.slash(ANA, "published", {"undo": True})
    assert r"Removed “\*\*Big\*\*" in undone.content
    assert undone.data["allowed_mentions"] == {"parse": []}

    refused = await fake.slash(ANA, "nudges", {"days": "**mon**", "time": "9am"})
    assert refused.data["allowed_mentions"] == {"parse": []}
    assert "**mon**" not in refused.content


async def test_published_when_autocompletes_today_yesterday_and_the_last_days_by_name(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    # The fake's clock: Monday 23 Nov 2026.
    everything = await fake.autocomplete(ANA, "published", "when", "")
    assert [c["value"] for c in everything[:6]] == [
        "today",
        "yesterday",
        "saturday",
        "friday",
        "thursday",
        "wednesday",
    ]
    assert everything[2]["name"] == "Saturday (21 Nov)"
    assert everything[-1] == {"name": "Tue 10 Nov (2026-11-10)", "value": "2026-11-10"}
    assert len(everything) <= 25

    typed = await fake.autocomplete(ANA, "published", "when", "fr")
    assert [c["value"] for c in typed] == ["friday", "2026-11-13"]  # both Fridays
    by_date = await fake.autocomplete(ANA, "published", "when", "2026-11-1")
    assert "2026-11-16" in [c["value"] for c in by_date]


async def test_published_with_when_logs_a_past_day_and_list_shows_it_privately(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})

    logged = await fake.slash(
        ANA, "published", {"when": "saturday", "url": "example.com/weekend", "title": "Weekend"}
    )
    listed = await fake.slash(ANA, "published", {"list": True})

    assert "Logged “Weekend” for Sat 21 Nov." in logged.content
    [row] = store.publications(ANA)
    assert (row.local_day.isoformat(), row.url) == ("2026-11-21", "https://example.com/weekend")
    assert listed.ephemeral
    assert "1. Sat 21 Nov — “Weekend” — https://example.com/weekend" in listed.content
    assert "/published remove:N" in listed.content

    removed = await fake.slash(ANA, "published", {"remove": 1})
    assert "Removed “Weekend”" in removed.content
    assert store.publications(ANA) == []


async def test_bad_when_and_mixed_published_options_are_refused_privately(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    not_a_day = await fake.slash(ANA, "published", {"when": "someday", "title": "Post"})
    future = await fake.slash(ANA, "published", {"when": "2026-12-01", "title": "Post"})
    mixed = await fake.slash(ANA, "published", {"list": True, "title": "Post"})
    two = await fake.slash(ANA, "published", {"list": True, "undo": True})

    assert not_a_day.ephemeral
    assert "isn't a day I can read" in not_a_day.content
    assert "Example: /published when:yesterday url:" in not_a_day.content
    assert "hasn't happened yet" in future.content
    assert "Example: /published when:2026-11-21 url:" in future.content
    assert "take no link, title or day" in mixed.content
    assert "Pick one of undo, list and remove" in two.content
    assert store.publications(ANA) == []


async def test_the_same_title_twice_asks_and_the_button_logs_it_again_in_place(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 2})
    await fake.slash(ANA, "published", {"title": "Morning pages"})

    ask = await fake.slash(ANA, "published", {"title": "Morning pages"})

    assert ask.ephemeral
    assert "log it again?" in ask.content
    [first] = store.publications(ANA)
    assert ask.custom_ids == [f"habit:publish_again:/published again {first.id}"]
    done = await fake.click(ANA, fake.message("0", ask.data), ask.custom_ids[0])
    assert done.type == 7  # the question is replaced, its button gone
    assert "Logged “Morning pages”. 2 of 2 this week" in done.content
    assert done.data["components"] == []
    assert [r.title for r in store.publications(ANA)] == ["Morning pages", "Morning pages"]


async def test_goal_rest_off_is_a_change_choice(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    await fake.slash(ANA, "goal", {"change": "rest", "weeks": 2})

    ended = await fake.slash(ANA, "goal", {"change": "rest off"})

    assert "Rest ended" in ended.content
    member = store.member(ANA)
    assert member is not None
    assert member.rest_until is None


async def test_streak_freezes_turn_off_and_on_as_change_choices(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})

    off = await fake.slash(ANA, "goal", {"change": "freezes off"})

    assert "Streak freezes are off" in off.content
    assert "/goal change:freezes on" in off.content
    member = store.member(ANA)
    assert member is not None
    assert member.freezes_enabled is False
    on = await fake.slash(ANA, "goal", {"change": "freezes on"})
    assert "Streak freezes are on" in on.content
    again = store.member(ANA)
    assert again is not None
    assert again.freezes_enabled is True
