"""HTTP mode: Slack's request signatures and start-up refusals; redelivered requests (HTTP
retries with X-Slack-Retry-Num, Socket Mode envelopes with retry_attempt) log once."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import aiohttp
import pytest

from bot.adapters import AdapterError
from bot.bootstrap import bootstrap
from bot.slack import SlackAdapter
from habits.model import ManualClock
from tests.bot.slack.conftest import Harness, slack_settings
from tests.conftest import MONDAY
from tests.fakes.slack_server import (
    SIGNING_SECRET,
    FakeSlack,
    app_home_opened,
    form_body,
    post_signed,
    signature,
    slash_command,
    wait_until,
)

FORM = "application/x-www-form-urlencoded"


async def test_a_correctly_signed_command_is_served(http_slack: Harness) -> None:
    response_url = http_slack.fake.new_response_url()
    body = form_body(
        slash_command("/goal", "1 post", team="T1", user="U1", response_url=response_url)
    )

    answer = await post_signed(http_slack.events_url, body, "application/x-www-form-urlencoded")

    assert answer.status == 200
    assert answer.body == ""  # acknowledged at once; the reply goes to the response_url
    responses = http_slack.fake.responses_to(response_url)
    await wait_until(lambda: responses)
    assert responses[0]["text"].startswith("Goal set: 1 post a week.")
    assert await http_slack.stored() is not None


@pytest.mark.parametrize(
    ("secret", "age"),
    [
        pytest.param("not-the-signing-secret", 0, id="wrong-signature"),
        pytest.param(SIGNING_SECRET, 301, id="stale-timestamp"),
        pytest.param(SIGNING_SECRET, -301, id="future-timestamp"),
    ],
)
async def test_badly_signed_requests_get_401_and_store_nothing(
    http_slack: Harness, secret: str, age: int
) -> None:
    response_url = http_slack.fake.new_response_url()
    body = form_body(
        slash_command("/goal", "1 post", team="T1", user="U1", response_url=response_url)
    )

    answer = await post_signed(
        http_slack.events_url,
        body,
        "application/x-www-form-urlencoded",
        secret=secret,
        timestamp=int(time.time()) - age,
    )

    assert answer.status == 401
    assert await http_slack.stored() is None
    assert http_slack.fake.responses_to(response_url) == []
    assert http_slack.fake.calls_to("users.info") == []


async def test_a_body_changed_after_signing_is_refused(http_slack: Harness) -> None:
    response_url = http_slack.fake.new_response_url()
    fields = slash_command("/goal", "1 post", team="T1", user="U1", response_url=response_url)
    ts = int(time.time())
    signed = signature(SIGNING_SECRET, ts, form_body(fields))
    tampered = form_body({**fields, "text": "21 posts"})

    answer = await post_signed(
        http_slack.events_url,
        tampered,
        "application/x-www-form-urlencoded",
        headers={"X-Slack-Signature": signed, "X-Slack-Request-Timestamp": str(ts)},
    )

    assert answer.status == 401
    assert await http_slack.stored() is None


async def test_socket_mode_resending_the_same_published_envelope_logs_once(
    socket_slack: Harness,
) -> None:
    """Socket Mode redelivers an envelope it saw no ack for: the same envelope id and payload
    (trigger id, response_url) again, with ``retry_attempt`` and ``retry_reason``."""
    fake = socket_slack.fake
    response_url = fake.new_response_url()
    payload = slash_command(
        "/published",
        "https://example.com/a A&B",
        team="T1",
        user="U1",
        response_url=response_url,
        trigger_id="trigger.resent",
    )
    responses = fake.responses_to(response_url)

    first = await fake.push("slash_commands", payload, envelope_id="envelope-1")
    await wait_until(lambda: len(responses) == 1)
    again = await fake.push("slash_commands", payload, envelope_id="envelope-1", retry_attempt=1)
    await wait_until(lambda: len(responses) == 2)

    assert first == again == {"envelope_id": "envelope-1"}
    assert responses[0]["text"].startswith("Logged “A&amp;B”.")
    assert responses[1]["text"].startswith("Already logged — that was the same request again.")
    stored = await socket_slack.stored()
    assert stored is not None
    assert [(p["url"], p["title"]) for p in stored["publications"]] == [
        ("https://example.com/a", "A&B")
    ]


async def test_an_events_api_retry_over_http_is_served_and_stores_nothing(
    http_slack: Harness,
) -> None:
    """The Events API retries an event it got no 200 for, with X-Slack-Retry-Num; the one
    event we take (app_home_opened) only publishes the Home tab, so serving it again is safe."""
    event = app_home_opened(team="T1", user="U1")

    first = await http_slack.post("events_api", event)
    again = await http_slack.post("events_api", event, retry_attempt=1)

    assert (first.status, again.status) == (200, 200)
    await wait_until(lambda: len(http_slack.fake.homes_of("T1", "U1")) == 2)
    views = http_slack.fake.homes_of("T1", "U1")
    assert views[0] == views[1]
    assert await http_slack.stored() is None


async def test_a_redelivered_modal_submission_logs_the_publication_once(
    slack: Harness,
) -> None:
    """Defensive: Slack does not retry view submissions, but a double click or a proxy might
    deliver the same view twice; its view id keeps the publication single."""
    await slack.command("/goal", "2 posts")

    first = await slack.submit_publication("https://example.com/a", "A", view_id="V42")
    again = await slack.submit_publication(
        "https://example.com/a", "A", view_id="V42", retry_attempt=1
    )

    assert first is None
    assert again is None
    await wait_until(lambda: len(slack.fake.messages_to("T1", "U1")) == 2)
    texts = [m["text"] for m in slack.fake.messages_to("T1", "U1")]
    assert texts[0].startswith("Logged “A”. 1 of 2 this week")
    assert texts[1].startswith("Already logged — that was the same request again.")
    stored = await slack.stored()
    assert stored is not None
    assert len(stored["publications"]) == 1


async def test_a_redelivered_slash_command_over_http_logs_the_publication_once(
    http_slack: Harness,
) -> None:
    """Defensive: Slack does not retry slash commands over HTTP, but a proxy in front of the
    app might; the trigger id keeps the publication single."""
    await http_slack.command("/published", "Untitled draft", trigger_id="trigger.1")
    again = await http_slack.command(
        "/published", "Untitled draft", trigger_id="trigger.1", retry_attempt=1
    )

    assert again["text"].startswith("Already logged — that was the same request again.")
    stored = await http_slack.stored()
    assert stored is not None
    assert len(stored["publications"]) == 1


async def test_http_mode_without_a_signing_secret_refuses_to_start(
    tmp_path: Path, fake: FakeSlack
) -> None:
    settings = slack_settings(tmp_path, fake, slack_bot_token=fake.workspace("T1").bot_token)
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    adapter = SlackAdapter(runtime)
    try:
        with pytest.raises(AdapterError, match="SLACK_SIGNING_SECRET"):
            await adapter.start()
        assert adapter.http_port is None
        assert fake.calls == []
    finally:
        await adapter.close()
        await adapter.close()  # twice is fine
        runtime.close()


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_a_refused_bot_token_stops_the_start(
    tmp_path: Path, fake: FakeSlack, mode: str
) -> None:
    extra = {"slack_app_token": fake.add_app_token()} if mode == "socket" else {}
    settings = slack_settings(
        tmp_path,
        fake,
        slack_bot_token="xoxb-test-revoked-not-a-real-token",
        slack_signing_secret=SIGNING_SECRET,
        **extra,
    )
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    adapter = SlackAdapter(runtime)
    try:
        with pytest.raises(AdapterError, match=r"refused SLACK_BOT_TOKEN \(invalid_auth\)"):
            await adapter.start()
        assert fake.socket_connections == 0
    finally:
        await adapter.close()
        runtime.close()


async def test_a_refused_app_token_stops_the_start(tmp_path: Path, fake: FakeSlack) -> None:
    settings = slack_settings(
        tmp_path,
        fake,
        slack_bot_token=fake.workspace("T1").bot_token,
        slack_app_token="xapp-test-unknown-not-a-real-token",
    )
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    adapter = SlackAdapter(runtime)
    try:
        with pytest.raises(AdapterError, match=r"refused SLACK_APP_TOKEN \(invalid_auth\)"):
            await adapter.start()
        assert adapter.name == "Slack (Socket Mode)"
        assert fake.socket_connections == 0
    finally:
        await adapter.close()
        runtime.close()


# --- malformed requests ------------------------------------------------------------------------

UNSIGNED = [
    pytest.param(b"{not json", "application/json", {}, id="not-json"),
    pytest.param(b"payload=%7B", FORM, {}, id="half-a-payload"),
    pytest.param(
        b"command=%2Fgoal",
        FORM,
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
        id="timestamp-abc",
    ),
    pytest.param(b"\xff\xfe\xfa", FORM, {}, id="not-utf-8"),
    pytest.param(b"", FORM, {}, id="empty"),
]
SIGNED_BUT_UNREADABLE = [
    pytest.param(b"{not json", "application/json", id="not-json"),
    pytest.param(b"payload=%7B", FORM, id="half-a-payload"),
    pytest.param(b"\xff\xfe\xfa", FORM, id="not-utf-8"),
]


def app_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("bot.", "aiohttp", "slack_bolt"))]


@pytest.mark.parametrize(("body", "content_type", "headers"), UNSIGNED)
async def test_unsigned_malformed_requests_get_401_and_a_hundred_log_one_line(
    http_slack: Harness,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> None:
    caplog.set_level(logging.INFO)
    statuses = set()
    async with aiohttp.ClientSession(trust_env=False) as session:
        for _ in range(100):
            async with session.post(
                http_slack.events_url,
                data=body,
                headers={"Content-Type": content_type, **headers},
            ) as answer:
                statuses.add(answer.status)

    assert statuses == {401}
    [line] = app_lines(caplog)
    assert "not signed by Slack" in line.getMessage()
    assert line.exc_info is None
    assert "Traceback" not in caplog.text
    assert http_slack.fake.calls_to("auth.test")[1:] == []  # nothing past the start-up check


@pytest.mark.parametrize(("body", "content_type"), SIGNED_BUT_UNREADABLE)
async def test_signed_requests_that_cannot_be_read_get_400_and_one_line(
    http_slack: Harness, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    caplog.set_level(logging.INFO)
    answers = [await post_signed(http_slack.events_url, body, content_type) for _ in range(20)]

    assert {a.status for a in answers} == {400}
    [line] = app_lines(caplog)
    assert "could not be read" in line.getMessage()
    assert "Traceback" not in caplog.text
    assert await http_slack.stored() is None


async def test_a_client_that_hangs_up_halfway_leaves_no_traceback(
    http_slack: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", http_slack.adapter.http_port)
        writer.write(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"type": "event_callback", "ev'
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    await http_slack.command("/goal", "1 post")  # still serving

    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len([r for r in app_lines(caplog) if r.levelno >= logging.INFO]) <= 2
