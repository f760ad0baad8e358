"""Block Kit for the coach's replies, nudges, the *I published* modal and the App Home tab.

Pure functions from the engine's platform-neutral messages to Slack JSON; no I/O here.
"""

from __future__ import annotations

from typing import Any

from habits.messages import Action, ActionId, Notice, Reply
from habits.model import Streak, WeekState
from habits.service import STATE_MARKS

Block = dict[str, Any]

# Stable ids: buttons in messages sent before a restart (or by another replica) still work.
ACTION_PREFIX = "habit_"
PUBLISH_CALLBACK = "habit_publish"
LINK_BLOCK = "link"
TITLE_BLOCK = "title"
MAX_SECTION = 3000  # Slack refuses a section text longer than this
MAX_FALLBACK = 3900  # chat.postMessage's `text` is cut by Slack past 4,000 characters

TITLES = {"nudge": ":seedling: *A tiny nudge*", "recap": ":sunrise: *Your weekly check-in*"}


def escape(text: str) -> str:
    """Slack mrkdwn's three control characters, so a title like "A<B" shows as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


def _section(text: str) -> Block:
    shown = text if len(text) <= MAX_SECTION else text[: MAX_SECTION - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": shown}}


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


def _this_week(streak: Streak) -> str:
    week = streak.this_week
    if week.state is WeekState.REST:
        return f"rest :zzz: ({week.count} logged)"
    if week.target is None:
        return f"{week.count} logged (no goal yet — `/goal 1 post`)"
    if week.state is WeekState.MET:
        return f"{week.count} of {week.target} — goal met! :tada:"
    return f"{week.count} of {week.target}, {streak.time_left}"


def streak_blocks(streak: Streak) -> list[Block]:
    """The streak card: current and longest streak, this week, the total and recent weeks."""
    weeks = "week" if streak.current == 1 else "weeks"
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f":fire: *Streak: {streak.current} {weeks}*"},
            "fields": [
                {"type": "mrkdwn", "text": f"*This week*\n{_this_week(streak)}"},
                {"type": "mrkdwn", "text": f"*Longest streak*\n{streak.longest}"},
                {"type": "mrkdwn", "text": f"*Total published*\n{streak.total_publications}"},
            ],
        }
    ]
    if len(streak.recent) > 1:
        marks = " ".join(STATE_MARKS[w.state] for w in streak.recent)
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Recent weeks: {marks}   (✅ met ▫️ missed 💤 rest ⏳ now)",
                    }
                ],
            }
        )
    return blocks


def reply_blocks(reply: Reply) -> list[Block]:
    body = (
        streak_blocks(reply.streak) if reply.streak is not None else [_section(escape(reply.text))]
    )
    return body + actions_block(reply.actions)


def fallback_text(text: str) -> str:
    """The notification and screen-reader text that goes with blocks."""
    return text if len(text) <= MAX_FALLBACK else text[: MAX_FALLBACK - 1] + "…"


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
                },
            },
        ],
    }


def home_view(streak: Streak | None, goal: str, nudges: str, zone: str) -> Block:
    """The App Home tab: the streak card, then the member's goal, nudges and time zone."""
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
