"""The member's own words (titles, labels, display names) are shown as typed on every surface:
never read as markdown, mrkdwn, a mention or a command, whatever they contain."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord import render as discord_render
from bot.slack import blocks as slack_blocks
from bot.slack.text import escape_mrkdwn
from habits.catalogue import DateStyle, Form, M
from habits.coach import Coach
from habits.messages import (
    PLAIN,
    Action,
    ActionId,
    CommandRef,
    MemberText,
    Notice,
    Reply,
    StreakCard,
    When,
    counted,
    render,
    render_body,
    say,
)
from habits.model import DeliveryKind, MemberRef, Streak, WeekState, WeekSummary
from tests.fakes.slack_server import rendered

ZWSP = "\u200b"
# What members type that a surface could read as something else.
HOSTILE = [
    "/goal 1 post", "/goal 2 **bold**", "/nudges off", "/published list", "/timezone Area/City",
    "/habit forget confirm", "**bold**", "*bold*", "_x_", "~x~", "~~x~~", "`code`", "```block```",
    "||spoiler||", "> quote", "<!channel>", "<!here>", "<@U123>", "<#C1|general>",
    "@everyone", "@here", "<@400000000000000001>", "&amp;", "Q&A <live>", "[link](https://x.y)",
    "“quoted”", "\\*", ":tada:", "[a](https://x.y) **b** [c](https://x.y)", "- list", "# head",
    "<t:1700000000>", "https://example.com/a_b*c*",
]  # fmt: skip
member_words = (
    st.lists(
        st.one_of(st.sampled_from(HOSTILE), st.text(alphabet="ab *_~`|<>@!&#:/", max_size=12)),
        min_size=1,
        max_size=4,
    )
    .map(" ".join)
    .map(lambda s: " ".join(s.split()))
    # Words with a letter or digit: a lone ":" cannot be told apart from the engine's own text.
    .filter(lambda s: any(ch.isalnum() for ch in s))
)

DISCORD_MARKDOWN = "*_~`|>"


def messages_with(words: str) -> list[Reply]:
    """Replies and notices the engine builds around a title, a label and what was typed."""
    title = MemberText(words)
    week = WeekSummary(date(2026, 11, 23), 1, None, WeekState.OFF)
    streak = Streak(0, 0, 1, week, (week, week), "3 days left")
    return [
        Reply.of(say(M.LOGGED, what=say(M.QUOTED, text=title), progress="")),
        Reply.of(say(M.GOAL_SET, goal=counted(1, words), progress="")),
        Reply.of(say(M.UNKNOWN_COMMAND, typed=title, known="/goal")),
        Reply.of(
            say(
                M.LIST_ITEM,
                number=1,
                day=When(date(2026, 11, 23), DateStyle.DAY, 2026),
                first=say(M.QUOTED, text=title),
            )
        ),
        Reply.of(StreakCard(streak, words)),
        Reply.of(
            say(M.LOG_AGAIN_QUESTION, title=title, on=say(M.TODAY)),
            actions=(
                Action(
                    ActionId.PUBLISH_AGAIN,
                    say(M.LOG_AGAIN_BUTTON),
                    CommandRef.to(Form.PUBLISHED_AGAIN, number=1),
                ),
            ),
        ),
    ]


def discord_shows(content: str) -> str:
    """What Discord displays for escaped text: each backslash escape as its character."""
    return re.sub(r"\\(.)", r"\1", content).replace(ZWSP, "")


def assert_discord_verbatim(words: str, kwargs: dict[str, Any]) -> None:
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}  # never pings anyone
    content = kwargs.get("content") or kwargs["embed"].description
    escaped = discord_render.DISCORD.member(words)
    assert escaped in content
    assert words in discord_shows(content)
    for word in re.sub(r"\\.", "", escaped).split(" "):  # what is left unescaped
        if not word.startswith(("http://", "https://")):  # a bare link is linked as a whole
            assert not any(ch in word for ch in DISCORD_MARKDOWN + "[]()<")
    assert "@everyone" not in content
    assert "@here" not in content


def slack_objects(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"])
        found += block.get("fields", [])
        found += [e for e in block.get("elements", []) if "type" in e and "text" in e]
    return [o for o in found if isinstance(o.get("text"), str)]


def assert_slack_verbatim(words: str, blocks: list[dict[str, Any]], fallback: str) -> None:
    objects = slack_objects(blocks)
    holding = [o for o in objects if words in rendered(o["text"])]
    assert holding, "the member's words are shown"
    for shown in holding:
        assert shown["type"] == "plain_text"  # mrkdwn would read *bold* and _x_
        assert shown.get("emoji") is False
    for obj in objects:
        if obj["type"] == "mrkdwn":
            assert escape_mrkdwn(words) not in obj["text"] or words.isalnum()
    assert escape_mrkdwn(words) in fallback  # the notification: escaped once, never a ping
    assert "<!" not in fallback.replace(escape_mrkdwn(words), "")


@settings(max_examples=150, deadline=None)
@given(words=member_words)
def test_member_words_are_shown_as_typed_on_every_surface(words: str) -> None:
    for reply in messages_with(words):
        plain = render_body(reply.body, PLAIN)
        assert words in plain or reply.streak is not None  # the card shows the label inflected

        if reply.streak is None:
            assert_discord_verbatim(words, discord_render.reply_message(reply))
            assert_slack_verbatim(
                words, slack_blocks.reply_blocks(reply), slack_blocks.fallback_text(reply.body)
            )
        for action in reply.actions:
            assert render(action.label, PLAIN)  # labels are plain text on every surface

    notice = Notice(
        MemberRef.console("ana"),
        DeliveryKind.NUDGE,
        (say(M.TINY_NEXT_STEP, step=say(M.STEP_BULLETS, label=MemberText(words))),),
    )
    assert words in render_body(notice.body, PLAIN)
    assert_discord_verbatim(words, discord_render.notice_message(notice))
    assert_slack_verbatim(
        words, slack_blocks.notice_blocks(notice), slack_blocks.fallback_text(notice.body)
    )


def test_a_title_that_spells_commands_is_echoed_as_typed_not_as_options(coach: Coach) -> None:
    title = "Why /goal 1 post beats /nudges off, **bold** and @everyone"
    member = MemberRef.console("ana")
    reply = coach.handle(member, f"/published {title}")

    assert reply.ok
    assert f"“{title}”" in reply.text
    content = discord_render.reply_message(reply)["content"]
    assert "Why /goal 1 post beats /nudges off" in content  # never "/goal count:1 label:post"
    # The engine's own mention of the command, by contrast, is in Discord's options.
    assert "streak: /goal count:1 label:post" in content
    assert_discord_verbatim(title, discord_render.reply_message(reply))
    assert_slack_verbatim(
        title, slack_blocks.reply_blocks(reply), slack_blocks.fallback_text(reply.body)
    )


def test_a_goal_label_with_markdown_replies_without_formatting(coach: Coach) -> None:
    reply = coach.handle(MemberRef.console("ana"), "/goal 2 **bold**")

    assert reply.ok
    content = discord_render.reply_message(reply)["content"]
    assert "2 \\*\\*bold\\*\\*" in content
    [goal_line] = [
        o for o in slack_objects(slack_blocks.reply_blocks(reply)) if "bold" in o["text"]
    ]
    assert goal_line["type"] == "plain_text"
