"""The engine's replies and notices as Discord messages: content, streak embed, buttons, files.

Buttons carry everything a click needs in their custom_id (``habit:<action>[:<command>]``), so a
click is served by the adapter's router from the id alone, before or after a restart. The views
here only render components: they are stopped before sending, so discord.py's view store keeps
nothing per message.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import discord

from habits.grammar import EXAMPLES
from habits.messages import NUDGE_ACTIONS, Action, ActionId, HelpCard, Notice, Reply
from habits.model import MAX_TITLE, MAX_URL, DeliveryKind
from habits.service import help_text

CUSTOM_ID_PREFIX = "habit:"
PUBLISH_FORM_ID = "habit:form:published"
URL_FIELD, TITLE_FIELD = "url", "title"
MAX_CONTENT = 2000  # Discord's limit for a message's content
MAX_EMBED_DESCRIPTION = 4096
MAX_CUSTOM_ID = 100
MAX_TEXT_INPUT = 4000  # Discord's limit for a modal text input
NO_MENTIONS = discord.AllowedMentions.none()  # nothing the coach sends ever pings anyone
STREAK_COLOUR = discord.Colour.orange()

# Actions whose command never varies; any other action carries its command in the custom_id.
FIXED_COMMANDS: dict[str, str] = {
    **{action.id.value: action.command for action in NUDGE_ACTIONS},
    ActionId.FORGET_CONFIRM.value: "/habit forget confirm",
    ActionId.FORGET_CANCEL.value: "/habit forget cancel",
}

BUTTON_STYLES = {
    ActionId.PUBLISHED: discord.ButtonStyle.success,
    ActionId.SMALLER_STEP: discord.ButtonStyle.primary,
    ActionId.SMALLER_GOAL: discord.ButtonStyle.primary,
    ActionId.FORGET_CONFIRM: discord.ButtonStyle.danger,
    ActionId.PUBLISH_AGAIN: discord.ButtonStyle.primary,
}


@dataclass(frozen=True)
class Click:
    """What a button asks for: its action and the command text it stands for."""

    action: str
    command: str | None


def custom_id_for(action: Action) -> str:
    base = f"{CUSTOM_ID_PREFIX}{action.id.value}"
    if action.id.value in FIXED_COMMANDS:
        return base
    return f"{base}:{action.command}"[:MAX_CUSTOM_ID]


def parse_custom_id(custom_id: str) -> Click | None:
    """The click a ``habit:`` custom_id stands for; None for ids that are not ours."""
    if not custom_id.startswith(CUSTOM_ID_PREFIX) or custom_id == PUBLISH_FORM_ID:
        return None
    action, _, command = custom_id.removeprefix(CUSTOM_ID_PREFIX).partition(":")
    if action in {a.value for a in ActionId} and ActionId(action).opens_form:
        return Click(action, None)
    fixed = FIXED_COMMANDS.get(action)
    if fixed is not None:
        return Click(action, fixed)
    if action in {a.value for a in ActionId} and command.startswith("/"):
        return Click(action, command)
    return None


# The engine's examples (one per grammar form) as a member fills in Discord's options.
DISCORD_EXAMPLES = {
    "goal": "/goal count:1 label:post",
    "rest": "/goal change:rest weeks:2",
    "week": "/goal change:week sunday",
    "published": "/published url:https://example.com/my-post title:My first post",
    "backdate": "/published when:yesterday url:https://example.com/my-post title:My first post",
    "list": "/published list:True",
    "remove": "/published remove:2",
    "nudges": "/nudges days:mon thu time:9:00",
    "pause": "/nudges change:pause pause_for:2w",
    "snooze": "/nudges change:snooze tomorrow",
    "timezone": "/timezone zone:Europe/Berlin",
    "habit": "/habit help",
}
_EXAMPLE_LINES = {
    f"Example: {EXAMPLES[key]}": f"Example: {form}" for key, form in DISCORD_EXAMPLES.items()
}

# The help as a template, filled from the engine's help card like the engine's own.
DISCORD_HELP = """\
Habit Coach — start small, start now. Set a modest weekly goal, log what you publish, and I'll
nudge you with one tiny next step at your own local time. Fill in a command's options as you type.

/goal — show your goal · /goal count:1 label:post — N a week (1–21)
/goal change:off · change:rest weeks:2 · change:rest off · change:week sunday (or week monday)
/published url:… title:… — log a publication now (both optional) · /published undo:True
/published when:yesterday url:… title:… — or a weekday, or YYYY-MM-DD: up to 14 days back
/published list:True — your recent publications, numbered · /published remove:2 — remove one
/streak — your streak card
/nudges — show the schedule · /nudges days:mon thu time:9:00 · days:weekdays time:18:30
/nudges change:pause pause_for:2w (or until {until}) · change:resume · change:off
/nudges change:snooze later (or tomorrow) · change:smaller — an even smaller next step
/timezone — show · /timezone zone:Europe/Berlin — pick from the list as you type a city
/habit help · /habit export — all your data as a JSON file · /habit forget — delete it all"""


# The engine's inline mentions of typed commands ("try /goal 1 post") as Discord options, most
# specific first: at each position the first rule that matches wins, so "/goal 1 post" is never
# half-rewritten as "/goal count:1 post". A rule never matches text already in option syntax.
_END = r"(?![\w:-])"
_TYPED_COMMANDS: tuple[tuple[str, str], ...] = (
    # The button is the way to confirm; the typed confirmation only makes sense when typing.
    (r" ?\(/habit forget confirm\)", ""),
    (
        r"/published (?P<url>https://example\.com/my-post) (?P<title>My first post)",
        r"/published url:\g<url> title:\g<title>",
    ),
    (
        r"/published (?P<day>yesterday|today|\d{4}-\d{2}-\d{2}) "
        r"(?P<url>https://example\.com/my-post) "
        r"(?P<title>My first post)",
        r"/published when:\g<day> url:\g<url> title:\g<title>",
    ),
    (r"/published undo", "/published undo:True"),
    (r"/published list", "/published list:True"),
    (r"/published remove (?P<n>\d{1,3}|N)", r"/published remove:\g<n>"),
    (r"/published (?P<day>yesterday|today)", r"/published when:\g<day>"),
    (r"/goal (?P<n>\d{1,2}) (?P<label>[^\W\d_][\w-]*)", r"/goal count:\g<n> label:\g<label>"),
    (r"/goal (?P<n>\d{1,2})", r"/goal count:\g<n>"),
    (r"/goal rest (?P<n>\d{1,2})(?: weeks?)?", r"/goal change:rest weeks:\g<n>"),
    (r"/goal rest off", "/goal change:rest off"),
    (r"/goal (?P<change>rest|off)", r"/goal change:\g<change>"),
    (r"/goal week (?P<day>sunday|monday)", r"/goal change:week \g<day>"),
    (
        r"/nudges pause (?P<span>until \d{4}-\d{2}-\d{2}|\d{1,3} ?(?:w|wks?|weeks?|d|days?))",
        r"/nudges change:pause pause_for:\g<span>",
    ),
    (r"/nudges snooze later\|tomorrow", "/nudges change:snooze later (or snooze tomorrow)"),
    (r"/nudges snooze (?P<when>later|tomorrow)", r"/nudges change:snooze \g<when>"),
    (r"/nudges (?P<change>pause|resume|off|smaller)", r"/nudges change:\g<change>"),
    (
        r"/nudges (?P<days>[a-z]+(?: [a-z]+)*?) at (?P<time>\d{1,2}(?:[:.]\d{2})?(?: ?[ap]m)?)",
        r"/nudges days:\g<days> time:\g<time>",
    ),
    # The placeholder: the member picks a zone from the list as they type.
    (r"/timezone Area/City", "/timezone zone:"),
    (r"/timezone (?P<zone>UTC|[A-Z][\w+-]*(?:/[\w+-]+)+)", r"/timezone zone:\g<zone>"),
)
_TYPED_RULES = tuple(
    (re.compile(pattern + _END), template) for pattern, template in _TYPED_COMMANDS
)
# One scan for all rules (their group names made anonymous, as they repeat), in their order.
_TYPED = re.compile(
    "|".join(re.sub(r"\(\?P<\w+>", "(?:", pattern) + _END for pattern, _ in _TYPED_COMMANDS)
)
# Text the engine quotes back (titles, labels, what the member typed) sits between “ and ”.
_QUOTED = re.compile(r"“([^”\n]*)”")


def _as_options(match: re.Match[str]) -> str:
    typed = match.group(0)
    for rule, template in _TYPED_RULES:
        found = rule.fullmatch(typed)
        if found is not None:
            return found.expand(template)
    return typed  # pragma: no cover - the combined pattern only matches what a rule matches


def _escaped(match: re.Match[str]) -> str:
    """Quoted member text shown as typed: no markdown, and mentions that cannot ping."""
    quoted = discord.utils.escape_mentions(discord.utils.escape_markdown(match.group(1)))
    return f"“{quoted}”"


def discord_text(text: str) -> str:
    """The engine's words as Discord shows them: its examples and inline command mentions in
    Discord's option syntax, and the member's own text it quotes escaped so it shows as typed.
    """
    if "Example: " in text:
        lines = text.split("\n")
        text = "\n".join(_EXAMPLE_LINES.get(line, line) for line in lines)
    text = _TYPED.sub(_as_options, text)
    return _QUOTED.sub(_escaped, text)


def discord_help(card: HelpCard) -> str:
    return DISCORD_HELP.format(until=card.pause_until.isoformat())


def reply_text(reply: Reply) -> str:
    """A reply's text as Discord shows it; the help (the reply says it is one) is Discord's own,
    followed by whatever the engine added after it."""
    if reply.help is None:
        return discord_text(reply.text)
    after = reply.text.removeprefix(help_text(reply.help))
    return discord_help(reply.help) + discord_text(after)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(text: str, limit: int = MAX_CONTENT) -> str:
    return _cut(discord_text(text), limit)


def clip_reply(reply: Reply, limit: int = MAX_CONTENT) -> str:
    return _cut(reply_text(reply), limit)


def action_view(actions: tuple[Action, ...]) -> discord.ui.View:
    """A view that only renders ``actions`` as buttons (see the module docstring).

    Must be built inside the running event loop, as every discord.py view is.
    """
    view = discord.ui.View(timeout=None)
    for action in actions[:25]:  # five rows of five buttons at most
        view.add_item(
            discord.ui.Button(
                label=action.label[:80],
                custom_id=custom_id_for(action),
                style=BUTTON_STYLES.get(action.id, discord.ButtonStyle.secondary),
            )
        )
    view.stop()
    return view


def streak_embed(reply: Reply) -> discord.Embed:
    assert reply.streak is not None
    embed = discord.Embed(
        title="Your writing streak",
        description=clip_reply(reply, MAX_EMBED_DESCRIPTION),
        colour=STREAK_COLOUR,
    )
    embed.set_footer(text="Start small, start now.")
    return embed


def reply_message(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for ``send_message``/``followup.send`` that show ``reply``."""
    kwargs: dict[str, Any] = {"ephemeral": reply.private, "allowed_mentions": NO_MENTIONS}
    if reply.streak is not None:
        kwargs["embed"] = streak_embed(reply)
    else:
        kwargs["content"] = clip_reply(reply)
    if reply.actions:
        kwargs["view"] = action_view(reply.actions)
    if reply.attachment is not None:
        kwargs["file"] = discord.File(
            io.BytesIO(reply.attachment.content), filename=reply.attachment.filename
        )
    return kwargs


def reply_edit(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for ``edit_message``: the reply replaces the message clicked."""
    kwargs: dict[str, Any] = {
        "view": action_view(reply.actions) if reply.actions else None,
        "allowed_mentions": NO_MENTIONS,
    }
    if reply.streak is not None:
        kwargs.update(content=None, embed=streak_embed(reply))
    else:
        kwargs.update(content=clip_reply(reply), embed=None)
    return kwargs


MAX_NONCE = 25


def notice_message(notice: Notice) -> dict[str, Any]:
    """Keyword arguments for ``Messageable.send`` that show a nudge or recap as a DM."""
    heading = "**Weekly check-in**" if notice.kind == DeliveryKind.RECAP else "**Nudge**"
    kwargs: dict[str, Any] = {
        "content": clip(f"{heading}\n{notice.text}"),
        "allowed_mentions": NO_MENTIONS,
    }
    if notice.key:
        # Discord shows a retried send with the same nonce once (discord.py enforces nonces).
        kwargs["nonce"] = notice.key[:MAX_NONCE]
    if notice.actions:
        kwargs["view"] = action_view(notice.actions)
    return kwargs


class PublishedForm(discord.ui.Modal):
    """The *I published* form. Submits are handled by the adapter's router, not by this object,
    so a form opened before a restart still logs after it."""

    def __init__(self) -> None:
        super().__init__(title="I published!", custom_id=PUBLISH_FORM_ID, timeout=None)
        self.add_item(
            discord.ui.Label(
                text="Link (optional)",
                component=discord.ui.TextInput(
                    custom_id=URL_FIELD,
                    placeholder="https://example.com/my-post",
                    required=False,
                    max_length=min(MAX_URL, MAX_TEXT_INPUT),
                ),
            )
        )
        self.add_item(
            discord.ui.Label(
                text="Title (optional)",
                component=discord.ui.TextInput(
                    custom_id=TITLE_FIELD,
                    placeholder="My first post",
                    required=False,
                    max_length=MAX_TITLE,
                ),
            )
        )
        self.stop()  # render only: nothing kept in discord.py's modal store


def submitted_fields(data: object) -> dict[str, str]:
    """custom_id → value for every text field of a modal submit's raw ``data``."""
    found: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            if isinstance(node.get("custom_id"), str) and isinstance(node.get("value"), str):
                found[node["custom_id"]] = node["value"]
            walk(node.get("components"))
            walk(node.get("component"))

    if isinstance(data, dict):
        walk(data.get("components"))
    return found
