"""Block Kit for the coach's replies, nudges, the *I published* modal and the App Home tab.

Pure functions from the engine's platform-neutral messages to Slack JSON; no I/O here.
"""

from __future__ import annotations

from typing import Any

from bot.slack.text import escape_mrkdwn
from habits.messages import Action, ActionId, Notice, Reply
from habits.model import MAX_TITLE, MAX_URL

Block = dict[str, Any]

# Stable ids: buttons in messages sent before a restart (or by another replica) still work.
ACTION_PREFIX = "habit_"
PUBLISH_CALLBACK = "habit_publish"
LINK_BLOCK = "link"
TITLE_BLOCK = "title"
MAX_SECTION = 3000  # Slack refuses a section text longer than this
MAX_INPUT = 3000  # Slack's limit for a plain_text_input's max_length
MAX_FALLBACK = 3900  # chat.postMessage's `text` is cut by Slack past 4,000 characters

TITLES = {"nudge": ":seedling: *A tiny nudge*", "recap": ":sunrise: *Your weekly check-in*"}


escape = escape_mrkdwn


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
        "text": _plain(action.label[:75]),
        "value": action.command,
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


def _labelled(line: str) -> tuple[str, str] | None:
    label, sep, value = line.partition(": ")
    return (label, value) if sep and label and len(label) <= 20 else None


def streak_blocks(card: str) -> list[Block]:
    """The engine's streak card (``habits.service.render_streak``) laid out as Block Kit.

    The words are the engine's, so Slack says what every other platform says: the first line
    is the heading, "Label: value" lines become fields, and the recent weeks a context line.
    """
    lines = [line for line in card.splitlines() if line.strip()]
    if not lines:
        return []
    heading, rest = lines[0], lines[1:]
    fields: list[Block] = []
    notes: list[str] = []
    recent: list[str] = []
    for line in rest:
        labelled = _labelled(line)
        if line.startswith("Recent weeks"):
            recent.append(escape(line))
        elif labelled is not None and len(fields) < 10:  # Slack allows 10 fields
            label, value = labelled
            fields.append({"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"})
        else:
            notes.append(escape(line))
    section = _section("\n".join([f"*{escape(heading)}*", *notes]))
    if fields:
        section["fields"] = fields
    blocks: list[Block] = [section]
    if recent:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": recent[0]}]})
    return blocks


def reply_blocks(reply: Reply) -> list[Block]:
    body = streak_blocks(reply.text) if reply.streak is not None else [_section(escape(reply.text))]
    return body + actions_block(reply.actions)


def fallback_text(text: str) -> str:
    """The notification and screen-reader text that goes with blocks (mrkdwn: escaped once)."""
    return clip(escape(text), MAX_FALLBACK)


def notice_blocks(notice: Notice) -> list[Block]:
    title = TITLES.get(notice.kind, "*Habit Coach*")
    return [_section(f"{title}\n{escape(notice.text)}"), *actions_block(notice.actions)]


def publish_modal(private_metadata: str = "") -> Block:
    """The *I published* form: an optional link and an optional title."""
    return {
        "type": "modal",
        "callback_id": PUBLISH_CALLBACK,
        "private_metadata": private_metadata,
        "title": _plain("I published!"),
        "submit": _plain("Log it"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": LINK_BLOCK,
                "optional": True,
                "label": _plain("Link"),
                "hint": _plain("Where people can read it. Leave empty if it isn't online."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": LINK_BLOCK,
                    "placeholder": _plain("https://example.com/my-post"),
                    "max_length": min(MAX_URL, MAX_INPUT),
                },
            },
            {
                "type": "input",
                "block_id": TITLE_BLOCK,
                "optional": True,
                "label": _plain("Title"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": TITLE_BLOCK,
                    "placeholder": _plain("What did you publish?"),
                    "max_length": min(MAX_TITLE, MAX_INPUT),
                },
            },
        ],
    }


def home_view(streak: str | None, goal: str, nudges: str, zone: str) -> Block:
    """The App Home tab: the streak card (the engine's text, None when it could not be read),
    then the member's goal, nudges and time zone."""
    blocks: list[Block] = [
        {"type": "header", "text": _plain("Habit Coach")},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Start small, start now."}],
        },
    ]
    if streak is not None:
        blocks += streak_blocks(streak)
    blocks += [
        {
            "type": "actions",
            "block_id": "habit_home_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": action_id(ActionId.PUBLISHED),
                    "text": _plain("I published"),
                    "value": "/published",
                    "style": "primary",
                }
            ],
        },
        {"type": "divider"},
        _section(f"*Goal*\n{escape(goal)}"),
        _section(f"*Nudges*\n{escape(nudges)}"),
        _section(f"*Time zone*\n{escape(zone)}"),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Change anything with a command: `/goal 2 posts`, "
                    "`/nudges mon thu at 9:00`, `/timezone Europe/Berlin`. "
                    "Every command: `/habit help`.",
                }
            ],
        },
    ]
    return {"type": "home", "blocks": blocks}
