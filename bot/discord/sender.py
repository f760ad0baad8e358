"""Nudges and recaps as Discord DMs, with the outcome the delivery loop needs.

The DM channel of each member is opened once and its id cached (a channel id never changes, so
a cache per process is safe). A member whose DMs are closed (403, code 50007) or who no longer
exists (10013) is reported UNREACHABLE: the engine marks them in the database and composes
nothing more for them until they use a command again, so no further request reaches Discord —
on any replica or shard. Nothing about reachability is remembered here.

A send never holds the shared delivery loop for long: rate limits of up to
``MAX_RATELIMIT_WAIT`` seconds are waited out by discord.py, longer ones go back to the loop as
a retry with Discord's ``retry_after``, and a whole send is cut off after ``SEND_TIMEOUT``
seconds, well inside the delivery lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import aiohttp
import discord

from bot.adapters import SEND_TIMEOUT_SECONDS
from bot.discord.render import notice_message
from habits.delivery import Outcome, SendResult
from habits.messages import Notice

log = logging.getLogger(__name__)

DMS_CLOSED = 50007  # "Cannot send messages to this user"
UNKNOWN_USER = 10013
DEFAULT_RETRY_AFTER = timedelta(seconds=30)
MAX_RATELIMIT_WAIT = 5.0  # seconds a request may wait out a 429 in place
SEND_TIMEOUT = SEND_TIMEOUT_SECONDS  # a whole send (open the DM, post it, 5xx retries)


class DiscordSender:
    """Sends one notice as a DM; never raises."""

    def __init__(self, send_timeout: float = SEND_TIMEOUT):
        self.client: discord.Client | None = None
        self.send_timeout = send_timeout
        self.dm_channels: dict[int, int] = {}  # user id → DM channel id

    async def send(self, notice: Notice) -> SendResult:
        client = self.client
        if client is None or client.is_closed():
            return SendResult(Outcome.RETRY, "Discord is not connected", DEFAULT_RETRY_AFTER)
        try:
            user_id = int(notice.member.user_id)
        except ValueError:
            return SendResult(
                Outcome.UNREACHABLE, f"not a Discord user id: {notice.member.user_id}"
            )
        try:
            await asyncio.wait_for(self._send(client, user_id, notice), self.send_timeout)
        except discord.Forbidden as exc:
            # 50007: DMs closed or no shared server. The engine stops composing for them.
            return SendResult(Outcome.UNREACHABLE, f"403 (code {exc.code}): {exc.text}"[:200])
        except discord.NotFound as exc:
            self.dm_channels.pop(user_id, None)
            if exc.code == UNKNOWN_USER:
                return SendResult(Outcome.UNREACHABLE, "unknown Discord user (code 10013)")
            return SendResult(Outcome.RETRY, f"404 (code {exc.code})")
        except discord.RateLimited as exc:
            wait = timedelta(seconds=exc.retry_after)
            return SendResult(Outcome.RETRY, "rate limited", wait)
        except discord.HTTPException as exc:
            return self._http_failure(exc)
        except TimeoutError:
            return SendResult(Outcome.RETRY, f"no answer within {self.send_timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(Outcome.RETRY, f"{type(exc).__name__}: {exc}"[:200])
        return SendResult(Outcome.SENT)

    async def _send(self, client: discord.Client, user_id: int, notice: Notice) -> None:
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            dm = await client.create_dm(discord.Object(id=user_id))
            channel_id = self.dm_channels[user_id] = dm.id
        channel = client.get_partial_messageable(channel_id, type=discord.ChannelType.private)
        await channel.send(**notice_message(notice))

    def _http_failure(self, exc: discord.HTTPException) -> SendResult:
        if exc.status == 429:
            retry_after = DEFAULT_RETRY_AFTER
            header = exc.response.headers.get("Retry-After") if exc.response else None
            if header:
                with contextlib.suppress(ValueError):
                    retry_after = timedelta(seconds=float(header))
            return SendResult(Outcome.RETRY, "rate limited (429)", retry_after)
        if exc.status >= 500:
            return SendResult(Outcome.RETRY, f"Discord error {exc.status}")
        log.warning("Discord refused a DM: %s %s", exc.status, exc.text)
        return SendResult(Outcome.RETRY, f"HTTP {exc.status} (code {exc.code})"[:200])
