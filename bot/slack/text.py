"""Slack's text formatting at the edges: what a slash command's ``text`` really says, and
mrkdwn that shows exactly what the member typed.

Pure functions, no I/O.
"""

from __future__ import annotations

import re

# A link Slack formatted itself: ``<https://x>`` or ``<https://x|label>``. Mentions and channel
# references (``<@U1>``, ``<#C1|general>``, ``<!here>``) have no scheme and are left alone.
_LINK = re.compile(r"<([a-z][a-z0-9+.\-]*:[^|<>\s]+)(?:\|[^<>]*)?>", re.IGNORECASE)


def unescape_command_text(text: str) -> str:
    """A slash command's ``text`` as the member typed it.

    Slack always escapes ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;`` (even with
    ``should_escape: false``) and may send a link as ``<url>`` or ``<url|label>``; both become
    the bare ``url``. Links are unwrapped first, while a literal ``<`` the member typed is still
    ``&lt;``; ``&amp;`` is decoded last, so a typed ``&lt;`` (sent as ``&amp;lt;``) stays ``&lt;``.
    """
    text = _LINK.sub(lambda match: match.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape_mrkdwn(text: str) -> str:
    """Slack mrkdwn's three control characters, so a title like "Q&A <live>" shows as typed.

    Apply exactly once, to text the coach wrote (which may quote the member), never to text that
    already went through it.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
