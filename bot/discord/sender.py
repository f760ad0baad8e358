"""Nudges and check-ins as Discord DMs, with the outcome the delivery loop needs.

The DM channel of each member is opened once and its id cached (a channel id never changes, so
a cache per process is safe). A member whose DMs are closed (403, code 50007) or who no longer
exists (10013) is reported UNREACHABLE: the engine marks them in the database and composes
nothing more for them until they use a command again, so no further request reaches Discord —
on any replica or shard. Nothing about reachability is remembered here.

A send never holds the shared delivery loop for long: rate limits of up to
``MAX_RATELIMIT_WAIT`` seconds are waited out by discord.py, longer ones go back to the loop as
a retry with Discord's ``retry_after``, and a whole send is cut off after ``SEND_TIMEOUT``
seconds, well inside the delivery lease.

Pacing keeps the bot under Discord's limits instead of finding them with 429s. One bucket per
process holds every request to ``requests_per_second`` (45 by default: 10% under Discord's 50/s,
which leaves room for the requests the bucket does not see — command sync, follow-ups — and for
the bucket and Discord measuring a second differently); a DM whose channel is not cached takes
two tokens. A global 429 pauses the bucket for its Retry-After. The wait for tokens counts inside
the send's bound: a send that cannot have them within ``MAX_PACING_WAIT`` goes back to the
engine as a retry. And an invalid-request governor keeps this process's 401/403/429 answers
under a budget per 10 minutes (Discord bans an address at 10,000): past half the budget the
bucket slows in proportion to what is left, and at the budget no send starts until old answers
leave the window. Every response is seen through an aiohttp trace on discord.py's session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import SimpleNamespace

import aiohttp
import discord

from bot.adapters import SEND_TIMEOUT_SECONDS
from bot.discord.render import notice_message
from bot.pacing import Clock, Sleep, SlidingWindowCounter, TokenBucket, retry_after
from habits.delivery import Outcome, SendResult
from habits.messages import Notice

log = logging.getLogger(__name__)

DMS_CLOSED = 50007  # "Cannot send messages to this user"
UNKNOWN_USER = 10013
DEFAULT_RETRY_AFTER = timedelta(seconds=30)
MAX_RATELIMIT_WAIT = 5.0  # seconds a request may wait out a 429 in place
SEND_TIMEOUT = SEND_TIMEOUT_SECONDS  # a whole send (open the DM, post it, 5xx retries)

REQUESTS_PER_SECOND = 45.0  # bot-wide; Discord's global limit is 50
BURST = 3  # at most 45 + 3 requests in any second: 2 to spare for network jitter
INVALID_BUDGET = 1000  # 401/403/429 answers per INVALID_WINDOW; Discord bans at 10,000
INVALID_WINDOW = 600.0
MAX_PACING_WAIT = 10.0  # seconds a send may wait for its tokens; half of SEND_TIMEOUT
SLOW_FROM = 0.5  # share of the invalid budget past which the governor slows sending
SLOWEST = 0.02  # the slowest it goes, as a share of the rate, before the budget stops it

OnRateLimited = Callable[[str], None]


class DiscordPacing:
    """The request budget of one process: the bucket and the invalid-request governor.

    ``observe`` is fed every REST response the client gets; ``admit`` is asked before a send.
    """

    def __init__(
        self,
        requests_per_second: float = REQUESTS_PER_SECOND,
        invalid_budget: int = INVALID_BUDGET,
        *,
        invalid_window: float = INVALID_WINDOW,
        burst: float = BURST,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ):
        self.ceiling = requests_per_second
        self.bucket = TokenBucket(requests_per_second, burst, clock=clock, sleep=sleep)
        self.invalid_budget = invalid_budget
        self.invalid = SlidingWindowCounter(invalid_window, clock=clock)
        self.reserved = 0  # invalid answers the sends in flight might still bring
        self.clock = clock

    def used(self) -> int:
        return self.invalid.count() + self.reserved

    def govern(self) -> None:
        """Past SLOW_FROM of the budget, slow down in proportion to the budget left."""
        slow_from = self.invalid_budget * SLOW_FROM
        used = self.used()
        share = 1.0
        if used > slow_from:
            share = max(SLOWEST, (self.invalid_budget - used) / (self.invalid_budget - slow_from))
        rate = self.ceiling * share
        if abs(rate - self.bucket.rate) > 1e-9:
            self.bucket.set_rate(rate)

    def invalid_answer(self) -> None:
        self.invalid.add()
        self.govern()

    def global_limit(self, retry_after: float) -> None:
        self.bucket.pause_for(retry_after)

    async def admit(self, requests: int, max_wait: float) -> float:
        """Take ``requests`` tokens; 0.0 when the send may go, else seconds to come back after.

        An admitted send holds its requests against the invalid budget (any of them may come
        back 403 or 429) until :meth:`release`; they are held before waiting for the bucket, so
        sends waiting together cannot all count on the same room.
        """
        self.govern()
        full_in = self.invalid.room_in(self.reserved + requests, self.invalid_budget)
        if full_in > 0:
            # inf: the sends in flight alone fill the budget; they end within SEND_TIMEOUT.
            return min(full_in, self.invalid.window) if full_in != float("inf") else 1.0
        self.reserved += requests
        try:
            acquired = await self.bucket.acquire(requests, max_wait)
        except BaseException:  # cancelled while waiting: hold nothing
            self.release(requests)
            raise
        if not acquired:
            self.release(requests)
            return max(1.0, self.bucket.delay(requests))
        return 0.0

    def release(self, requests: int) -> None:
        self.reserved -= requests
        self.govern()


class DiscordSender:
    """Sends one notice as a DM, paced; never raises.

    ``pacing`` replaces the default budget (:class:`DiscordPacing` from the settings);
    ``paced=False`` sends as fast as discord.py lets it, with its own 429 handling only (what the
    coach did before pacing: the benchmark's baseline). ``on_rate_limited`` is called with
    "global" or "route" on every 429 the client gets.
    """

    def __init__(
        self,
        send_timeout: float = SEND_TIMEOUT,
        *,
        pacing: DiscordPacing | None = None,
        paced: bool = True,
        on_rate_limited: OnRateLimited | None = None,
        max_pacing_wait: float = MAX_PACING_WAIT,
    ):
        self._client: discord.Client | None = None
        self.send_timeout = send_timeout
        self.dm_channels: dict[int, int] = {}  # user id → DM channel id
        self.pacing = (pacing or DiscordPacing()) if paced else None
        self.on_rate_limited = on_rate_limited
        self.max_pacing_wait = min(max_pacing_wait, send_timeout / 2)
        self.http_trace = aiohttp.TraceConfig()
        self.http_trace.on_request_end.append(self._on_response)

    @property
    def client(self) -> discord.Client | None:
        return self._client

    @client.setter
    def client(self, client: discord.Client | None) -> None:
        """Adopt the adapter's client; before its login, so the session carries our trace."""
        self._client = client
        if client is not None and client.http.http_trace is None:
            client.http.http_trace = self.http_trace

    async def _on_response(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        self.observe(params.response.status, params.response.headers)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """One REST answer: count it if Discord counts it as invalid; act on a 429."""
        scope = (headers.get("X-RateLimit-Scope") or "").lower()
        # Discord does not count 429s of shared (per-resource) limits as invalid.
        invalid = status in (401, 403) or (status == 429 and scope != "shared")
        if invalid and self.pacing is not None:
            self.pacing.invalid_answer()
        if status != 429:
            return
        is_global = scope == "global" or headers.get("X-RateLimit-Global", "").lower() == "true"
        if is_global:
            wait = retry_after(headers) or 1.0
            log.warning("Discord's global rate limit was hit: pausing DMs for %.1f s", wait)
            if self.pacing is not None:
                self.pacing.global_limit(wait)
        if self.on_rate_limited is not None:
            try:
                self.on_rate_limited("global" if is_global else "route")
            except Exception:  # a metrics bug must not fail the request it watches
                log.exception("on_rate_limited failed")

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
        pacing = self.pacing
        if pacing is None:
            return await self._bounded(client, user_id, notice, self.send_timeout)
        requests = 1 if user_id in self.dm_channels else 2
        started = pacing.clock()
        wait = await pacing.admit(requests, self.max_pacing_wait)
        if wait > 0:
            return SendResult(
                Outcome.RETRY, "paced: Discord's request budget is spent", timedelta(seconds=wait)
            )
        try:
            left = self.send_timeout - (pacing.clock() - started)
            return await self._bounded(client, user_id, notice, left)
        finally:
            pacing.release(requests)

    async def _bounded(
        self, client: discord.Client, user_id: int, notice: Notice, limit: float
    ) -> SendResult:
        try:
            await asyncio.wait_for(self._send(client, user_id, notice), limit)
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
            wait = retry_after(exc.response.headers) if exc.response is not None else None
            later = DEFAULT_RETRY_AFTER if wait is None else timedelta(seconds=wait)
            return SendResult(Outcome.RETRY, "rate limited (429)", later)
        if exc.status >= 500:
            return SendResult(Outcome.RETRY, f"Discord error {exc.status}")
        log.warning("Discord refused a DM: %s %s", exc.status, exc.text)
        return SendResult(Outcome.RETRY, f"HTTP {exc.status} (code {exc.code})"[:200])
