"""Socket Mode: a websocket that stays down stops the adapter, so `serve` exits 1 and the
process is restarted instead of running on deaf; one the SDK reconnects does not."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.bot.slack.conftest import running_adapter
from tests.fakes.slack_server import FakeSlack, wait_until

QUICK_WATCH = {"socket_check_interval": 0.05, "socket_dead_after": 0.3}


async def test_a_socket_slack_will_not_reopen_stops_the_adapter(
    tmp_path: Path, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_adapter(tmp_path, fake, "socket", QUICK_WATCH) as slack:
        fake.app_tokens.clear()  # the app token was revoked: apps.connections.open refuses it

        with caplog.at_level(logging.ERROR, logger="bot.slack"):
            await fake.drop_socket()
            await asyncio.wait_for(slack.adapter.wait_closed(), 5)

    [error] = [r.getMessage() for r in caplog.records if r.name == "bot.slack.adapter"]
    assert "Socket Mode websocket has been disconnected" in error
    assert "Slack refuses SLACK_APP_TOKEN (invalid_auth)" in error


async def test_a_socket_the_sdk_reconnects_keeps_the_adapter_running(
    tmp_path: Path, fake: FakeSlack
) -> None:
    watch = {"socket_check_interval": 0.05, "socket_dead_after": 0.5}
    async with running_adapter(tmp_path, fake, "socket", watch) as slack:
        await fake.drop_socket()
        await wait_until(lambda: fake.socket_connections == 2)
        await fake.wait_for_socket()

        closed = asyncio.ensure_future(slack.adapter.wait_closed())
        await asyncio.sleep(1.0)  # twice the limit
        assert not closed.done()
        closed.cancel()

        reply = await slack.command("/goal", "1 post")  # served over the new websocket
        assert reply["text"].startswith("Goal set: 1 post a week.")
