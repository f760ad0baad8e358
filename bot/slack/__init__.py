"""Slack: slash commands, Block Kit nudges, the App Home tab, Socket Mode and HTTP mode."""

from bot.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
