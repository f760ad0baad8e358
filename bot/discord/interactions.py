"""Serving interactions: slash commands, button clicks and the *I published* form.

Each interaction runs one engine call on the runtime's database threads and answers within
Discord's 3 seconds: if the engine has not answered after ``defer_after`` seconds, the
interaction is deferred and the reply follows. Whatever fails, the member gets a friendly
answer; no exception text reaches a chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import discord
from discord import app_commands

from bot.discord import render
from bot.discord.sender import DiscordSender
from bot.runtime import Runtime
from habits.messages import ActionId, Reply
from habits.model import MemberRef, Source
from habits.service import OOPS

log = logging.getLogger(__name__)

DEFER_AFTER = 2.0  # seconds; Discord drops an interaction not answered within 3


class InteractionRouter:
    """Turns interactions into engine calls and replies (the commands' ``CommandHandler``)."""

    def __init__(self, runtime: Runtime, sender: DiscordSender, defer_after: float = DEFER_AFTER):
        self.runtime = runtime
        self.sender = sender
        self.defer_after = defer_after

    def now(self) -> datetime:
        return self.runtime.coach.now()

    def member(self, interaction: discord.Interaction) -> MemberRef:
        user = interaction.user
        self.sender.reachable_again(user.id)  # they may have opened their DMs meanwhile
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
        self, interaction: discord.Interaction, url: str | None, title: str | None
    ) -> None:
        # Separate options, like the form: a link option must hold a link, and a title that
        # starts with "http" is still a title.
        await self.answer(
            interaction,
            self.runtime.coach.publish_form,
            self.member(interaction),
            url,
            title,
            source=Source.COMMAND,
            request_key=str(interaction.id),
        )

    async def refuse(self, interaction: discord.Interaction, message: str) -> None:
        await self.say(interaction, message)

    async def on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """The tree's error handler: a bad option value or a bug, never a stack trace."""
        if isinstance(error, (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)):
            # Discord still shows a command from before the last sync (clients cache them).
            await self.say(
                interaction,
                "That command is out of date. Type / to see the current ones.\n"
                "Example: /habit help",
            )
            return
        if isinstance(error, app_commands.TransformerError):
            await self.say(
                interaction,
                f"“{str(error.value)[:60]}” isn't a valid value there.\n"
                "Example: /habit help lists every command with an example.",
            )
            return
        log.error("slash command failed", exc_info=error)
        await self.say(interaction, OOPS)

    # --- buttons and the form ----------------------------------------------------------------

    async def route(self, interaction: discord.Interaction) -> None:
        """Serve a click or form submit that is ours (custom_id ``habit:…``); ignore the rest."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str):
            return
        try:
            if interaction.type is discord.InteractionType.component:
                click = render.parse_custom_id(custom_id)
                if click is not None:
                    await self.click(interaction, click)
            elif (
                interaction.type is discord.InteractionType.modal_submit
                and custom_id == render.PUBLISH_FORM_ID
            ):
                fields = render.submitted_fields(data)
                await self.answer(
                    interaction,
                    self.runtime.coach.publish_form,
                    self.member(interaction),
                    fields.get(render.URL_FIELD),
                    fields.get(render.TITLE_FIELD),
                    request_key=str(interaction.id),
                )
        except Exception:
            log.exception("serving %s %s failed", interaction.type, custom_id)
            await self.say(interaction, OOPS)

    async def click(self, interaction: discord.Interaction, click: render.Click) -> None:
        if click.action == ActionId.PUBLISHED.value:
            self.member(interaction)
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
            edit=click.action == ActionId.FORGET_CONFIRM.value,
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
        job = asyncio.ensure_future(self.runtime.call(func, *args, **kwargs))
        deferred = False
        try:
            try:
                reply = await asyncio.wait_for(asyncio.shield(job), self.defer_after)
            except TimeoutError:
                deferred = await self._defer(interaction, edit)
                reply = await job
        except Exception:
            log.exception("engine call for interaction %s failed", interaction.id)
            reply = Reply(OOPS, ok=False)
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
            log.warning("could not answer interaction %s: %s", interaction.id, exc)

    async def _defer(self, interaction: discord.Interaction, edit: bool) -> bool:
        try:
            if edit:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            log.warning("could not defer interaction %s: %s", interaction.id, exc)
            return False
        return True

    async def say(self, interaction: discord.Interaction, text: str) -> None:
        """A private message, as the first answer or as a follow-up."""
        try:
            if interaction.response.is_done():
                await interaction.followup.send(render.clip(text), ephemeral=True)
            else:
                await interaction.response.send_message(render.clip(text), ephemeral=True)
        except discord.HTTPException as exc:
            log.warning("could not answer interaction %s: %s", interaction.id, exc)
