"""The fake Slack, a runtime on a SQLite file, and the real Slack adapter connected to both.

``slack`` runs each test twice: in HTTP mode (signed requests to /slack/events) and in Socket
Mode (envelopes down the fake's websocket). The Harness hides which, so one test covers both.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import bootstrap
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import SlackAdapter
from habits.delivery import Dispatcher
from habits.model import ManualClock, MemberRef, Platform
from tests.conftest import MONDAY
from tests.fakes.processes import PROXY_VARIABLES
from tests.fakes.slack_server import (
    SIGNING_SECRET,
    FakeSlack,
    HttpAnswer,
    app_home_opened,
    block_actions,
    event_body,
    form_body,
    interactive_body,
    post_signed,
    slash_command,
    view_submission,
    wait_until,
)

CONTENT_TYPES = {
    "slash_commands": "application/x-www-form-urlencoded",
    "interactive": "application/x-www-form-urlencoded",
    "events_api": "application/json",
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy (the async client ignores NO_PROXY) and no Slack settings from the outside."""
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES or name.startswith(("SLACK_", "DATABASE_URL")):
            monkeypatch.delenv(name)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.add_workspace("T1", "Writers Guild")
    fake.add_user("T1", "U1", "Europe/Berlin", "Ana")
    fake.add_user("T1", "U2", "America/New_York", "Ben")
    await fake.start()
    yield fake
    await fake.close()


def slack_settings(tmp_path: Path, fake: FakeSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'coach.db'}",
        "slack_api_base_url": fake.base_url,
        "http_host": "127.0.0.1",
        "http_port": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Harness:
    """The adapter under test, and Slack's side of the conversation in either mode."""

    def __init__(
        self,
        fake: FakeSlack,
        runtime: Runtime,
        adapter: SlackAdapter,
        clock: ManualClock,
        mode: str,
    ):
        self.fake = fake
        self.runtime = runtime
        self.adapter = adapter
        self.clock = clock
        self.mode = mode
        self.dispatcher = Dispatcher(runtime.outbox, {Platform.SLACK: adapter.sender}, runtime.call)

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.http_port}/slack/events"

    # --- transport -------------------------------------------------------------------------------

    async def deliver(
        self, kind: str, payload: dict[str, Any], retry_attempt: int = 0, envelope_id: str = ""
    ) -> Any:
        """Hand Slack's request to the app; returns the body of the app's answer (or ack)."""
        if self.mode == "socket":
            ack = await self.fake.push(
                kind, payload, retry_attempt=retry_attempt, envelope_id=envelope_id or None
            )
            return ack.get("payload")
        answer = await self.post(kind, payload, retry_attempt=retry_attempt)
        assert answer.status == 200, answer
        return answer.json() if answer.body.startswith("{") else answer.body or None

    async def post(self, kind: str, payload: dict[str, Any], **signing: Any) -> HttpAnswer:
        retry_attempt = signing.pop("retry_attempt", 0)
        if kind == "slash_commands":
            body = form_body(payload)
        elif kind == "interactive":
            body = interactive_body(payload)
        else:
            body = event_body(payload)
        headers = signing.pop("headers", {})
        if retry_attempt:
            headers = {**headers, "X-Slack-Retry-Num": str(retry_attempt)}
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return await post_signed(
            self.events_url, body, CONTENT_TYPES[kind], headers=headers, **signing
        )

    # --- what a member does ----------------------------------------------------------------------

    async def command(
        self,
        command: str,
        text: str = "",
        *,
        user: str = "U1",
        team: str = "T1",
        trigger_id: str = "",
        retry_attempt: int = 0,
        wire_text: str | None = None,
        enterprise: str | None = None,
    ) -> dict[str, Any]:
        """Run a slash command the member typed as ``text`` (Slack escapes it on the way;
        ``wire_text`` is sent as it is); returns what the app posted to the response_url."""
        response_url = self.fake.new_response_url()
        payload = slash_command(
            command,
            text,
            team=team,
            user=user,
            response_url=response_url,
            trigger_id=trigger_id,
            wire_text=wire_text,
            enterprise=enterprise,
        )
        ack = await self.deliver("slash_commands", payload, retry_attempt)
        assert ack is None  # acknowledged with an empty body: the reply comes separately
        responses = self.fake.responses_to(response_url)
        await wait_until(lambda: len(responses) >= 1)
        return responses[0]

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U1",
        team: str = "T1",
        trigger_id: str = "",
        with_response_url: bool = True,
        expect_reply: bool = True,
    ) -> dict[str, Any] | None:
        """Click a button; returns what the app posted to the message's response_url."""
        response_url = self.fake.new_response_url() if with_response_url else None
        payload = block_actions(
            action_id,
            value,
            team=team,
            user=user,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        assert await self.deliver("interactive", payload) is None
        if response_url is None or not expect_reply:
            return None
        responses = self.fake.responses_to(response_url)
        await wait_until(lambda: len(responses) >= 1)
        return responses[0]

    async def submit_publication(
        self,
        link: str | None,
        title: str | None,
        *,
        view_id: str = "",
        user: str = "U1",
        team: str = "T1",
        retry_attempt: int = 0,
    ) -> Any:
        """Submit the *I published* modal; returns the app's ack body."""
        payload = view_submission(
            view_id or f"V{uuid.uuid4().hex[:8]}", link, title, team=team, user=user
        )
        return await self.deliver("interactive", payload, retry_attempt)

    async def open_home(self, *, user: str = "U1", team: str = "T1") -> None:
        await self.deliver("events_api", app_home_opened(team=team, user=user))

    # --- what the engine now says ----------------------------------------------------------------

    async def stored(self, user: str = "U1", team: str = "T1") -> dict[str, Any] | None:
        """The member's export, straight from the engine; None when nothing is stored."""
        reply = await self.runtime.call(
            self.runtime.coach.handle, MemberRef.slack(team, user), "/habit export"
        )
        if reply.attachment is None:
            return None
        data: dict[str, Any] = json.loads(reply.attachment.content)
        return data

    async def tick_at(self, moment: datetime) -> int:
        self.clock.set(moment)
        return await self.dispatcher.tick()


@asynccontextmanager
async def running_adapter(
    tmp_path: Path,
    fake: FakeSlack,
    mode: str,
    adapter_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    settings_values: dict[str, Any] = {"slack_signing_secret": SIGNING_SECRET, **overrides}
    settings_values.setdefault("slack_bot_token", fake.workspace("T1").bot_token)
    if mode == "socket":
        settings_values.setdefault("slack_app_token", fake.add_app_token())
    clock = ManualClock(MONDAY)
    runtime = bootstrap(slack_settings(tmp_path, fake, **settings_values), clock=clock)
    adapter = SlackAdapter(runtime, **(adapter_options or {}))
    try:
        await adapter.start()
        if mode == "socket":
            await fake.wait_for_socket()
        yield Harness(fake, runtime, adapter, clock, mode)
    finally:
        await adapter.close()
        runtime.close()


@pytest.fixture(params=["http", "socket"])
async def slack(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeSlack
) -> AsyncIterator[Harness]:
    async with running_adapter(tmp_path, fake, request.param) as harness:
        yield harness


@pytest.fixture
async def http_slack(tmp_path: Path, fake: FakeSlack) -> AsyncIterator[Harness]:
    async with running_adapter(tmp_path, fake, "http") as harness:
        yield harness


@pytest.fixture
async def socket_slack(tmp_path: Path, fake: FakeSlack) -> AsyncIterator[Harness]:
    async with running_adapter(tmp_path, fake, "socket") as harness:
        yield harness
