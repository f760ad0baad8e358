"""Discord: slash commands and DM nudges with buttons, served inside `habit-coach run`."""

from bot.discord.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
