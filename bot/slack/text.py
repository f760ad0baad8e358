"""Slack's text formatting at the edges: what a slash command's ``text`` really says, and
mrkdwn that shows exactly what the member typed.

Pure functions, no I/O.
"""

from __future__ import annotations

import re

# A link Slack formatted itself: ``<https://x>`` or ``<https://x|label>`` (with should_escape,
# a bare ``example.com/post`` arrives as ``<http://example.com/post|example.com/post>`` and an
# address as ``<mailto:a@b.c|a@b.c>``). Mentions have no scheme, so this leaves them alone.
_LINK = re.compile(r"<([a-z][a-z0-9+.\-]*:[^|<>\s]+)(?:\|[^<>]*)?>", re.IGNORECASE)
# Mentions Slack formatted (should_escape: true): ``<@U1|ana>``, ``<#C1|general>``, ``<!here>``,
# ``<!subteam^S1|@team>``. The member typed a name, so they read as that name again.
_MENTION = re.compile(r"<([@#!])([^|<>\s]+)(?:\|([^<>]*))?>")


def _link_as_typed(match: re.Match[str]) -> str:
    url = match.group(1)
    if url.lower().startswith("mailto:"):  # the member typed an address, not a link
        label = match.group(0)[len(url) + 2 : -1]
        return label or url[len("mailto:") :]
    return url


def _as_typed(match: re.Match[str]) -> str:
    sigil, target, label = match.groups()
    if sigil == "!":  # <!here>, <!subteam^S1|@team>, <!date^…|fallback>: the label is as shown
        return label or "@" + target.removeprefix("subteam^")
    shown = label.removeprefix(sigil) if label else target
    return sigil + shown


def unescape_command_text(text: str) -> str:
    """A slash command's ``text`` as the member typed it.

    Slack always escapes ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;``, and (with
    ``should_escape: true``) sends links as ``<url>`` or ``<url|label>`` and mentions as
    ``<@U1|ana>``, ``<#C1|general>`` or ``<!here>``. A link becomes the bare ``url``; an
    address Slack linked (``<mailto:a@b.c|a@b.c>``) and a mention become what the member typed:
    ``a@b.c``, ``@ana``, ``#general``, ``@here``. Entities are unwrapped first,
    while a literal ``<`` the member typed is still ``&lt;``; ``&amp;`` is decoded last, so a
    typed ``&lt;`` (sent as ``&amp;lt;``) stays ``&lt;``.
    """
    text = _LINK.sub(_link_as_typed, text)
    text = _MENTION.sub(_as_typed, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape_mrkdwn(text: str) -> str:
    """Slack mrkdwn's three control characters, so a title like "Q&A <live>" shows as typed.

    Apply exactly once, to text the coach wrote (which may quote the member), never to text that
    already went through it.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
