"""The engine's replies and notices as Discord messages: content, streak embed, buttons, files.

Buttons carry everything a click needs in their custom_id (``habit:<action>[:<command>]``), so a
click is served by the adapter's router from the id alone, before or after a restart. The views
here only render components: they are stopped before sending, so discord.py's view store keeps
nothing per message.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import discord

from bot import picture
from habits.catalogue import Form, M
from habits.grammar import EXAMPLE_COMMANDS
from habits.messages import (
    NUDGE_ACTIONS,
    PLAIN,
    Action,
    ActionId,
    CommandRef,
    HelpCard,
    Notice,
    Part,
    Reply,
    fill,
    render,
    render_lines,
    say,
)
from habits.model import MAX_TITLE, MAX_URL

CUSTOM_ID_PREFIX = "habit:"
PUBLISH_FORM_ID = "habit:form:published"
URL_FIELD, TITLE_FIELD = "url", "title"
MAX_CONTENT = 2000  # Discord's limit for a message's content
MAX_EMBED_DESCRIPTION = 4096
MAX_CUSTOM_ID = 100
MAX_ALT_TEXT = 1024  # Discord's limit for an attachment's description
MAX_TEXT_INPUT = 4000  # Discord's limit for a modal text input
NO_MENTIONS = discord.AllowedMentions.none()  # nothing the coach sends ever pings anyone
STREAK_COLOUR = discord.Colour.orange()

# Actions whose command never varies; any other action carries its command in the custom_id.
FIXED_COMMANDS: dict[str, str] = {
    **{action.id.value: action.command.typed for action in NUDGE_ACTIONS},
    ActionId.FORGET_CONFIRM.value: CommandRef.to(Form.HABIT_FORGET_CONFIRM).typed,
    ActionId.FORGET_CANCEL.value: CommandRef.to(Form.HABIT_FORGET_CANCEL).typed,
}

BUTTON_STYLES = {
    ActionId.PUBLISHED: discord.ButtonStyle.success,
    ActionId.SMALLER_STEP: discord.ButtonStyle.primary,
    ActionId.SMALLER_GOAL: discord.ButtonStyle.primary,
    ActionId.FORGET_CONFIRM: discord.ButtonStyle.danger,
    ActionId.PUBLISH_AGAIN: discord.ButtonStyle.primary,
}

# Each command a message refers to as a member fills in Discord's options.
OPTION_FORMS: dict[Form, str] = {
    Form.GOAL_SHOW: "/goal",
    Form.GOAL: "/goal count:{count} label:{label}",
    Form.GOAL_COUNT: "/goal count:{count}",
    Form.GOAL_OFF: "/goal change:off",
    Form.GOAL_REST: "/goal change:rest",
    Form.GOAL_REST_WEEKS: "/goal change:rest weeks:{weeks}",
    Form.GOAL_REST_OFF: "/goal change:rest off",
    Form.GOAL_FREEZES: "/goal change:freezes {state}",
    Form.GOAL_WEEK: "/goal change:week {day}",
    Form.PUBLISHED: "/published",
    Form.PUBLISHED_LINK: "/published url:{url} title:{title}",
    Form.PUBLISHED_ON: "/published when:{day} url:{url} title:{title}",
    Form.PUBLISHED_DAY: "/published when:{day}",
    Form.PUBLISHED_UNDO: "/published undo:True",
    Form.PUBLISHED_LIST: "/published list:True",
    Form.PUBLISHED_REMOVE: "/published remove:{number}",
    Form.PUBLISHED_AGAIN: "/published again {number}",  # a button only: never shown
    Form.LINK: "{url}",
    Form.STREAK: "/streak",
    Form.NUDGES_SHOW: "/nudges",
    Form.NUDGES_SCHEDULE: "/nudges days:{days} time:{time}",
    Form.NUDGES_PAUSE: "/nudges change:pause pause_for:{span}",
    Form.NUDGES_PAUSE_UNTIL: "/nudges change:pause pause_for:until {until}",
    Form.NUDGES_RESUME: "/nudges change:resume",
    Form.NUDGES_OFF: "/nudges change:off",
    Form.NUDGES_SNOOZE: "/nudges change:snooze {until}",
    Form.NUDGES_SMALLER: "/nudges change:smaller",
    Form.NUDGES_HEADS_UP: "/nudges change:heads-up {state}",
    Form.TIMEZONE_SHOW: "/timezone",
    Form.TIMEZONE: "/timezone zone:{zone}",
    Form.TIMEZONE_ANY: "/timezone zone:",  # the member picks a zone from the list as they type
    Form.HABIT_HELP: "/habit help",
    Form.HABIT_EXPORT: "/habit export",
    Form.HABIT_FORGET: "/habit forget",
    Form.HABIT_FORGET_CONFIRM: "/habit forget confirm",
    Form.HABIT_FORGET_CANCEL: "/habit forget cancel",
}


# Every character Discord's markdown gives a meaning to somewhere: emphasis, code, spoilers,
# quotes, headings and lists at a line's start, masked links, and <@…>/<#…>/<t:…> tags.
_MARKDOWN_ESCAPES = str.maketrans({ch: "\\" + ch for ch in "\\*_~`|>#-[]()<"})
_NOT_IN_A_BARE_LINK = frozenset("*~`|[]()<>")


def escape_member_markdown(text: str) -> str:
    """The member's words as Discord shows them literally: every markdown character escaped,
    except inside a bare link (Discord links it as a whole, and a backslash would break it).

    discord.utils.escape_markdown is not enough: it skips whatever its masked-link pattern
    matches, so "[a](https://x) **bold** [b](https://y)" kept its bold.
    """
    return " ".join(
        word
        if word.startswith(("http://", "https://")) and _NOT_IN_A_BARE_LINK.isdisjoint(word)
        else word.translate(_MARKDOWN_ESCAPES)
        for word in text.split(" ")
    )


class DiscordSpelling:
    """Discord's markdown: the member's words escaped (no formatting, no mentions), commands
    in option syntax, and no typed confirmations where a button does it."""

    typed_hints = False

    def words(self, text: str) -> str:
        return text

    def member(self, text: str) -> str:
        return discord.utils.escape_mentions(escape_member_markdown(text))

    def command(self, ref: CommandRef) -> str:
        return fill(OPTION_FORMS[ref.form], ref, self)


DISCORD = DiscordSpelling()

# The engine's examples (one per grammar form) as a member fills in Discord's options.
DISCORD_EXAMPLES = {key: DISCORD.command(ref) for key, ref in EXAMPLE_COMMANDS.items()}


@dataclass(frozen=True)
class Click:
    """What a button asks for: its action and the command text it stands for."""

    action: str
    command: str | None


def custom_id_for(action: Action) -> str:
    base = f"{CUSTOM_ID_PREFIX}{action.id.value}"
    if action.id.value in FIXED_COMMANDS:
        return base
    return f"{base}:{action.command.typed}"[:MAX_CUSTOM_ID]


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


# The help as a template, filled from the engine's help card like the engine's own.
DISCORD_HELP = """\
Habit Coach — start small, start now. Set a modest weekly goal, log what you publish, and I'll
nudge you with one tiny next step at your own local time. Fill in a command's options as you type.

/goal — show your goal · /goal count:1 label:post — N a week (1–21)
/goal change:off · change:rest weeks:2 · change:rest off · change:week sunday (or week monday)
/goal change:freezes off (or on) — earned streak freezes: one per 4 met weeks in a row, up to 2
/published url:… title:… — log a publication now (both optional) · /published undo:True
/published when:yesterday url:… title:… — or a weekday, or YYYY-MM-DD: up to 14 days back
/published list:True — your recent publications, numbered · /published remove:2 — remove one
/streak — your streak card and a picture of your year
/nudges — show the schedule · /nudges days:mon thu time:9:00 · days:weekdays time:18:30
/nudges change:pause pause_for:2w (or until {until}) · change:resume · change:off
/nudges change:snooze later (or tomorrow) · change:smaller — an even smaller next step
/nudges change:heads-up off (or on) — the last day's heads-up while your goal is open
/timezone — show · /timezone zone:Europe/Berlin — pick from the list as you type a city
/habit help · /habit export — all your data as a JSON file · /habit forget — delete it all"""


def discord_help(card: HelpCard) -> str:
    return DISCORD_HELP.format(until=card.pause_until.isoformat())


def body_text(body: tuple[Part, ...]) -> str:
    """A message's parts as Discord shows them, a line each; the help is Discord's own."""
    lines: list[str] = []
    for part in body:
        if isinstance(part, HelpCard):
            lines.append(discord_help(part))
        else:
            lines.extend(render_lines(part, DISCORD))
    return "\n".join(lines)


def reply_text(reply: Reply) -> str:
    return body_text(reply.body)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
                label=render(action.label, PLAIN)[:80],  # a label shows no markdown
                custom_id=custom_id_for(action),
                style=BUTTON_STYLES.get(action.id, discord.ButtonStyle.secondary),
            )
        )
    view.stop()
    return view


def streak_embed(reply: Reply) -> discord.Embed:
    assert reply.streak is not None
    embed = discord.Embed(
        title=render(say(M.STREAK_TITLE), DISCORD),
        description=clip_reply(reply, MAX_EMBED_DESCRIPTION),
        colour=STREAK_COLOUR,
    )
    embed.set_footer(text=render(say(M.STREAK_FOOTER), DISCORD))
    return embed


def reply_message(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for ``send_message``/``followup.send`` that show ``reply``."""
    kwargs: dict[str, Any] = {"ephemeral": True, "allowed_mentions": NO_MENTIONS}
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
        year = reply.year
        if year is not None and reply.attachment.filename == picture.FILENAME:
            # The picture of the year inside the card; its alt text says it in words.
            kwargs["file"].description = render(year.alt, PLAIN)[:MAX_ALT_TEXT]
            if "embed" in kwargs:
                kwargs["embed"].set_image(url=f"attachment://{picture.FILENAME}")
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
    """Keyword arguments for ``Messageable.send`` that show a nudge or check-in as a DM."""
    heading = render(notice.title, DISCORD)
    kwargs: dict[str, Any] = {
        "content": _cut(f"**{heading}**\n{body_text(notice.body)}", MAX_CONTENT),
        "allowed_mentions": NO_MENTIONS,
    }
    if notice.key:
        # Discord shows a retried send with the same nonce once (discord.py enforces nonces).
        kwargs["nonce"] = notice.key[:MAX_NONCE]
    if notice.actions:
        kwargs["view"] = action_view(notice.actions)
    return kwargs


def _words(message: M) -> str:
    """A catalogue text with no values, as plain text (the form's title, labels, placeholders)."""
    return render(say(message), PLAIN)


class PublishedForm(discord.ui.Modal):
    """The *I published* form. Submits are handled by the adapter's router, not by this object,
    so a form opened before a restart still logs after it."""

    def __init__(self) -> None:
        super().__init__(title=_words(M.FORM_TITLE), custom_id=PUBLISH_FORM_ID, timeout=None)
        link_limit = min(MAX_URL, MAX_TEXT_INPUT)
        link_example = _words(M.FORM_LINK_PLACEHOLDER)
        self.add_item(
            _optional_field(_words(M.FORM_LINK_OPTIONAL), URL_FIELD, link_example, link_limit)
        )
        title_example = _words(M.FORM_TITLE_PLACEHOLDER)
        self.add_item(
            _optional_field(_words(M.FORM_TITLE_OPTIONAL), TITLE_FIELD, title_example, MAX_TITLE)
        )
        self.stop()  # render only: nothing kept in discord.py's modal store


def _optional_field(
    label: str, custom_id: str, placeholder: str, limit: int
) -> discord.ui.Label[Any]:
    """A labelled one-line text field the member may leave empty."""
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=custom_id, placeholder=placeholder, required=False, max_length=limit
    )
    return discord.ui.Label(text=label, component=field)


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
