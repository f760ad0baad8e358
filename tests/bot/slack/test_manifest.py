"""The app manifest an admin pastes matches what the adapter serves."""

from __future__ import annotations

import re
from pathlib import Path

from bot.slack.adapter import BOT_SCOPES
from bot.slack.app import COMMANDS

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack-manifest.yml"


def test_the_manifest_declares_every_command_the_adapter_answers() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    assert tuple(re.findall(r"- command: (/\w+)", text)) == COMMANDS


def test_the_manifest_asks_for_exactly_the_bot_scopes() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    bot = text.split("    bot:\n", 1)[1].split("\nsettings:", 1)[0]
    assert tuple(re.findall(r"- ([a-z:]+)", bot)) == BOT_SCOPES


def test_the_manifest_subscribes_to_app_home_and_enables_socket_mode() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    assert "      - app_home_opened\n" in text
    assert "home_tab_enabled: true" in text
    assert "socket_mode_enabled: true" in text


def test_every_command_has_slack_format_links_and_mentions() -> None:
    # should_escape: true sends links (even bare domains) as <http://…|…> and mentions as
    # <@U1|ana>; bot.slack.text turns both back into what the member typed.
    text = MANIFEST.read_text(encoding="utf-8")
    commands = text.split("  slash_commands:\n", 1)[1].split("\noauth_config:", 1)[0]
    entries = commands.split("    - command: ")[1:]
    assert len(entries) == len(COMMANDS)
    for entry in entries:
        assert re.search(r"^      should_escape: true$", entry, re.MULTILINE), entry
    assert "should_escape: false" not in text
