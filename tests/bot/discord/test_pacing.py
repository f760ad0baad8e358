"""The Discord sender's pacing against the fake Discord enforcing Discord's REST limits."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.discord import DiscordAdapter
from bot.discord.sender import DiscordPacing, DiscordSender
from bot.runtime import Runtime
from habits.catalogue import M
from habits.delivery import Outcome, SendResult
from habits.messages import Notice, say
from habits.model import DeliveryKind, MemberRef
from tests.bot.discord.conftest import Harness
from tests.fakes.discord_server import FakeDiscord

FIRST = 500_000_000_000_000_000


def sender_of(adapter: DiscordAdapter) -> DiscordSender:
    sender = adapter.sender
    assert isinstance(sender, DiscordSender)
    return sender


def nudge(user_id: int) -> Notice:
    return Notice(MemberRef.discord(user_id), DeliveryKind.NUDGE, (say(M.WELCOME_BACK),))


async def send_all(sender: DiscordSender, users: range) -> list[SendResult]:
    return list(await asyncio.gather(*(sender.send(nudge(user)) for user in users)))


async def test_a_burst_of_first_dms_stays_under_the_global_limit(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    limits = fake.enforce_limits(per_second=50)
    sender = sender_of(adapter)
    users = range(FIRST, FIRST + 60)  # 120 requests: a DM channel each, then the message

    results = await send_all(sender, users)

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert limits.global_429s == []
    assert len(fake.requests_to("POST", "/channels/")) == 60


async def test_the_same_burst_unpaced_hits_the_global_limit(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    # What the coach did before pacing (discord.py alone): the test above can fail.
    limits = fake.enforce_limits(per_second=50)
    sender = sender_of(adapter)
    sender.pacing = None

    await send_all(sender, range(FIRST, FIRST + 60))

    assert len(limits.global_429s) > 0


async def test_a_global_429_pauses_every_send_for_its_retry_after(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    sender = sender_of(adapter)
    scopes: list[str] = []
    sender.on_rate_limited = scopes.append
    limits = fake.enforce_limits(per_second=3)  # a stricter Discord than the bucket expects

    first = await send_all(sender, range(FIRST, FIRST + 3))
    assert len(limits.global_429s) >= 1
    refused_at = limits.global_429s[0]
    assert sender.pacing is not None
    assert sender.pacing.bucket.paused_until >= refused_at + 1.0  # Retry-After: 1 (rounded up)
    assert "global" in scopes

    assert {r.outcome for r in first} == {Outcome.SENT}
    after = [t for t in limits.served if t > refused_at]
    assert after
    assert min(after) >= refused_at + 0.05  # nothing reached Discord straight away


async def test_a_long_route_429_goes_back_as_a_retry_and_is_reported(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    sender = sender_of(adapter)
    scopes: list[str] = []
    sender.on_rate_limited = scopes.append
    fake.rate_limit("/channels/", retry_after=30.0)

    result = await sender.send(nudge(FIRST))

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == timedelta(seconds=30)
    assert scopes == ["route"]
    assert sender.pacing is not None
    assert sender.pacing.bucket.paused_until < time.monotonic()  # a route limit is not global


async def test_a_send_that_cannot_have_its_tokens_in_time_goes_back_without_a_request(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    sender = sender_of(adapter)
    sender.pacing = DiscordPacing(requests_per_second=1, burst=2)
    sender.max_pacing_wait = 0.5
    assert (await sender.send(nudge(FIRST))).outcome is Outcome.SENT  # the burst: 2 requests
    posts = len(fake.requests)
    started = time.monotonic()

    result = await sender.send(nudge(FIRST + 1))  # 2 more tokens: 2 s away

    assert time.monotonic() - started < 0.5  # told at once, not after waiting
    assert result.outcome is Outcome.RETRY
    assert result.retry_after is not None
    assert timedelta(seconds=1.5) <= result.retry_after <= timedelta(seconds=2)
    assert len(fake.requests) == posts


async def test_the_invalid_request_budget_is_never_crossed(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    limits = fake.enforce_limits(per_second=50)
    sender = sender_of(adapter)
    sender.pacing = DiscordPacing(invalid_budget=20)
    closed = range(FIRST, FIRST + 40)
    for user in closed:
        fake.close_dms(user)
    started = time.monotonic()

    results = await send_all(sender, closed)

    outcomes = [r.outcome for r in results]
    assert 10 <= outcomes.count(Outcome.UNREACHABLE) <= 20
    held = [r for r in results if r.outcome is Outcome.RETRY]
    assert held, "some sends must wait for the budget"
    # Back when old answers leave the window, or (budget held by sends in flight) in a second.
    assert all(r.retry_after is not None and r.retry_after >= timedelta(seconds=1) for r in held)
    assert len(limits.invalid) <= 20  # what Discord counted
    assert sender.pacing.invalid.count() == len(limits.invalid)  # the governor saw them all
    assert limits.invalid
    assert limits.invalid[0][0] >= started


async def test_nearing_the_budget_slows_sending(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    sender = sender_of(adapter)
    sender.pacing = pacing = DiscordPacing(invalid_budget=40)
    for user in range(FIRST, FIRST + 25):
        fake.close_dms(user)

    for user in range(FIRST, FIRST + 25):
        assert (await sender.send(nudge(user))).outcome is Outcome.UNREACHABLE

    assert pacing.invalid.count() == 25
    # Half the budget (20) was passed: 5 of the 20 left are used, so a quarter of the speed.
    assert pacing.bucket.rate == pytest.approx(pacing.ceiling * (40 - 25) / 20)


async def test_a_replica_paces_at_the_share_of_the_shards_it_holds(harness: Harness) -> None:
    runtime = harness.runtime(
        discord_shard_count=3,
        discord_shard_ids=(1,),
        discord_requests_per_second=45.0,
        discord_invalid_request_budget=900,
    )
    pacing = sender_of(DiscordAdapter(runtime)).pacing

    assert pacing is not None
    assert pacing.ceiling == pytest.approx(15.0)
    assert pacing.invalid_budget == 300


async def test_a_process_holding_every_shard_paces_at_the_whole_budget(harness: Harness) -> None:
    runtime = harness.runtime(discord_requests_per_second=40.0)
    pacing = sender_of(DiscordAdapter(runtime)).pacing

    assert pacing is not None
    assert pacing.ceiling == pytest.approx(40.0)


async def test_a_send_is_cut_off_at_the_send_timeout_setting(harness: Harness) -> None:
    runtime = harness.runtime(send_timeout_seconds=4.0, delivery_lease_seconds=15.0)
    sender = sender_of(DiscordAdapter(runtime))

    assert sender.send_timeout == 4.0
    assert sender.max_pacing_wait == 2.0  # half of it waits for tokens at most


async def test_every_429_the_sender_sees_is_counted_in_the_metrics(
    fake: FakeDiscord, adapter: DiscordAdapter, runtime: Runtime
) -> None:
    fake.rate_limit("/channels/", retry_after=30.0)

    await sender_of(adapter).send(nudge(FIRST))

    assert runtime.metrics is not None
    families = {
        family.name: family
        for family in text_string_to_metric_families(runtime.metrics.render().decode())
    }
    counted = {
        (sample.labels["platform"], sample.labels["scope"]): sample.value
        for sample in families["habit_coach_rate_limited"].samples
        if sample.name.endswith("_total")
    }
    assert counted == {("discord", "route"): 1.0}
