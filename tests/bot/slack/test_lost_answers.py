"""A nudge whose answer from Slack was lost is not shown twice: it carries its delivery key as
message metadata, and the next attempt looks for that key in the DM before posting again."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientConnectorError, ServerDisconnectedError
from aiohttp.client_reqrep import ConnectionKey
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.state import RetryState

from bot.slack.sender import (
    HISTORY_LOOKBACK,
    NOTICE_EVENT_TYPE,
    NoBlindRepostRetryHandler,
    SlackPacing,
    SlackSender,
)
from habits.delivery import DeliverySettings, Dispatcher
from habits.model import Platform
from tests.bot.slack.conftest import Harness
from tests.bot.slack.test_nudges import THURSDAY_NINE_BERLIN, delivery_rows
from tests.fakes.slack_server import wait_until

BACKOFF = DeliverySettings().first_backoff
AFTER_BACKOFF = THURSDAY_NINE_BERLIN + BACKOFF + timedelta(seconds=1)


def keys_shown(slack: Harness, user: str = "U1") -> list[str]:
    """The delivery key of every message in the member's DM, oldest first."""
    return [
        m["metadata"]["event_payload"]["delivery_key"]
        for m in slack.fake.messages_to("T1", user)
        if m["metadata"]
    ]


def sender_of(slack: Harness) -> SlackSender:
    sender = slack.adapter.sender
    assert isinstance(sender, SlackSender)
    return sender


@pytest.fixture
def http_slack(http_slack: Harness) -> Harness:
    """Paced on the test's clock: a retry 30 s later finds the member's channel free."""
    sender_of(http_slack).pacing = SlackPacing(clock=lambda: http_slack.clock.now().timestamp())
    return http_slack


async def test_a_nudge_carries_its_delivery_key_as_message_metadata(http_slack: Harness) -> None:
    await http_slack.command("/goal", "1 post")

    assert await http_slack.tick_at(THURSDAY_NINE_BERLIN) == 1

    [message] = http_slack.fake.messages_to("T1", "U1")
    [row] = delivery_rows(http_slack)
    assert message["metadata"] == {
        "event_type": NOTICE_EVENT_TYPE,
        "event_payload": {"delivery_key": f"nudge-{row.id}"},
    }
    assert http_slack.fake.calls_to("conversations.history") == []  # a first attempt posts


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ("disconnect", "ServerDisconnectedError"),
        ("503", "Slack answered 503"),  # an HTML page, not Slack's JSON
        ("hang", "no answer within 0.2 s"),
    ],
)
async def test_a_retry_after_a_lost_answer_finds_the_message_and_does_not_post_again(
    http_slack: Harness, answer: str, detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    slack = http_slack
    await slack.command("/goal", "1 post")
    if answer == "hang":  # Slack keeps the message and never answers
        sender_of(slack).timeout = 0.2
    slack.fake.fail_posts(1, stored=True, answer=answer)

    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0  # the outcome is unknown: retry

    [row] = delivery_rows(slack)
    assert (row.status, row.attempts, row.detail) == ("pending", 1, detail)
    assert "Traceback" not in caplog.text
    assert len(slack.fake.calls_to("chat.postMessage")) == 1  # the SDK did not re-post blind
    assert keys_shown(slack) == [f"nudge-{row.id}"]

    assert await slack.tick_at(AFTER_BACKOFF) == 1

    assert keys_shown(slack) == [f"nudge-{row.id}"]  # still one message
    assert len(slack.fake.calls_to("chat.postMessage")) == 1
    [history] = slack.fake.calls_to("conversations.history")
    assert history.args["channel"] == "DU1"
    assert history.args["limit"] == str(HISTORY_LOOKBACK)
    [row] = delivery_rows(slack)
    assert (row.status, row.detail) == ("sent", "an earlier attempt got through")


async def test_a_message_that_never_reached_slack_is_sent_on_the_retry(
    http_slack: Harness,
) -> None:
    slack = http_slack
    await slack.command("/goal", "1 post")
    slack.fake.fail_posts(1, stored=False)

    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0
    assert slack.fake.messages == []

    assert await slack.tick_at(AFTER_BACKOFF) == 1

    [row] = delivery_rows(slack)
    assert keys_shown(slack) == [f"nudge-{row.id}"]
    assert len(slack.fake.calls_to("conversations.history")) == 1  # looked, found nothing
    assert (row.status, row.attempts, row.detail) == ("sent", 2, "")


async def test_a_replica_killed_mid_send_leaves_one_message_for_its_successor(
    http_slack: Harness,
) -> None:
    slack = http_slack
    await slack.command("/goal", "1 post")
    lease = DeliverySettings().lease
    dying = Dispatcher(
        slack.runtime.outbox,
        {Platform.SLACK: slack.adapter.sender},
        slack.runtime.call,
        delivery=DeliverySettings(owner="replica-a"),
    )
    successor = Dispatcher(
        slack.runtime.outbox,
        {Platform.SLACK: slack.adapter.sender},
        slack.runtime.call,
        delivery=DeliverySettings(owner="replica-b"),
    )
    slack.fake.fail_posts(1, stored=True, answer="hang")
    slack.clock.set(THURSDAY_NINE_BERLIN)
    tick = asyncio.ensure_future(dying.tick())
    await wait_until(lambda: slack.fake.messages)  # Slack has the message; no answer yet
    tick.cancel()  # the process dies before it can record anything
    with pytest.raises(asyncio.CancelledError):
        await tick
    [row] = delivery_rows(slack)
    assert (row.status, row.lease_owner) == ("sending", "replica-a")

    slack.clock.set(THURSDAY_NINE_BERLIN + lease + timedelta(seconds=1))
    assert await successor.tick() == 1

    assert keys_shown(slack) == [f"nudge-{row.id}"]
    assert len(slack.fake.calls_to("chat.postMessage")) == 1
    [row] = delivery_rows(slack)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_without_the_history_scope_the_retry_posts_again_and_says_why_once(
    http_slack: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    slack = http_slack
    slack.fake.add_user("T1", "U3", "Europe/Berlin", "Cleo")
    await slack.command("/goal", "1 post")
    await slack.command("/goal", "1 post", user="U3")
    slack.fake.history_error = "missing_scope"  # installed before the app asked for im:history
    slack.fake.fail_posts(2, stored=True)

    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0
    assert await slack.tick_at(AFTER_BACKOFF) == 2

    # A duplicate rather than a miss: the nudge is posted again when nobody can tell.
    assert len(keys_shown(slack)) == len(keys_shown(slack, "U3")) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "im:history" in w] == [
        "Slack refused to read the DM history in workspace T1 (missing_scope): reinstall the "
        "app with the im:history scope, or a nudge whose answer was lost may show twice"
    ]


async def test_a_look_slack_rate_limits_for_long_posts_without_waiting(
    http_slack: Harness,
) -> None:
    slack = http_slack
    await slack.command("/goal", "1 post")
    slack.fake.fail_posts(1, stored=False)
    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0
    slack.fake.history_error = "ratelimited"  # Retry-After: 60, as for one look a minute

    assert await slack.tick_at(AFTER_BACKOFF) == 1

    [row] = delivery_rows(slack)
    assert keys_shown(slack) == [f"nudge-{row.id}"]  # not held back behind the lookups' limit
    assert len(slack.fake.calls_to("conversations.history")) == 1  # no wait in place for 60 s
    assert (row.status, row.attempts) == ("sent", 2)


def disconnected(request: HttpRequest, error: Exception) -> Any:
    return NoBlindRepostRetryHandler()._can_retry_async(
        state=RetryState(), request=request, response=None, error=error
    )


async def test_only_a_post_that_never_left_is_retried_at_once_on_a_connection_error() -> None:
    post = HttpRequest(method="POST", url="http://127.0.0.1/api/chat.postMessage", headers={})
    read = HttpRequest(method="GET", url="http://127.0.0.1/api/users.info", headers={})
    never_connected = ClientConnectorError(
        ConnectionKey("127.0.0.1", 1, False, True, None, None, None), OSError(111, "refused")
    )

    assert not await disconnected(post, ServerDisconnectedError())
    assert await disconnected(post, never_connected)
    assert await disconnected(read, ServerDisconnectedError())
