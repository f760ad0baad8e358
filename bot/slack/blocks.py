"""Block Kit for the coach's replies, nudges, the *I published* modal and the App Home tab.

Pure functions from the engine's platform-neutral messages to Slack JSON; no I/O here.
"""

from __future__ import annotations

from typing import Any

from bot.picture import heatmap
from bot.slack.text import escape_mrkdwn
from habits.catalogue import TYPED, Form, M
from habits.messages import (
    PLAIN,
    Action,
    ActionId,
    CommandRef,
    MemberText,
    Notice,
    Overview,
    Part,
    Reply,
    Say,
    StreakCard,
    Value,
    YearCard,
    fill,
    render,
    render_body,
    say,
    streak_lines,
)
from habits.model import MAX_TITLE, MAX_URL, DeliveryKind

Block = dict[str, Any]

# Stable ids: buttons in messages sent before a restart (or by another replica) still work.
ACTION_PREFIX = "habit_"
PUBLISH_CALLBACK = "habit_publish"
LINK_BLOCK = "link"
TITLE_BLOCK = "title"
MAX_SECTION = 3000  # Slack refuses a section text longer than this
MAX_INPUT = 3000  # Slack's limit for a plain_text_input's max_length
MAX_FALLBACK = 3900  # chat.postMessage's `text` is cut by Slack past 4,000 characters

escape = escape_mrkdwn


class SlackSpelling:
    """Slack's text: ``&``, ``<`` and ``>`` escaped once in everything the coach writes, the
    member's words included; commands as typed."""

    typed_hints = True

    def words(self, text: str) -> str:
        return escape(text)

    def member(self, text: str) -> str:
        return escape(text)

    def command(self, ref: CommandRef) -> str:
        return fill(TYPED[ref.form], ref, self)


SLACK = SlackSpelling()


def has_member_text(item: Part | Value) -> bool:
    """Whether the member's own words are anywhere in ``item``: mrkdwn would read ``*bold*``
    in them as formatting, so such text goes in a plain_text object, which Slack shows as is."""
    if isinstance(item, MemberText | StreakCard):
        return True
    if isinstance(item, Say):
        return any(has_member_text(v) for _, v in item.values)
    if isinstance(item, CommandRef):
        return any(has_member_text(v) for _, v in item.args)
    return False


def text_object(body: tuple[Part, ...]) -> dict[str, Any]:
    """``body`` as mrkdwn, or as plain_text when it holds the member's words; escaped exactly
    once either way."""
    text = clip(render_body(body, SLACK), MAX_SECTION)
    if any(has_member_text(part) for part in body):
        return {"type": "plain_text", "text": text, "emoji": False}
    return {"type": "mrkdwn", "text": text}


def body_blocks(body: tuple[Part, ...], heading: str | None = None) -> list[Block]:
    """``body`` under a mrkdwn ``heading``: one section, or the heading's own section above
    a plain_text one when the body holds the member's words."""
    shown = text_object(body)
    if heading is None:
        return [{"type": "section", "text": shown}]
    if shown["type"] == "plain_text":
        return [_section(heading), {"type": "section", "text": shown}]
    return [_section(f"{heading}\n{shown['text']}")]


def action_id(action: ActionId) -> str:
    return f"{ACTION_PREFIX}{action.value}"


def action_of(slack_action_id: str) -> ActionId | None:
    """The engine's action for one of our buttons; None for anything else."""
    if not slack_action_id.startswith(ACTION_PREFIX):
        return None
    try:
        return ActionId(slack_action_id.removeprefix(ACTION_PREFIX))
    except ValueError:
        return None


def clip(mrkdwn: str, limit: int) -> str:
    """At most ``limit`` characters of escaped mrkdwn, never ending inside an ``&amp;``."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    cut = mrkdwn[: limit - 1]
    entity = cut.rfind("&")
    if entity != -1 and ";" not in cut[entity:]:
        cut = cut[:entity]
    return cut + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def button(action: Action) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id(action.id),
        "text": _plain(render(action.label, PLAIN)[:75]),
        "value": action.command.typed,
    }
    if action.id is ActionId.PUBLISHED:
        element["style"] = "primary"
    elif action.id is ActionId.FORGET_CONFIRM:
        element["style"] = "danger"
    return element


def actions_block(actions: tuple[Action, ...]) -> list[Block]:
    if not actions:
        return []
    return [
        {"type": "actions", "block_id": "habit_actions", "elements": [button(a) for a in actions]}
    ]


def _field(name: Say, shown: Value) -> Block:
    body = (say(M.STREAK_FIELD_VALUE, value=shown),)
    if has_member_text(shown):
        text = f"{render(name, SLACK)}\n{render_body(body, SLACK)}"
        return {"type": "plain_text", "text": text, "emoji": False}
    return {"type": "mrkdwn", "text": f"*{render(name, SLACK)}*\n{render_body(body, SLACK)}"}


def streak_blocks(card: StreakCard) -> list[Block]:
    """The streak card laid out as Block Kit from the :class:`Streak` itself: a heading, a
    field per figure, and the recent weeks as a context line."""
    heading, fields, recent = streak_lines(card)
    section = _section(f"*{render(heading, SLACK)}*")
    section["fields"] = [_field(name, shown) for name, shown in fields[:10]]  # Slack allows 10
    blocks: list[Block] = [section]
    if recent is not None:
        line = render(say(M.STREAK_FIELD, label=say(M.RECENT_WEEKS), value=recent), SLACK)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    return blocks


# An ephemeral reply cannot carry a file: the picture of the year goes to the member's DM.
SHOW_YEAR = Action(ActionId.SHOW_YEAR, say(M.BUTTON_SHOW_YEAR), CommandRef.to(Form.STREAK))


def year_blocks(card: YearCard) -> list[Block]:
    """The year as a line of blocks, and a button that sends its picture to the member's DM."""
    return [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(heatmap(card))}]},
        {"type": "actions", "block_id": "habit_year", "elements": [button(SHOW_YEAR)]},
    ]


def reply_blocks(reply: Reply) -> list[Block]:
    blocks: list[Block] = []
    rest: list[Part] = []
    for part in reply.body:
        if isinstance(part, StreakCard | YearCard):
            if rest:
                blocks += body_blocks(tuple(rest))
                rest = []
            blocks += streak_blocks(part) if isinstance(part, StreakCard) else year_blocks(part)
        else:
            rest.append(part)
    if rest:
        blocks += body_blocks(tuple(rest))
    return blocks + actions_block(reply.actions)


def fallback_text(body: tuple[Part, ...]) -> str:
    """The notification and screen-reader text that goes with blocks (mrkdwn: escaped once)."""
    return clip(render_body(body, SLACK), MAX_FALLBACK)


def dm_message(user_id: str, body: tuple[Part, ...], blocks: list[Block]) -> dict[str, Any]:
    """chat.postMessage's arguments for a message in a member's DM: the blocks, the text that
    notifies (and that screen readers read) and no link previews."""
    return {
        "channel": user_id,
        "text": fallback_text(body),
        "blocks": blocks,
        "unfurl_links": False,
    }


# Slack's own headings for a notice, after the notice's kind.
TITLES = {
    DeliveryKind.NUDGE: (":seedling:", M.SLACK_NUDGE_TITLE),
    DeliveryKind.CHECKIN: (":sunrise:", M.SLACK_CHECKIN_TITLE),
    DeliveryKind.HEADSUP: (":hourglass_flowing_sand:", M.SLACK_HEADS_UP_TITLE),
}


def notice_blocks(notice: Notice) -> list[Block]:
    emoji, title = TITLES[notice.kind]
    heading = f"{emoji} *{render(say(title), SLACK)}*"
    return [*body_blocks(notice.body, heading), *actions_block(notice.actions)]


def _words(message: M) -> str:
    """A catalogue text with no values, as plain text (modal titles, labels, placeholders)."""
    return render(say(message), PLAIN)


def publish_modal(private_metadata: str = "") -> Block:
    """The *I published* form: an optional link and an optional title."""
    return {
        "type": "modal",
        "callback_id": PUBLISH_CALLBACK,
        "private_metadata": private_metadata,
        "title": _plain(_words(M.FORM_TITLE)),
        "submit": _plain(_words(M.FORM_SUBMIT)),
        "close": _plain(_words(M.FORM_CANCEL)),
        "blocks": [
            {
                "type": "input",
                "block_id": LINK_BLOCK,
                "optional": True,
                "label": _plain(_words(M.FORM_LINK)),
                "hint": _plain(_words(M.FORM_LINK_HINT)),
                "element": {
                    "type": "plain_text_input",
                    "action_id": LINK_BLOCK,
                    "placeholder": _plain(_words(M.FORM_LINK_PLACEHOLDER)),
                    "max_length": min(MAX_URL, MAX_INPUT),
                },
            },
            {
                "type": "input",
                "block_id": TITLE_BLOCK,
                "optional": True,
                "label": _plain(_words(M.FORM_TITLE_FIELD)),
                "element": {
                    "type": "plain_text_input",
                    "action_id": TITLE_BLOCK,
                    "placeholder": _plain(_words(M.FORM_TITLE_PLACEHOLDER)),
                    "max_length": min(MAX_TITLE, MAX_INPUT),
                },
            },
        ],
    }


def home_view(overview: Overview) -> Block:
    """The App Home tab: the streak card (when it could be read), then the member's goal,
    nudges and time zone."""
    blocks: list[Block] = [
        {"type": "header", "text": _plain(render(say(M.APP_NAME), PLAIN))},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": render(say(M.STREAK_FOOTER), SLACK)}],
        },
    ]
    if overview.streak.streak is not None:
        blocks += reply_blocks(overview.streak)
    blocks += [
        {
            "type": "actions",
            "block_id": "habit_home_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": action_id(ActionId.PUBLISHED),
                    "text": _plain(render(say(M.BUTTON_PUBLISHED), PLAIN)),
                    "value": CommandRef.to(Form.PUBLISHED).typed,
                    "style": "primary",
                }
            ],
        },
        {"type": "divider"},
        *body_blocks(overview.goal.body, f"*{render(say(M.HOME_GOAL), SLACK)}*"),
        *body_blocks(overview.nudges.body, f"*{render(say(M.HOME_NUDGES), SLACK)}*"),
        *body_blocks(overview.timezone.body, f"*{render(say(M.HOME_ZONE), SLACK)}*"),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": render(HOME_HINT, SLACK_CODE)}],
        },
    ]
    return {"type": "home", "blocks": blocks}


class SlackCodeSpelling(SlackSpelling):
    """Commands as inline code, for the App Home's hint."""

    def command(self, ref: CommandRef) -> str:
        return f"`{super().command(ref)}`"


SLACK_CODE = SlackCodeSpelling()
HOME_HINT = say(
    M.HOME_HINT,
    goal=CommandRef.to(Form.GOAL, count=2, label="posts"),
    nudges=CommandRef.to(Form.NUDGES_SCHEDULE, days="mon thu", time="9:00"),
    timezone=CommandRef.to(Form.TIMEZONE, zone="Europe/Berlin"),
    help=CommandRef.to(Form.HABIT_HELP),
)
