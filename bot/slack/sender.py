"""Nudges and check-ins as Slack DMs, and the Web API client every Slack call goes through.

Slack's answers are sorted into the engine's outcomes: a member Slack will never reach is
UNREACHABLE; a rate limit, a 5xx or a timeout is RETRY, with Slack's ``Retry-After`` when given.

Slack has no message nonce, so each notice carries its delivery key as message metadata, and a
later attempt at the same delivery (after a lost answer, or a replica that died mid-send) first
looks for that key in the DM's latest messages: found, the notice is sent and is not posted again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import SEND_TIMEOUT_SECONDS
from bot.pacing import (
    AdaptiveTokenBucket,
    Clock,
    KeyedSpacing,
    Sleep,
    TokenBucket,
    retry_after,
)
from bot.slack.blocks import dm_message, notice_blocks
from habits.delivery import Outcome, SendResult
from habits.messages import Notice

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://slack.com/api/"
# Waiting out a short rate limit in place beats a round trip through the retry queue; a long
# one is handed back to the engine (Outcome.RETRY) so one busy channel never stalls a sweep.
MAX_INLINE_RATE_LIMIT_WAIT = 5.0

# Errors about this one member: Slack will not DM them as things stand (their account is
# deactivated, their DMs with the app are closed, ...). Only these make a member UNREACHABLE.
UNREACHABLE_ERRORS = frozenset(
    {
        "channel_not_found",
        "user_not_found",
        "users_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "is_archived",
        "not_in_channel",
        "messages_tab_disabled",
    }
)

# Errors about the whole workspace or our bot token: every member there would get the same
# answer, and it heals when an admin reinstalls the app or restores the token. Never a reason
# to mark anyone unreachable; retried after WORKSPACE_RETRY_AFTER, and logged as an error.
# (chat.postMessage's ``account_inactive`` is about the token's own account: the bot's.)
WORKSPACE_ERRORS = frozenset(
    {
        "token_revoked",
        "token_expired",
        "app_uninstalled",
        "account_inactive",
        "team_not_found",
        "team_access_not_granted",
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "missing_scope",
        "restricted_action",
        "ekm_access_denied",
        "org_login_required",
        "enterprise_is_restricted",
    }
)
WORKSPACE_RETRY_AFTER = timedelta(hours=1)
# A send must finish well inside the delivery lease (60 s by default), or another worker may
# claim the same delivery and the member gets it twice.
SEND_TIMEOUT = SEND_TIMEOUT_SECONDS

# Pacing per workspace. A DM is a channel of its own, so Slack's unpublished workspace cap is what
# binds a fan-out. 4/s (240 a minute) starts well inside what Slack's docs call "short bursts" and
# what people report passing without 429s, and still sends a 1,000-member workspace its Monday
# nudges in about 4 minutes; the bucket probes upwards by 1/s every 30 s without a 429, to
# WORKSPACE_CEILING, and halves on each 429, to no less than WORKSPACE_FLOOR.
WORKSPACE_START = 4.0
WORKSPACE_CEILING = 10.0
WORKSPACE_FLOOR = 0.5
WORKSPACE_RECOVERY = 1 / 30  # messages/s gained per second without a 429
WORKSPACE_BURST = 4
CHANNEL_INTERVAL = 1.1  # chat.postMessage allows about 1/s per channel; 0.1 s for jitter
MAX_PACING_WAIT = 10.0  # seconds a send may wait for its turn; half of SEND_TIMEOUT

# A notice's delivery key rides on its message as metadata, so a later attempt can find it.
NOTICE_EVENT_TYPE = "habit_coach_notice"
# How many of the DM's latest messages a retry looks through for its key. Between the lost
# answer and the retry (a backoff of 30 s or more) the coach seldom posts more than a
# confirmation or two there; 15 is also the most Slack returns to apps outside its Marketplace.
HISTORY_LOOKBACK = 15

OnRateLimited = Callable[[str], None]
# The send in flight on this task: the retry handler tells it about the 429s it waits out.
_current_send: contextvars.ContextVar[Callable[[float], None] | None] = contextvars.ContextVar(
    "slack_current_send", default=None
)


class BriefRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 once, only when Slack asks for a short wait; longer ones fail fast."""

    def __init__(self, max_wait: float = MAX_INLINE_RATE_LIMIT_WAIT):
        super().__init__(max_retry_count=1)
        self.max_wait = max_wait

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response.headers)
        return wait is not None and wait <= self.max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        # The SDK's own version adds up to a second of jitter; one retry needs none, and the
        # wait in place must stay within max_wait.
        wait = retry_after(response.headers) if response is not None else None
        report = _current_send.get()
        if report is not None and response is not None and response.status_code == 429:
            report(wait if wait is not None else 1.0)
        state.next_attempt_requested = True
        await asyncio.sleep(min(wait if wait is not None else 1.0, self.max_wait))
        state.increment_current_attempt()


class NoBlindRepostRetryHandler(AsyncConnectionErrorRetryHandler):
    """The SDK's retry on a dropped connection, except for a post that may have reached Slack.

    A connection lost after ``chat.postMessage`` was written leaves its outcome unknown: posting
    again at once may show the message twice. Such a send goes back to the engine instead, and
    its next attempt looks for the message first. A connection that was never made is retried.
    """

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.endswith("/chat.postMessage") and not isinstance(
            error, aiohttp.ClientConnectorError
        ):
            return False
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


def make_client(token: str | None, base_url: str | None) -> AsyncWebClient:
    """The one way this adapter builds a Web API client (tests point ``base_url`` at a fake)."""
    handlers: list[AsyncRetryHandler] = [
        NoBlindRepostRetryHandler(),
        BriefRateLimitRetryHandler(),
    ]
    return AsyncWebClient(
        token=token, base_url=base_url or DEFAULT_API_BASE_URL, retry_handlers=handlers
    )


def notice_metadata(key: str) -> dict[str, Any]:
    """The message metadata that names the delivery a notice belongs to."""
    return {"event_type": NOTICE_EVENT_TYPE, "event_payload": {"delivery_key": key}}


def carries_key(message: Mapping[str, Any], key: str) -> bool:
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != NOTICE_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, Mapping) and payload.get("delivery_key") == key


def error_code(error: SlackApiError) -> str:
    """Slack's error code; "" when the body was not Slack's JSON (a 5xx's HTML page)."""
    data = getattr(error.response, "data", None)
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def is_rate_limit(error: SlackApiError) -> bool:
    status = getattr(error.response, "status_code", 0) or 0
    return status == 429 or error_code(error) == "ratelimited"


def classify(error: SlackApiError, workspace: str = "") -> SendResult:
    """Slack's refusal as an engine outcome."""
    response = error.response
    status = getattr(response, "status_code", 0) or 0
    code = error_code(error)
    if is_rate_limit(error):
        wait = retry_after(dict(response.headers)) if response is not None else None
        return SendResult(
            Outcome.RETRY,
            "rate limited",
            timedelta(seconds=wait) if wait is not None else None,
        )
    if code in UNREACHABLE_ERRORS:
        return SendResult(Outcome.UNREACHABLE, code)
    if code in WORKSPACE_ERRORS:
        log.error(
            "Slack refused the bot token of workspace %s (%s): nobody there gets nudges until "
            "the app is reinstalled or the token fixed; retrying in %s",
            workspace or "?",
            code,
            WORKSPACE_RETRY_AFTER,
        )
        return SendResult(Outcome.RETRY, code, WORKSPACE_RETRY_AFTER)
    if status >= 500:
        return SendResult(Outcome.RETRY, f"Slack answered {status}")
    return SendResult(Outcome.RETRY, code or f"Slack answered {status}")


ClientFor = Callable[[str], Awaitable[AsyncWebClient | None]]


class SlackPacing:
    """The buckets of one process: an adaptive one per workspace, a spacing per channel."""

    def __init__(
        self,
        ceiling: float = WORKSPACE_CEILING,
        *,
        start: float = WORKSPACE_START,
        floor: float = WORKSPACE_FLOOR,
        channel_interval: float = CHANNEL_INTERVAL,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ):
        self.ceiling = ceiling
        self.start = min(start, ceiling)
        self.floor = min(floor, self.start)
        self.clock = clock
        self._sleep = sleep
        self.workspaces: dict[str, AdaptiveTokenBucket] = {}
        self.channels = KeyedSpacing(channel_interval, clock=clock, sleep=sleep)

    def workspace(self, team_id: str) -> AdaptiveTokenBucket:
        bucket = self.workspaces.get(team_id)
        if bucket is None:
            bucket = AdaptiveTokenBucket(
                self.start,
                WORKSPACE_BURST,
                ceiling=self.ceiling,
                floor=self.floor,
                recovery=WORKSPACE_RECOVERY,
                clock=self.clock,
                sleep=self._sleep,
            )
            self.workspaces[team_id] = bucket
        return bucket

    def channel(self, team_id: str, channel: str) -> TokenBucket:
        return self.channels.bucket(f"{team_id}/{channel}")

    async def admit(self, team_id: str, channel: str, max_wait: float) -> tuple[float, bool]:
        """Wait for the channel's and the workspace's turn: (0.0 or seconds to retry after,
        whether the channel had a message within the last interval)."""
        started = self.clock()
        channel_bucket = self.channel(team_id, channel)
        busy_channel = not channel_bucket.idle
        if not await channel_bucket.acquire(1, max_wait):
            return max(1.0, channel_bucket.delay()), busy_channel
        workspace = self.workspace(team_id)
        left = max(0.0, max_wait - (self.clock() - started))
        if not await workspace.acquire(1, left):
            return max(1.0, workspace.delay()), busy_channel
        return 0.0, busy_channel


class SlackSender:
    """Delivers a notice as a DM (chat.postMessage to the user id opens the app's DM), paced.

    ``paced=False`` sends without the buckets (429s are still honoured per send);
    ``on_rate_limited`` is called with "workspace" or "channel" on every 429 of a send.
    """

    def __init__(
        self,
        client_for: ClientFor,
        timeout: float = SEND_TIMEOUT,
        *,
        pacing: SlackPacing | None = None,
        paced: bool = True,
        on_rate_limited: OnRateLimited | None = None,
        max_pacing_wait: float = MAX_PACING_WAIT,
    ):
        self._client_for = client_for
        self.timeout = timeout
        self.pacing = (pacing or SlackPacing()) if paced else None
        self.on_rate_limited = on_rate_limited
        self.max_pacing_wait = max_pacing_wait
        self._history_refused: set[str] = set()  # workspaces already warned about

    async def send(self, notice: Notice) -> SendResult:
        member = notice.member
        loop = asyncio.get_running_loop()
        started = loop.time()
        busy_channel = False
        if self.pacing is not None:
            max_wait = min(self.max_pacing_wait, self.timeout / 2)
            wait, busy_channel = await self.pacing.admit(member.workspace, member.user_id, max_wait)
            if wait > 0:
                return SendResult(
                    Outcome.RETRY, "paced: the workspace's turn is not yet", timedelta(seconds=wait)
                )
        left = self.timeout - (loop.time() - started)
        try:
            async with asyncio.timeout(left):
                return await self._send(notice, busy_channel)
        except TimeoutError:
            log.info("DM to %s/%s timed out", member.workspace, member.user_id)
            return SendResult(Outcome.RETRY, f"no answer within {self.timeout:g} s")

    def _rate_limited(self, team_id: str, channel: str, busy_channel: bool, wait: float) -> None:
        """Honour a 429: pause what it most likely hit, and say so."""
        scope = "channel" if busy_channel else "workspace"
        if self.pacing is not None:
            if busy_channel:
                self.pacing.channel(team_id, channel).pause_for(wait)
            else:
                self.pacing.workspace(team_id).rate_limited(wait)
        log.info("Slack rate-limited DMs in %s (%s) for %.1f s", team_id, scope, wait)
        if self.on_rate_limited is not None:
            try:
                self.on_rate_limited(scope)
            except Exception:  # a metrics bug must not fail the send it watches
                log.exception("on_rate_limited failed")

    async def _send(self, notice: Notice, busy_channel: bool) -> SendResult:
        member = notice.member
        client = await self._client_for(member.workspace)
        if client is None:
            return SendResult(Outcome.UNREACHABLE, "the app is not installed in that workspace")

        if notice.attempt > 1 and notice.key and await self._posted_earlier(client, notice):
            return SendResult(Outcome.SENT, "an earlier attempt got through")

        def report(wait: float) -> None:
            self._rate_limited(member.workspace, member.user_id, busy_channel, wait)

        token = _current_send.set(report)
        try:
            await client.chat_postMessage(
                **dm_message(member.user_id, notice.body, notice_blocks(notice)),
                metadata=notice_metadata(notice.key) if notice.key else None,
            )
        except SlackApiError as exc:
            result = classify(exc, member.workspace)
            if is_rate_limit(exc):
                wait = result.retry_after.total_seconds() if result.retry_after else 1.0
                report(wait)
            log.info("DM to %s/%s not sent: %s", member.workspace, member.user_id, result)
            return result
        except aiohttp.ClientError as exc:
            return SendResult(Outcome.RETRY, f"{type(exc).__name__}")
        finally:
            _current_send.reset(token)
        return SendResult(Outcome.SENT)

    async def _posted_earlier(self, client: AsyncWebClient, notice: Notice) -> bool:
        """Whether an earlier attempt at this notice reached the member's DM: its key is among
        the latest messages there.

        When the history cannot be read (no ``im:history`` scope, an error, a dropped
        connection, a rate limit longer than the SDK waits out in place), the answer is no and
        the notice is posted: it may then show twice, as before this check existed, but it is
        never held back past its moment. (Slack allows some apps one history call a minute.)
        """
        member = notice.member
        try:
            opened = await client.conversations_open(users=member.user_id)
            channel = str(opened["channel"]["id"])
            history = await client.conversations_history(
                channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
        except SlackApiError as exc:
            code = error_code(exc) or f"Slack answered {exc.response.status_code}"
            self._history_unreadable(member.workspace, code)
            return False
        except (aiohttp.ClientError, KeyError, TypeError) as exc:
            log.info("DM history of %s/%s unreadable: %r", member.workspace, member.user_id, exc)
            return False
        messages = history.get("messages") or []
        found = any(isinstance(m, Mapping) and carries_key(m, notice.key) for m in messages)
        if found:
            log.info(
                "%s to %s/%s got through earlier", notice.key, member.workspace, member.user_id
            )
        return found

    def _history_unreadable(self, workspace: str, code: str) -> None:
        if (
            code in ("missing_scope", "not_allowed_token_type")
            and workspace not in self._history_refused
        ):
            self._history_refused.add(workspace)
            log.warning(
                "Slack refused to read the DM history in workspace %s (%s): reinstall the app "
                "with the im:history scope, or a nudge whose answer was lost may show twice",
                workspace,
                code,
            )
        else:
            log.info("DM history in workspace %s unreadable: %s", workspace, code)
