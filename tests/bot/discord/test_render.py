"""The engine's messages as Discord shows them (pure functions, no fake needed)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.discord.render import DISCORD, DISCORD_EXAMPLES, DISCORD_HELP, reply_text
from habits.catalogue import Form, M
from habits.grammar import EXAMPLE_COMMANDS
from habits.messages import CommandRef, HelpCard, MemberText, Reply, render, say

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("ref", "discord"),
    [
        (CommandRef.to(Form.GOAL, count=1, label="post"), "/goal count:1 label:post"),
        (CommandRef.to(Form.GOAL, count=3, label="newsletters"), "/goal count:3 label:newsletters"),
        (CommandRef.to(Form.GOAL_COUNT, count=2), "/goal count:2"),
        (CommandRef.to(Form.GOAL_REST), "/goal change:rest"),
        (CommandRef.to(Form.GOAL_REST_WEEKS, weeks=2), "/goal change:rest weeks:2"),
        (CommandRef.to(Form.GOAL_OFF), "/goal change:off"),
        (CommandRef.to(Form.GOAL_WEEK, day="sunday"), "/goal change:week sunday"),
        (CommandRef.to(Form.PUBLISHED_UNDO), "/published undo:True"),
        (CommandRef.to(Form.PUBLISHED_REMOVE, number="N"), "/published remove:N"),
        (CommandRef.to(Form.PUBLISHED_DAY, day="yesterday"), "/published when:yesterday"),
        (CommandRef.to(Form.NUDGES_RESUME), "/nudges change:resume"),
        (CommandRef.to(Form.NUDGES_SMALLER), "/nudges change:smaller"),
        (CommandRef.to(Form.NUDGES_SNOOZE, until="later"), "/nudges change:snooze later"),
        (
            CommandRef.to(Form.NUDGES_PAUSE, span="10 days"),
            "/nudges change:pause pause_for:10 days",
        ),
        (
            CommandRef.to(Form.NUDGES_SCHEDULE, days="weekdays", time="18:30"),
            "/nudges days:weekdays time:18:30",
        ),
        (CommandRef.to(Form.TIMEZONE_ANY), "/timezone zone:"),
        (
            CommandRef.to(Form.TIMEZONE, zone="America/Argentina/Buenos_Aires"),
            "/timezone zone:America/Argentina/Buenos_Aires",
        ),
        (CommandRef.to(Form.HABIT_HELP), "/habit help"),
    ],
)
def test_a_command_is_spelt_as_discords_options(ref: CommandRef, discord: str) -> None:
    assert DISCORD.command(ref) == discord


@pytest.mark.parametrize("key", sorted(EXAMPLE_COMMANDS))
def test_every_example_is_spelt_in_options_from_the_same_reference(key: str) -> None:
    refusal = Reply.of(say(M.TYPE_A_COMMAND), say(M.EXAMPLE, example=EXAMPLE_COMMANDS[key]))
    assert reply_text(refusal).endswith(f"\nExample: {DISCORD_EXAMPLES[key]}")
    assert DISCORD_EXAMPLES[key] != EXAMPLE_COMMANDS[key].typed or key == "habit"


def test_a_sentence_names_a_command_in_options() -> None:
    said = say(M.NO_GOAL_YET, goal=CommandRef.to(Form.GOAL, count=1, label="post"))
    assert render(said, DISCORD) == (
        "You have no weekly goal yet. Start small: /goal count:1 label:post — one post a week."
    )


def test_the_typed_confirmation_is_left_to_the_button() -> None:
    confirm = CommandRef.to(Form.HABIT_FORGET_CONFIRM)
    typed = say(M.CONFIRM_BY_TYPING, command=confirm)
    asked = say(M.FORGET_ASK, typed=type(typed)(typed.id, typed.values, typed_only=True))
    assert render(asked, DISCORD).endswith("Are you sure?")


def test_the_members_words_are_shown_as_typed_and_never_ping() -> None:
    title = "**Big** news _today_ <@123> @everyone /goal 1 post"
    logged = say(M.QUOTED, text=MemberText(title))
    assert render(logged, DISCORD) == (
        rf"“\*\*Big\*\* news \_today\_ \<@123\> @{ZWSP}everyone /goal 1 post”"
    )


def test_a_link_the_member_gave_is_left_a_link() -> None:
    assert DISCORD.member("https://example.com/a_b") == "https://example.com/a_b"


def test_the_help_is_discords_own_with_the_cards_date() -> None:
    card = HelpCard(pause_until=date(2027, 1, 4))
    reply = Reply.of(card)

    assert reply_text(reply) == DISCORD_HELP.format(until="2027-01-04")
    assert "pause_for:2w (or until 2027-01-04)" in reply_text(reply)
    noted = reply.then(say(M.NO_GOAL_TO_TURN_OFF, goal=EXAMPLE_COMMANDS["goal"]))
    assert reply_text(noted) == (
        reply_text(reply) + "\nYou have no goal to turn off. Set one with /goal count:1 label:post."
    )
