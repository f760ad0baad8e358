"""Nudges as Block Kit DMs, a click on each button, the *I published* modal, and delivery
failures (rate limits, closed DMs) — in HTTP mode and in Socket Mode where it applies."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy import select

from bot.slack.sender import (
    MAX_INLINE_RATE_LIMIT_WAIT,
    SEND_TIMEOUT,
    BriefRateLimitRetryHandler,
    SlackPacing,
    SlackSender,
)
from habits.catalogue import M
from habits.delivery import DeliverySettings, Outcome
from habits.messages import NUDGE_ACTIONS, OOPS_REPLY, Notice, Reply, say
from habits.model import MAX_TITLE, MAX_URL, DeliveryKind, MemberRef
from storage.database import make_engine
from storage.tables import deliveries, members
from tests.bot.slack.conftest import Harness
from tests.fakes.slack_server import wait_until

# Thursday 09:00 in Berlin, when a member who set a goal on Monday gets the first nudge.
THURSDAY_NINE_BERLIN = datetime(2026, 11, 26, 8, 0, 30, tzinfo=UTC)

PROGRESS = (say(M.PROGRESS, count=0, target=1, left=say(M.DAYS_LEFT, count=3)),)


async def nudged(slack: Harness, user: str = "U1") -> dict[str, Any]:
    await slack.command("/goal", "1 post", user=user)
    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 1
    [message] = slack.fake.messages_to("T1", user)
    return message


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions["elements"]}


def delivery_rows(slack: Harness) -> list[Any]:
    engine = make_engine(slack.runtime.settings.database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(deliveries).order_by(deliveries.c.id)))
    finally:
        engine.dispose()


async def test_a_nudge_arrives_as_a_dm_with_its_buttons(slack: Harness) -> None:
    message = await nudged(slack)

    assert message["channel"] == "U1"  # chat.postMessage to the user id: the app's DM
    assert message["text"].startswith("0 of 1 this week, ")
    assert "Tiny next step:" in message["text"]
    # The heading in mrkdwn, then the body (the step names the member's label: plain text).
    assert message["blocks"][0]["text"]["text"] == ":seedling: *A tiny nudge*"
    assert message["blocks"][1]["text"]["text"].startswith("0 of 1")
    assert list(buttons(message)) == [
        "habit_published",
        "habit_snooze_later",
        "habit_snooze_tomorrow",
        "habit_smaller_step",
    ]
    assert [b["value"] for b in buttons(message).values()] == [
        a.command.typed for a in NUDGE_ACTIONS
    ]
    assert [row.status for row in delivery_rows(slack)][-1] == "sent"


async def test_i_published_opens_the_modal_and_its_submission_logs(slack: Harness) -> None:
    button = buttons(await nudged(slack))["habit_published"]

    answer = await slack.click(
        button["action_id"], button["value"], trigger_id="trigger.pub", expect_reply=False
    )
    assert answer is None

    await wait_until(lambda: slack.fake.opened_views)
    [opened] = slack.fake.opened_views
    assert opened["trigger_id"] == "trigger.pub"
    assert opened["view"]["callback_id"] == "habit_publish"
    assert [b["block_id"] for b in opened["view"]["blocks"]] == ["link", "title"]
    limits = [b["element"]["max_length"] for b in opened["view"]["blocks"]]
    assert limits == [MAX_URL, MAX_TITLE]  # the engine's limits, within Slack's 3,000

    ack = await slack.submit_publication("https://example.com/post", "My post", view_id="V7")

    assert ack is None  # the modal closes
    await wait_until(lambda: len(slack.fake.messages_to("T1", "U1")) == 2)
    confirmation = slack.fake.messages_to("T1", "U1")[-1]
    assert confirmation["text"].startswith("Logged “My post”. 1 of 1 this week — goal met!")
    stored = await slack.stored()
    assert stored is not None
    [publication] = stored["publications"]
    assert publication["url"] == "https://example.com/post"
    assert publication["source"] == "button"


async def test_a_bad_link_in_the_modal_is_shown_on_the_field_and_nothing_is_stored(
    slack: Harness,
) -> None:
    await slack.command("/goal", "1 post")

    ack = await slack.submit_publication("htp:/broken", "My post")

    assert ack["response_action"] == "errors"
    assert "“htp:/broken” doesn't look like a web link" in ack["errors"]["link"]
    stored = await slack.stored()
    assert stored is not None
    assert stored["publications"] == []
    # A confirmation DM would follow the ack: wait for a later member's one, then assert.
    assert await slack.submit_publication("https://example.com/b", "B", user="U2") is None
    await wait_until(lambda: slack.fake.messages_to("T1", "U2"))
    assert slack.fake.messages_to("T1", "U1") == []


async def test_snooze_later_and_tomorrow_move_the_next_nudge(slack: Harness) -> None:
    found = buttons(await nudged(slack))

    later = await slack.click("habit_snooze_later", found["habit_snooze_later"]["value"])
    assert later is not None
    assert later["response_type"] == "ephemeral"
    assert later["replace_original"] is False  # the nudge and its buttons stay
    assert later["text"] == "Snoozed — I'll nudge you again Thu 26 Nov 12:00."
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["nudges"]["next_nudge_at"] == "2026-11-26T11:00:30+00:00"

    tomorrow = await slack.click("habit_snooze_tomorrow", found["habit_snooze_tomorrow"]["value"])
    assert tomorrow is not None
    assert tomorrow["text"] == "Snoozed — I'll nudge you again Fri 27 Nov 09:00."
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["nudges"]["next_nudge_at"] == "2026-11-27T08:00:00+00:00"


async def test_smaller_step_offers_an_even_smaller_one(slack: Harness) -> None:
    found = buttons(await nudged(slack))

    reply = await slack.click("habit_smaller_step", found["habit_smaller_step"]["value"])

    assert reply is not None
    assert reply["text"].startswith(("Even smaller: ", "That's the smallest step"))


async def test_the_smaller_goal_button_of_a_checkin_changes_the_goal(slack: Harness) -> None:
    await slack.command("/goal", "3 posts")

    reply = await slack.click("habit_smaller_goal", "/goal 2")

    assert reply is not None
    assert reply["text"].startswith("Goal set: 2 posts a week.")
    stored = await slack.stored()
    assert stored is not None
    assert stored["member"]["goal"]["target"] == 2


async def test_a_click_on_the_app_home_button_opens_the_modal_without_a_response_url(
    slack: Harness,
) -> None:
    await slack.click("habit_published", "/published", with_response_url=False)

    await wait_until(lambda: slack.fake.opened_views)
    assert slack.fake.opened_views[0]["view"]["callback_id"] == "habit_publish"


async def test_a_short_429_is_waited_out_and_the_nudge_is_sent(slack: Harness) -> None:
    slack.fake.rate_limits.append(0)  # one 429 with Retry-After: 0

    message = await nudged(slack)

    assert message["text"].startswith("0 of 1 this week")
    assert len(slack.fake.calls_to("chat.postMessage")) == 2
    assert [row.status for row in delivery_rows(slack)][-1] == "sent"


async def test_a_long_429_is_retried_after_retry_after(slack: Harness) -> None:
    sender = slack.adapter.sender
    assert isinstance(sender, SlackSender)
    # The sender pauses the workspace for the Retry-After: on the test's clock, so it can pass.
    sender.pacing = SlackPacing(clock=lambda: slack.clock.now().timestamp())
    await slack.command("/goal", "1 post")
    slack.fake.rate_limits.append(120)
    notice = Notice(MemberRef.slack("T1", "U1"), DeliveryKind.NUDGE, PROGRESS, NUDGE_ACTIONS)

    result = await slack.adapter.sender.send(notice)

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == timedelta(seconds=120)
    assert slack.fake.messages == []

    slack.fake.rate_limits.append(120)
    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0
    [row] = delivery_rows(slack)
    assert row.status == "pending"
    assert row.not_before == THURSDAY_NINE_BERLIN + timedelta(seconds=120)
    assert len(slack.fake.calls_to("chat.postMessage")) == 2  # no wait in place for 2 minutes

    assert await slack.tick_at(THURSDAY_NINE_BERLIN + timedelta(seconds=121)) == 1
    assert len(slack.fake.messages_to("T1", "U1")) == 1


async def test_a_member_whose_dms_are_closed_is_marked_unreachable(slack: Harness) -> None:
    slack.fake.undeliverable["U1"] = "messages_tab_disabled"
    await slack.command("/goal", "1 post")

    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0

    assert slack.fake.messages == []
    engine = make_engine(slack.runtime.settings.database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            unreachable = connection.execute(
                select(members.c.unreachable).where(members.c.user_id == "U1")
            ).scalar_one()
    finally:
        engine.dispose()
    assert unreachable is True
    [row] = delivery_rows(slack)
    assert row.detail == "messages_tab_disabled"


async def test_a_failure_after_the_modal_closed_is_told_in_a_dm(
    slack: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Reply:
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(slack.runtime.coach, "publish_form", broken)

    assert await slack.submit_publication("https://example.com/a", "A") is None

    await wait_until(lambda: slack.fake.messages_to("T1", "U1"))
    [told] = slack.fake.messages_to("T1", "U1")
    assert told["text"] == OOPS_REPLY.text
    assert "the I published form failed" in caplog.text
    assert "RuntimeError: the database fell over" in caplog.text


@pytest.mark.parametrize(
    "error",
    [
        "channel_not_found",
        "user_not_found",
        "cannot_dm_bot",
        "messages_tab_disabled",
        "user_disabled",
        "is_archived",
    ],
)
async def test_errors_about_one_member_make_only_that_member_unreachable(
    slack: Harness, error: str
) -> None:
    slack.fake.add_user("T1", "U3", "Europe/Berlin", "Cleo")
    slack.fake.undeliverable["U1"] = error
    await slack.command("/goal", "1 post")
    await slack.command("/goal", "1 post", user="U3")

    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 1  # U3's nudge still goes out

    assert unreachable(slack) == {"U1": True, "U3": False}
    assert [m["user"] for m in slack.fake.messages] == ["U3"]


@pytest.mark.parametrize(
    "error",
    [
        "token_revoked",
        "app_uninstalled",
        "account_inactive",
        "team_not_found",
        "team_access_not_granted",
        "invalid_auth",
        "not_authed",
    ],
)
async def test_errors_about_the_workspace_retry_in_an_hour_and_mark_nobody_unreachable(
    slack: Harness, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fake.undeliverable["U1"] = error
    await slack.command("/goal", "1 post")

    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0

    assert unreachable(slack) == {"U1": False}
    [row] = delivery_rows(slack)
    assert row.status == "pending"
    assert row.not_before == THURSDAY_NINE_BERLIN + timedelta(hours=1)
    assert row.detail == error
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "workspace T1" in logged.getMessage()
    assert error in logged.getMessage()


async def test_a_revoked_bot_token_stops_nobodys_nudges_for_good(
    slack: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fake.add_user("T1", "U3", "Europe/Berlin", "Cleo")
    await slack.command("/goal", "1 post")
    await slack.command("/goal", "1 post", user="U3")
    token = slack.fake.workspace("T1").bot_token
    slack.fake.revoked_tokens.add(token)

    assert await slack.tick_at(THURSDAY_NINE_BERLIN) == 0

    assert unreachable(slack) == {"U1": False, "U3": False}
    assert {row.status for row in delivery_rows(slack)} == {"pending"}
    assert "token_revoked" in caplog.text
    assert token not in caplog.text  # the log names the workspace, never the token

    slack.fake.revoked_tokens.clear()  # an admin fixed the app
    assert await slack.tick_at(THURSDAY_NINE_BERLIN + timedelta(hours=1, seconds=1)) == 2


async def test_a_send_that_hangs_is_given_up_well_inside_the_lease(slack: Harness) -> None:
    assert DeliverySettings().lease.total_seconds() / 2 >= SEND_TIMEOUT
    await slack.command("/goal", "1 post")
    gate = slack.fake.post_message_gate = asyncio.Event()  # Slack accepts, then says nothing
    sender = slack.adapter.sender
    assert isinstance(sender, SlackSender)
    sender.timeout = 0.2
    notice = Notice(MemberRef.slack("T1", "U1"), DeliveryKind.NUDGE, PROGRESS, NUDGE_ACTIONS)

    try:
        result = await sender.send(notice)
    finally:
        gate.set()

    assert result.outcome is Outcome.RETRY
    assert result.detail == "no answer within 0.2 s"
    assert result.retry_after is None  # the engine's backoff applies


async def test_a_rate_limit_is_waited_out_in_place_only_when_short() -> None:
    handler = BriefRateLimitRetryHandler(max_wait=0.2)
    request = HttpRequest(method="POST", url="http://127.0.0.1/api/chat.postMessage", headers={})

    def limited(seconds: str) -> HttpResponse:
        return HttpResponse(status_code=429, headers={"Retry-After": seconds})

    state = RetryState()
    assert await handler._can_retry_async(state=state, request=request, response=limited("0.2"))
    assert not await handler._can_retry_async(state=state, request=request, response=limited("0.3"))
    assert MAX_INLINE_RATE_LIMIT_WAIT <= 5

    started = time.monotonic()
    await handler.prepare_for_next_attempt_async(
        state=state, request=request, response=limited("0.2")
    )
    assert time.monotonic() - started < 0.6  # no second of jitter on top
    assert state.next_attempt_requested


def unreachable(slack: Harness) -> dict[str, bool]:
    engine = make_engine(slack.runtime.settings.database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(members.c.user_id, members.c.unreachable))
            return {row.user_id: bool(row.unreachable) for row in rows}
    finally:
        engine.dispose()


async def test_a_failing_button_outside_a_message_is_told_in_a_dm(
    slack: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Reply:
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(slack.runtime.coach, "handle", broken)

    await slack.click("habit_snooze_later", "/nudges snooze later", with_response_url=False)

    await wait_until(lambda: slack.fake.messages_to("T1", "U1"))
    assert [m["text"] for m in slack.fake.messages_to("T1", "U1")] == [OOPS_REPLY.text]
    assert "button snooze_later failed" in caplog.text
