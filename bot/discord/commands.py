"""The slash commands: the coach's grammar as typed options, each turned back into command text.

Handlers stay thin: the options become the text a writer would type (``/goal 3 newsletter``)
and the engine parses, validates and runs it. Only combinations that Discord's form cannot rule
out (``off`` together with a count) are refused here, in the engine's own style.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import discord
from discord import app_commands

from habits import grammar, zones
from habits import timekeeping as tk
from habits.catalogue import Form, M
from habits.commands import MAX_DAYS_BACK, ParseError
from habits.messages import CommandRef, Reply, Say, say
from habits.model import MAX_LABEL, MAX_REST_WEEKS, MAX_TARGET, MAX_TITLE, MAX_URL, MIN_TARGET

MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
MAX_OPTION_LENGTH = 6000  # Discord's limit for a string option
REST_EXAMPLE = CommandRef.to(Form.GOAL_REST_WEEKS, weeks=2)
PAUSE_EXAMPLE = CommandRef.to(Form.NUDGES_PAUSE, span="2w")


class OptionError(ValueError):
    """Options that cannot go together; the text says why and shows an example, in the
    engine's own format (:class:`habits.commands.ParseError`)."""

    def __init__(self, message: Say, example: CommandRef):
        self.error = ParseError(message, example)
        super().__init__(str(self.error))


@dataclass(frozen=True)
class PublicationOptions:
    """The /published options that log one, as typed; any of them may be left out."""

    url: str | None
    title: str | None
    when: str | None = None


class CommandHandler(Protocol):
    """What the commands need from the adapter."""

    async def run_text(self, interaction: discord.Interaction, text: str) -> None:
        """Run ``text`` through the engine for the interaction's member and answer."""

    async def run_publication(
        self, interaction: discord.Interaction, options: PublicationOptions
    ) -> None:
        """Log a publication from separate link, title and day options and answer."""

    async def refuse(self, interaction: discord.Interaction, message: Reply) -> None:
        """Answer privately that the options were wrong; nothing is stored."""

    def now(self) -> datetime: ...


# --- options → command text -------------------------------------------------------------------


def _words(*parts: object) -> str:
    return " ".join(str(p).strip() for p in parts if p is not None and str(p).strip())


def goal_text(count: int | None, label: str | None, change: str | None, weeks: int | None) -> str:
    if change is None:
        if weeks is not None:
            raise OptionError(say(M.OPTION_WEEKS_WITH_REST), REST_EXAMPLE)
        if label is not None and count is None:
            # The engine would read the label as the count ("not “newsletter”").
            raise OptionError(
                say(M.OPTION_LABEL_NEEDS_COUNT),
                CommandRef.to(Form.GOAL, count=1, label="newsletter"),
            )
        return _words("/goal", count, label)
    if count is not None or label is not None:
        raise OptionError(
            say(M.OPTION_COUNT_OR_CHANGE, change=change), CommandRef.to(Form.GOAL_COUNT, count=1)
        )
    if change == "rest":
        return _words("/goal rest", weeks)
    if weeks is not None:
        raise OptionError(say(M.OPTION_WEEKS_WITH_REST), REST_EXAMPLE)
    return _words("/goal", change)


def published_text(undo: bool | None, list_: bool | None = None, remove: int | None = None) -> str:
    """The text of /published's undo, list or remove option (at most one of them)."""
    chosen = [
        text
        for text, given in (
            ("/published undo", undo),
            ("/published list", list_),
            (f"/published remove {remove}", remove is not None),
        )
        if given
    ]
    if len(chosen) > 1:
        raise OptionError(say(M.OPTION_ONE_OF_UNDO_LIST_REMOVE), CommandRef.to(Form.PUBLISHED_LIST))
    return chosen[0] if chosen else "/published"


def nudges_text(
    days: str | None, time: str | None, change: str | None, pause_for: str | None
) -> str:
    if change is None:
        if pause_for is not None:
            raise OptionError(say(M.OPTION_PAUSE_FOR_WITH_PAUSE), PAUSE_EXAMPLE)
        if days is None and time is None:
            return "/nudges"
        return _words("/nudges", days, "at" if time else None, time)
    if days is not None or time is not None:
        raise OptionError(
            say(M.OPTION_DAYS_OR_CHANGE, change=change), grammar.EXAMPLE_COMMANDS["nudges"]
        )
    if change == "pause":
        return _words("/nudges pause", pause_for)
    if pause_for is not None:
        raise OptionError(say(M.OPTION_PAUSE_FOR_WITH_PAUSE), PAUSE_EXAMPLE)
    return _words("/nudges", change)


def timezone_text(zone: str | None) -> str:
    return _words("/timezone", zone)


# --- time zone autocomplete -------------------------------------------------------------------


def zone_choice(name: str, now: datetime) -> app_commands.Choice[str]:
    offset = now.astimezone(tk.zone(name)).strftime("%z")
    shown = f"{name.replace('_', ' ')} (UTC{offset[:3]}:{offset[3:]})"
    return app_commands.Choice(name=shown[:100], value=name)


def zone_choices(typed: str, now: datetime) -> list[app_commands.Choice[str]]:
    return [zone_choice(name, now) for name in zones.search_zones(typed, MAX_CHOICES)]


# --- day autocomplete -------------------------------------------------------------------------


def day_choices(typed: str, now: datetime) -> list[app_commands.Choice[str]]:
    """Days a publication can be logged for: today, yesterday, then the days of the past week
    by name, then older dates; those whose value starts with what was typed, or whose label
    contains it.

    The values are words the engine resolves in the member's own zone (today, yesterday, a
    weekday name); only days further back are dates. Which day is which is read on the UTC
    calendar, the member's within a day, so names stop short of a week back and dates short
    of MAX_DAYS_BACK: every value offered is a day the engine accepts.
    """
    today = now.date()
    choices = [("today", "today"), ("yesterday", "yesterday")]
    for back in range(2, MAX_DAYS_BACK):
        day = today - timedelta(days=back)
        if back < 6:
            choices.append((f"{day:%A} ({day:%d %b})", f"{day:%A}".lower()))
        else:
            choices.append((f"{day:%a %d %b} ({day.isoformat()})", day.isoformat()))
    query = typed.strip().lower()
    found = [
        app_commands.Choice(name=name, value=value)
        for name, value in choices
        if not query or value.startswith(query) or query in name.lower()
    ]
    if not found and query:
        # Something else typed (a date, say): offered as it is, for the engine to check.
        found = [app_commands.Choice(name=typed.strip()[:100], value=typed.strip()[:100])]
    return found[:MAX_CHOICES]


# --- the tree ---------------------------------------------------------------------------------

GOAL_CHANGES = [
    app_commands.Choice(name="off — stop tracking (history kept)", value="off"),
    app_commands.Choice(name="rest — a rest week (or weeks)", value="rest"),
    app_commands.Choice(name="rest off — end a rest early", value="rest off"),
    app_commands.Choice(name="weeks start on Sunday", value="week sunday"),
    app_commands.Choice(name="weeks start on Monday", value="week monday"),
    app_commands.Choice(name="freezes off — no streak freezes", value="freezes off"),
    app_commands.Choice(name="freezes on — earn streak freezes", value="freezes on"),
]
NUDGE_CHANGES = [
    app_commands.Choice(name="pause — for a while (pause_for)", value="pause"),
    app_commands.Choice(name="resume", value="resume"),
    app_commands.Choice(name="off", value="off"),
    app_commands.Choice(name="snooze until later today", value="snooze later"),
    app_commands.Choice(name="snooze until tomorrow", value="snooze tomorrow"),
    app_commands.Choice(name="smaller step — an even smaller next step", value="smaller"),
    app_commands.Choice(name="heads-up off — no last-day heads-up", value="heads-up off"),
    app_commands.Choice(name="heads-up on — the last-day heads-up", value="heads-up on"),
]


def _value(choice: app_commands.Choice[str] | None) -> str | None:
    return None if choice is None else choice.value


def build_tree(client: discord.Client, handler: CommandHandler) -> app_commands.CommandTree:
    """Every command of the coach, usable in servers and in DMs with the bot."""
    tree: app_commands.CommandTree = app_commands.CommandTree(
        client,
        allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
        allowed_installs=app_commands.AppInstallationType(guild=True),
    )
    for command in _commands(handler):
        tree.add_command(command)
    return tree


def _commands(handler: CommandHandler) -> Iterable[app_commands.Command | app_commands.Group]:  # type: ignore[type-arg]
    async def refuse_or_run(interaction: discord.Interaction, build: Callable[[], str]) -> None:
        try:
            text = build()
        except OptionError as exc:
            await handler.refuse(interaction, exc.error.reply())
            return
        await handler.run_text(interaction, text)

    @app_commands.command(name="goal", description="Show or set your weekly publishing goal")
    @app_commands.describe(
        count=f"Publications per week, {MIN_TARGET}–{MAX_TARGET} (start small: 1)",
        label="What you publish: post, newsletter, video…",
        change="Stop tracking, rest, or choose the day your weeks start",
        weeks=f"With change: rest — how many weeks, counting this one (1–{MAX_REST_WEEKS})",
    )
    @app_commands.choices(change=GOAL_CHANGES)
    async def goal(
        interaction: discord.Interaction,
        count: app_commands.Range[int, MIN_TARGET, MAX_TARGET] | None = None,
        label: app_commands.Range[str, 1, MAX_LABEL] | None = None,
        change: app_commands.Choice[str] | None = None,
        weeks: app_commands.Range[int, 1, MAX_REST_WEEKS] | None = None,
    ) -> None:
        await refuse_or_run(interaction, lambda: goal_text(count, label, _value(change), weeks))

    @app_commands.command(
        name="published", description="Log a publication (now or a past day), list or undo"
    )
    @app_commands.describe(
        url="The link to what you published",
        title="Its title",
        when=f"The day you published it: today, yesterday, a weekday… (up to {MAX_DAYS_BACK} "
        "days back)",
        undo="Undo your last logged publication",
        list_="Show your recent publications, numbered",
        remove="Remove one of your recent publications by its number in the list",
    )
    @app_commands.rename(list_="list")
    async def published(
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, MAX_URL] | None = None,  # both within MAX_OPTION_LENGTH
        title: app_commands.Range[str, 1, MAX_TITLE] | None = None,
        when: app_commands.Range[str, 1, 40] | None = None,
        undo: bool | None = None,
        list_: bool | None = None,
        remove: app_commands.Range[int, 1, 999] | None = None,
    ) -> None:
        if undo or list_ or remove is not None:
            if url is not None or title is not None or when is not None:
                form = Form.PUBLISHED_LIST if list_ else Form.PUBLISHED_UNDO
                alone = say(M.OPTION_UNDO_LIST_REMOVE_ALONE)
                problem = ParseError(alone, CommandRef.to(form))
                await handler.refuse(interaction, problem.reply())
                return
            await refuse_or_run(interaction, lambda: published_text(undo, list_, remove))
            return
        await handler.run_publication(interaction, PublicationOptions(url, title, when))

    @published.autocomplete("when")
    async def published_when_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return day_choices(current, handler.now())

    @app_commands.command(name="streak", description="Your streak card")
    async def streak(interaction: discord.Interaction) -> None:
        await handler.run_text(interaction, "/streak")

    @app_commands.command(name="nudges", description="Show or change when I nudge you")
    @app_commands.describe(
        days="Which days: mon thu, weekdays, weekends, daily…",
        time="What time: 9:00, 9am, 18:30…",
        change="Pause, resume, turn off, snooze, a smaller step, or the last-day heads-up",
        pause_for="With change: pause — 2w, 10 days, or until YYYY-MM-DD",
    )
    @app_commands.choices(change=NUDGE_CHANGES)
    async def nudges(
        interaction: discord.Interaction,
        days: app_commands.Range[str, 1, 100] | None = None,
        time: app_commands.Range[str, 1, 20] | None = None,
        change: app_commands.Choice[str] | None = None,
        pause_for: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        await refuse_or_run(interaction, lambda: nudges_text(days, time, _value(change), pause_for))

    @app_commands.command(name="timezone", description="Show or set your time zone")
    @app_commands.describe(zone="Your IANA time zone: start typing your city")
    async def timezone(
        interaction: discord.Interaction, zone: app_commands.Range[str, 1, 100] | None = None
    ) -> None:
        await handler.run_text(interaction, timezone_text(zone))

    @timezone.autocomplete("zone")
    async def timezone_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return zone_choices(current, handler.now())

    habit = app_commands.Group(name="habit", description="Help, and your data")

    @habit.command(name="help", description="What the coach does and every command")
    async def habit_help(interaction: discord.Interaction) -> None:
        await handler.run_text(interaction, "/habit help")

    @habit.command(name="export", description="All your data as a JSON file")
    async def habit_export(interaction: discord.Interaction) -> None:
        await handler.run_text(interaction, "/habit export")

    @habit.command(name="forget", description="Delete all your data (asks first)")
    async def habit_forget(interaction: discord.Interaction) -> None:
        await handler.run_text(interaction, "/habit forget")

    return (goal, published, streak, nudges, timezone, habit)
