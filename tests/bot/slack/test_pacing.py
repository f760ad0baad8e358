"""The Slack sender's pacing and 429 handling against the fake Slack with its limits on."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import bootstrap
from bot.slack import SlackAdapter
from bot.slack.sender import SlackPacing, SlackSender, make_client
from habits.catalogue import M
from habits.delivery import Outcome, SendResult
from habits.messages import NUDGE_ACTIONS, Notice, say
from habits.model import DeliveryKind, MemberRef
from tests.bot.slack.conftest import slack_settings
from tests.fakes.slack_server import FakeSlack

PROGRESS = (say(M.PROGRESS, count=0, target=1, left=say(M.DAYS_LEFT, count=3)),)


class Sending:
    """A paced SlackSender on the fake's workspaces, and the 429 scopes it reported."""

    def __init__(self, fake: FakeSlack, pacing: SlackPacing | None = None):
        self.fake = fake
        self.scopes: list[str] = []
        self.clients: dict[str, AsyncWebClient] = {}
        self.sender = SlackSender(
            self.client_for, pacing=pacing or SlackPacing(), on_rate_limited=self.scopes.append
        )

    async def client_for(self, team_id: str) -> AsyncWebClient | None:
        if team_id not in self.clients:
            token = self.fake.workspace(team_id).bot_token
            self.clients[team_id] = make_client(token, self.fake.base_url)
        return self.clients[team_id]

    async def send(self, user: str, team: str = "T1") -> SendResult:
        notice = Notice(MemberRef.slack(team, user), DeliveryKind.NUDGE, PROGRESS, NUDGE_ACTIONS)
        return await self.sender.send(notice)

    @property
    def pacing(self) -> SlackPacing:
        assert self.sender.pacing is not None
        return self.sender.pacing


@pytest.fixture
def sending(fake: FakeSlack) -> Sending:
    for index in range(3, 13):
        fake.add_user("T1", f"U{index}", "Europe/Berlin")
    return Sending(fake)


async def test_a_short_429_is_waited_out_reported_and_slows_the_workspace(
    sending: Sending, fake: FakeSlack
) -> None:
    fake.rate_limits.append(1)

    result = await sending.send("U1")

    assert result.outcome is Outcome.SENT
    assert sending.scopes == ["workspace"]
    workspace = sending.pacing.workspace("T1")
    assert workspace.rate == pytest.approx(sending.pacing.start / 2, rel=0.01)
    assert workspace.paused_until > time.monotonic() - 1  # paused for the Retry-After


async def test_a_long_429_pauses_the_workspace_for_everyone_without_asking_slack(
    sending: Sending, fake: FakeSlack
) -> None:
    fake.rate_limits.append(30)

    first = await sending.send("U1")
    calls = len(fake.calls_to("chat.postMessage"))
    second = await sending.send("U2")

    assert first.outcome is Outcome.RETRY
    assert first.retry_after == timedelta(seconds=30)
    assert second.outcome is Outcome.RETRY
    assert second.retry_after is not None
    assert timedelta(seconds=25) < second.retry_after <= timedelta(seconds=30)
    assert len(fake.calls_to("chat.postMessage")) == calls  # U2's DM never went out
    assert sending.scopes == ["workspace"]


async def test_a_pause_in_one_workspace_leaves_the_others_alone(
    sending: Sending, fake: FakeSlack
) -> None:
    fake.add_workspace("T2")
    fake.add_user("T2", "W1", "Europe/Berlin")
    fake.rate_limits.append(30)
    assert (await sending.send("U1")).outcome is Outcome.RETRY

    assert (await sending.send("W1", team="T2")).outcome is Outcome.SENT


async def test_two_dms_to_one_member_are_a_second_apart_instead_of_a_429(
    sending: Sending, fake: FakeSlack
) -> None:
    # The fake refuses a second message within 0.8 s (Slack: about 1 s): the sender's 1.1 s
    # spacing leaves room for a loaded machine delaying the first request on its way.
    fake.enforce_limits(channel_interval=0.8)
    loop = asyncio.get_running_loop()
    started = loop.time()

    results = await asyncio.gather(sending.send("U1"), sending.send("U1"))

    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert fake.limited == []
    assert loop.time() - started >= 0.95


async def test_a_second_dm_to_a_channel_slack_refuses_pauses_only_that_channel(
    fake: FakeSlack,
) -> None:
    # Another replica posted to U1 a moment ago: our spacing did not know, Slack did.
    sending = Sending(fake, SlackPacing(channel_interval=0.5))
    fake.enforce_limits(channel_interval=8.0)
    assert (await sending.send("U1")).outcome is Outcome.SENT

    again = await sending.send("U1")

    assert again.outcome is Outcome.RETRY  # Retry-After: 8, too long to wait in place
    assert sending.scopes == ["channel"]
    assert sending.pacing.workspace("T1").rate >= sending.pacing.start  # not halved
    assert sending.pacing.channel("T1", "U1").delay() > 5
    assert (await sending.send("U2")).outcome is Outcome.SENT  # the workspace goes on


async def test_a_workspace_cap_below_the_start_rate_is_found_and_honoured(
    sending: Sending, fake: FakeSlack
) -> None:
    fake.enforce_limits(channel_interval=None, workspace_cap=(2, 1.0))
    users = [f"U{index}" for index in range(1, 9)]

    results = await asyncio.gather(*(sending.send(user) for user in users))

    sent = [r for r in results if r.outcome is Outcome.SENT]
    # A retry the SDK makes in place can meet the cap again: that send comes back to the engine.
    assert all(r.retry_after is not None for r in results if r.outcome is not Outcome.SENT)
    assert len(sent) >= len(users) - 2
    assert 1 <= len(fake.limited) < len(users)
    assert set(sending.scopes) == {"workspace"}
    assert len(sending.scopes) == len(fake.limited)  # every 429 reported once
    assert sending.pacing.workspace("T1").rate < sending.pacing.start


async def test_a_send_that_cannot_have_its_turn_in_time_goes_back_without_a_request(
    fake: FakeSlack,
) -> None:
    sending = Sending(fake, SlackPacing(channel_interval=5.0))
    sending.sender.max_pacing_wait = 0.5
    assert (await sending.send("U1")).outcome is Outcome.SENT
    started = time.monotonic()

    result = await sending.send("U1")

    assert time.monotonic() - started < 0.3
    assert result.outcome is Outcome.RETRY
    assert result.retry_after is not None
    assert timedelta(seconds=4) < result.retry_after <= timedelta(seconds=5)
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_the_adapters_sender_paces_by_the_setting_and_counts_429s_in_the_metrics(
    tmp_path: Path, fake: FakeSlack
) -> None:
    runtime = bootstrap(
        slack_settings(
            tmp_path,
            fake,
            slack_workspace_messages_per_second=6.0,
            send_timeout_seconds=4.0,
            delivery_lease_seconds=15.0,
        )
    )
    try:
        sender = SlackAdapter(runtime).sender
        assert isinstance(sender, SlackSender)
        assert sender.timeout == 4.0  # SEND_TIMEOUT_SECONDS cuts each send off
        assert sender.pacing is not None
        assert sender.pacing.ceiling == pytest.approx(6.0)
        assert sender.on_rate_limited is not None

        sender.on_rate_limited("workspace")

        assert runtime.metrics is not None
        exposition = runtime.metrics.render().decode()
        assert (
            'habit_coach_rate_limited_total{platform="slack",scope="workspace"} 1.0' in exposition
        )
    finally:
        runtime.close()
