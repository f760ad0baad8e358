"""Serving interactions: slash commands, button clicks and the *I published* form.

Each interaction runs one engine call on the runtime's database threads and answers within
Discord's 3 seconds: if the engine has not answered after ``defer_after`` seconds, the
interaction is deferred and the reply follows. Whatever fails, the member gets a friendly
answer; no exception text reaches a chat.

Discord's gateway may deliver an interaction again (a replay after RESUME). The engine's
request key keeps a publication from being logged twice, and the second answer, which Discord
refuses with 40060 ("already acknowledged"), is only logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import discord
from discord import app_commands

from bot import picture
from bot.discord import render
from bot.discord.commands import PublicationOptions
from bot.runtime import Runtime
from habits import grammar
from habits.catalogue import M
from habits.commands import ParseError
from habits.messages import OOPS_REPLY, ActionId, CommandRef, MemberText, Reply, say
from habits.model import MemberRef, Source

log = logging.getLogger(__name__)

DEFER_AFTER = 2.0  # seconds; Discord drops an interaction not answered within 3
ALREADY_ACKNOWLEDGED = 40060  # "Interaction has already been acknowledged"
HELP_EXAMPLE = grammar.EXAMPLE_COMMANDS["habit"]
STALE_COMMAND = ParseError(say(M.STALE_COMMAND), HELP_EXAMPLE).reply()
STALE_BUTTON = ParseError(say(M.STALE_BUTTON), HELP_EXAMPLE).reply()
STALE_FORM = ParseError(say(M.STALE_FORM), HELP_EXAMPLE).reply()


def command_example(interaction: discord.Interaction) -> CommandRef:
    """The engine's example for the slash command of ``interaction`` (``/habit help`` if none)."""
    command = interaction.command
    name = command.qualified_name.partition(" ")[0] if command is not None else ""
    return grammar.EXAMPLE_COMMANDS.get(name, HELP_EXAMPLE)


class InteractionRouter:
    """Turns interactions into engine calls and replies (the commands' ``CommandHandler``)."""

    def __init__(self, runtime: Runtime, defer_after: float = DEFER_AFTER):
        self.runtime = runtime
        self.defer_after = defer_after

    def now(self) -> datetime:
        return self.runtime.coach.now()

    def member(self, interaction: discord.Interaction) -> MemberRef:
        user = interaction.user
        return MemberRef.discord(user.id, user.display_name)

    # --- slash commands ----------------------------------------------------------------------

    async def run_text(self, interaction: discord.Interaction, text: str) -> None:
        await self.answer(
            interaction,
            self.runtime.coach.handle,
            self.member(interaction),
            text,
            request_key=str(interaction.id),
        )

    async def run_publication(
        self, interaction: discord.Interaction, options: PublicationOptions
    ) -> None:
        # Separate options, like the form: a link option must hold a link, and a title that
        # starts with "http" is still a title.
        await self.answer(
            interaction,
            self._publish_options,
            self.member(interaction),
            options.url,
            options.title,
            when=options.when,
            source=Source.COMMAND,
            request_key=str(interaction.id),
        )

    def _publish_options(self, *args: Any, **kwargs: Any) -> Reply:
        """The engine's form answer, its link example (a bare link, for the form's field) shown
        as the slash command's options instead."""
        reply = self.runtime.coach.publish_form(*args, **kwargs)
        if reply.ok or reply.example() != grammar.FORM_LINK_EXAMPLE:
            return reply
        return reply.with_example(grammar.EXAMPLE_COMMANDS["published"])

    async def refuse(self, interaction: discord.Interaction, message: Reply) -> None:
        await self.say(interaction, message)

    async def on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """The tree's error handler: a bad option value or a bug, never a stack trace."""
        if isinstance(error, (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)):
            # Discord still shows a command from before the last sync (clients cache them).
            await self.say(interaction, STALE_COMMAND)
            return
        if isinstance(error, app_commands.TransformerError):
            # A value Discord's form should not have let through (e.g. not one of the choices).
            problem = say(M.NOT_AN_OPTION_VALUE, typed=MemberText(str(error.value)[:60]))
            await self.say(interaction, ParseError(problem, command_example(interaction)).reply())
            return
        log.error("slash command failed", exc_info=error)
        await self.say(interaction, OOPS_REPLY)

    # --- buttons and the form ----------------------------------------------------------------

    async def route(self, interaction: discord.Interaction) -> None:
        """Serve a click or form submit whose custom_id is ours (``habit:…``); ignore the rest.

        A ``habit:`` id this version does not know (a message from an older version) gets a
        private answer saying so, rather than Discord's "This interaction failed".
        """
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id.startswith(render.CUSTOM_ID_PREFIX):
            return
        try:
            if interaction.type is discord.InteractionType.component:
                click = render.parse_custom_id(custom_id)
                if click is None:
                    log.info("a click on an unknown button %r", custom_id[:100])
                    await self.say(interaction, STALE_BUTTON)
                else:
                    await self.click(interaction, click)
            elif interaction.type is discord.InteractionType.modal_submit:
                if custom_id != render.PUBLISH_FORM_ID:
                    log.info("a submit of an unknown form %r", custom_id[:100])
                    await self.say(interaction, STALE_FORM)
                    return
                fields = render.submitted_fields(data)
                await self.answer(
                    interaction,
                    self.runtime.coach.publish_form,
                    self.member(interaction),
                    fields.get(render.URL_FIELD),
                    fields.get(render.TITLE_FIELD),
                    request_key=str(interaction.id),
                )
        except discord.HTTPException as exc:
            self._unanswered(interaction, exc)
        except Exception:
            log.exception("serving %s %s failed", interaction.type, custom_id)
            await self.say(interaction, OOPS_REPLY)

    async def click(self, interaction: discord.Interaction, click: render.Click) -> None:
        if ActionId(click.action).opens_form:
            await interaction.response.send_modal(render.PublishedForm())
            return
        assert click.command is not None
        await self.answer(
            interaction,
            self.runtime.coach.handle,
            self.member(interaction),
            click.command,
            source=Source.BUTTON,
            request_key=str(interaction.id),
            # The confirmation is replaced by the outcome, so its button cannot be clicked twice.
            edit=ActionId(click.action).answers_in_place,
        )

    # --- answering ---------------------------------------------------------------------------

    async def answer(
        self,
        interaction: discord.Interaction,
        func: Callable[..., Reply],
        *args: Any,
        edit: bool = False,
        **kwargs: Any,
    ) -> None:
        """Run ``func`` on a database thread and show its reply, deferring if it is slow."""
        job = asyncio.ensure_future(self._reply(func, *args, **kwargs))
        deferred: bool | None = False
        try:
            try:
                reply = await asyncio.wait_for(asyncio.shield(job), self.defer_after)
            except TimeoutError:
                deferred = await self._defer(interaction, edit)
                reply = await job
        except Exception:
            log.exception("engine call for interaction %s failed", interaction.id)
            reply = OOPS_REPLY
        if deferred is None:
            return  # answered before (a replayed interaction): the engine's work is done
        try:
            if deferred and edit:
                await interaction.edit_original_response(**render.reply_edit(reply))
            elif deferred:
                await interaction.followup.send(**render.reply_message(reply))
            elif edit:
                await interaction.response.edit_message(**render.reply_edit(reply))
            else:
                await interaction.response.send_message(**render.reply_message(reply))
        except discord.HTTPException as exc:
            self._unanswered(interaction, exc)

    async def _reply(self, func: Callable[..., Reply], *args: Any, **kwargs: Any) -> Reply:
        """The engine's reply, its year drawn (on a worker thread) to go in the streak card."""
        reply = await self.runtime.call(func, *args, **kwargs)
        return await picture.with_picture(reply)

    async def _defer(self, interaction: discord.Interaction, edit: bool) -> bool | None:
        """True once deferred; False if deferring failed; None if it was answered before."""
        try:
            if edit:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            self._unanswered(interaction, exc)
            return None if exc.code == ALREADY_ACKNOWLEDGED else False
        return True

    async def say(self, interaction: discord.Interaction, reply: Reply) -> None:
        """A private message, as the first answer or as a follow-up."""
        text = render.clip_reply(reply)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(
                    text, ephemeral=True, allowed_mentions=render.NO_MENTIONS
                )
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=render.NO_MENTIONS
                )
        except discord.HTTPException as exc:
            self._unanswered(interaction, exc)

    @staticmethod
    def _unanswered(interaction: discord.Interaction, exc: discord.HTTPException) -> None:
        if exc.code == ALREADY_ACKNOWLEDGED:
            # The gateway delivered this interaction again and it was answered the first time.
            log.info("interaction %s was already answered (delivered twice)", interaction.id)
        else:
            log.warning("could not answer interaction %s: %s", interaction.id, exc)
