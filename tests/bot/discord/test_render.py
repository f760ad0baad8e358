"""The engine's words as Discord shows them (pure functions, no fake needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot.discord.render import DISCORD_EXAMPLES, DISCORD_HELP, discord_text, reply_text
from habits.grammar import EXAMPLES
from habits.messages import HelpCard, Reply
from habits.service import help_text

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("engine", "discord"),
    [
        (
            "Start small: /goal 1 post — one post a week.",
            "Start small: /goal count:1 label:post — one post a week.",
        ),
        ("(no goal set — /goal 1 post)", "(no goal set — /goal count:1 label:post)"),
        ("Try /goal 3 newsletters.", "Try /goal count:3 label:newsletters."),
        ("Try /goal 2.", "Try /goal count:2."),
        ("Or take a breather with /goal rest.", "Or take a breather with /goal change:rest."),
        ("/goal rest 2", "/goal change:rest weeks:2"),
        ("/goal rest 3 weeks", "/goal change:rest weeks:3"),
        ("“/goal off” takes nothing after it.", "“/goal change:off” takes nothing after it."),
        ("/goal week sunday", "/goal change:week sunday"),
        ("/goal week monday", "/goal change:week monday"),
        ("“/published undo” takes nothing", "“/published undo:True” takes nothing"),
        ("Turn them on with /nudges resume.", "Turn them on with /nudges change:resume."),
        ("/nudges off", "/nudges change:off"),
        ("/nudges smaller", "/nudges change:smaller"),
        ("/nudges snooze later", "/nudges change:snooze later"),
        ("/nudges snooze tomorrow", "/nudges change:snooze tomorrow"),
        (
            "/nudges snooze later|tomorrow",
            "/nudges change:snooze later (or snooze tomorrow)",
        ),
        ("/nudges pause 2w", "/nudges change:pause pause_for:2w"),
        ("/nudges pause 10 days", "/nudges change:pause pause_for:10 days"),
        (
            "Example: /nudges pause until 2026-12-07",
            "Example: /nudges change:pause pause_for:until 2026-12-07",
        ),
        ("/nudges weekdays at 18:30", "/nudges days:weekdays time:18:30"),
        ("/nudges mon thu at 9:00", "/nudges days:mon thu time:9:00"),
        (
            "Change it with /timezone Area/City, e.g. /timezone Europe/Berlin.",
            "Change it with /timezone zone:, e.g. /timezone zone:Europe/Berlin.",
        ),
        (
            "/timezone America/Argentina/Buenos_Aires",
            "/timezone zone:America/Argentina/Buenos_Aires",
        ),
        ("/timezone UTC", "/timezone zone:UTC"),
        ("Are you sure? (/habit forget confirm)", "Are you sure?"),
        # Already Discord's syntax, or nothing to rewrite: left alone.
        ("/goal count:1 label:post", "/goal count:1 label:post"),
        ("/nudges change:pause pause_for:2w", "/nudges change:pause pause_for:2w"),
        ("/published undo:True", "/published undo:True"),
        ("/timezone zone:Europe/Berlin", "/timezone zone:Europe/Berlin"),
        ("/goal, /nudges, /streak and /timezone", "/goal, /nudges, /streak and /timezone"),
        ("/goal offset", "/goal offset"),
        ("/habit help", "/habit help"),
        # What the member typed, quoted back: markdown and mentions shown as typed.
        (
            "Logged “**Big** news _today_ <@123> @everyone”.",
            rf"Logged “\*\*Big\*\* news \_today\_ <@123> @{ZWSP}everyone”.",
        ),
        (
            "“<@400000000000000001>” and “@here”",
            f"“<@{ZWSP}400000000000000001>” and “@{ZWSP}here”",
        ),
        ("Logged “https://example.com/a_b”", "Logged “https://example.com/a_b”"),
        ("**Nudge** outside quotes stays bold", "**Nudge** outside quotes stays bold"),
    ],
)
def test_discord_text(engine: str, discord: str) -> None:
    assert discord_text(engine) == discord


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_every_example_line_becomes_its_discord_form(key: str) -> None:
    assert (
        discord_text(f"Bad.\nExample: {EXAMPLES[key]}") == f"Bad.\nExample: {DISCORD_EXAMPLES[key]}"
    )
    assert discord_text(EXAMPLES[key]) == DISCORD_EXAMPLES[key]  # inline, the same form


def test_the_help_is_discords_own_with_the_cards_date() -> None:
    card = HelpCard(pause_until=date(2027, 1, 4))
    reply = Reply(help_text(card), help=card)

    assert reply_text(reply) == DISCORD_HELP.format(until="2027-01-04")
    assert "pause_for:2w (or until 2027-01-04)" in reply_text(reply)
    noted = replace(reply, text=help_text(card) + "\n\nYour goal: /goal 1 post")
    assert reply_text(noted) == reply_text(reply) + "\n\nYour goal: /goal count:1 label:post"


def test_the_help_is_known_by_the_reply_not_by_its_words() -> None:
    card = HelpCard(pause_until=date(2027, 1, 4))
    words_only = Reply(help_text(card))  # the same text, not marked as the help

    assert reply_text(words_only) == discord_text(help_text(card))
    assert "Fill in a command's options as you type" not in reply_text(words_only)
