"""What a chat adapter is to the rest of the bot: the protocol `habit-coach run` serves.

Adapters import this module, never each other and never `bot.serve` (which knows them all).
"""

from __future__ import annotations

from typing import Protocol

from habits.delivery import Sender

# The longest one notice's send may take (open the DM, post it, retries), for every adapter;
# SEND_TIMEOUT_SECONDS may only shorten it.
# It must stay well inside the delivery lease (60 s by default), or another worker may claim
# the same delivery and the member gets it twice; a shutdown waits this long plus a database
# write for a send in flight to be recorded (bot.runtime.DRAIN_GRACE_SECONDS).
SEND_TIMEOUT_SECONDS = 20.0
# What recording a send's outcome may take on a healthy database, on top of the send.
RECORD_WRITE_SECONDS = 5.0


class AdapterError(RuntimeError):
    """An adapter could not start: bad token, unreachable platform. The message is for people."""


class ChatAdapter(Protocol):
    """A chat platform bound to the shared runtime."""

    platform: str  # a habits.model.Platform value
    name: str  # for people: "Discord", "Slack (Socket Mode)"

    @property
    def sender(self) -> Sender: ...

    async def start(self) -> None:
        """Connect and begin serving commands; return once ready, raise AdapterError if not."""

    async def wait_closed(self) -> None:
        """Return when the adapter stops on its own (a fatal error); normally never."""

    def connected(self) -> bool:
        """Serving members right now (for /readyz): connected, or HTTP routes served."""

    async def close(self) -> None:
        """Disconnect; safe to call twice and after a failed start."""
