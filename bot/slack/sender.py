"""Nudges and recaps as Slack DMs, and the Web API client every Slack call goes through.

Slack's answers are sorted into the engine's outcomes: a member Slack will never reach is
UNREACHABLE; a rate limit, a 5xx or a timeout is RETRY, with Slack's ``Retry-After`` when given.
"""

from __future__ import annotations

import asyncio
import logging
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
from bot.slack.blocks import fallback_text, notice_blocks
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


def retry_after(headers: Mapping[str, Any]) -> float | None:
    """Seconds from a ``Retry-After`` header, whatever the casing or the list wrapping."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


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
        state.next_attempt_requested = True
        await asyncio.sleep(min(wait if wait is not None else 1.0, self.max_wait))
        state.increment_current_attempt()


def make_client(token: str | None, base_url: str | None) -> AsyncWebClient:
    """The one way this adapter builds a Web API client (tests point ``base_url`` at a fake)."""
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(),
        BriefRateLimitRetryHandler(),
    ]
    return AsyncWebClient(
        token=token, base_url=base_url or DEFAULT_API_BASE_URL, retry_handlers=handlers
    )


def classify(error: SlackApiError, workspace: str = "") -> SendResult:
    """Slack's refusal as an engine outcome."""
    response = error.response
    status = getattr(response, "status_code", 0) or 0
    code = str(response.get("error", "")) if response is not None else ""
    if status == 429 or code == "ratelimited":
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


class SlackSender:
    """Delivers a notice as a DM (chat.postMessage to the user id opens the app's DM)."""

    def __init__(self, client_for: ClientFor, timeout: float = SEND_TIMEOUT):
        self._client_for = client_for
        self.timeout = timeout

    async def send(self, notice: Notice) -> SendResult:
        member = notice.member
        try:
            async with asyncio.timeout(self.timeout):
                return await self._send(notice)
        except TimeoutError:
            log.info("DM to %s/%s timed out", member.workspace, member.user_id)
            return SendResult(Outcome.RETRY, f"no answer within {self.timeout:g} s")

    async def _send(self, notice: Notice) -> SendResult:
        member = notice.member
        client = await self._client_for(member.workspace)
        if client is None:
            return SendResult(Outcome.UNREACHABLE, "the app is not installed in that workspace")
        try:
            await client.chat_postMessage(
                channel=member.user_id,
                text=fallback_text(notice.text),
                blocks=notice_blocks(notice),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            result = classify(exc, member.workspace)
            log.info("DM to %s/%s not sent: %s", member.workspace, member.user_id, result)
            return result
        except aiohttp.ClientError as exc:
            return SendResult(Outcome.RETRY, f"{type(exc).__name__}")
        return SendResult(Outcome.SENT)
