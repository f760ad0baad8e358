"""Discord and Slack in one process: one engine, one scheduler, both fakes on loopback.

The real adapters of `habit-coach run` talk to the project's fake Discord and fake Slack.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.discord import DiscordAdapter
from bot.serve import serve
from bot.settings import Settings
from bot.slack import SlackAdapter
from habits.model import ManualClock
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.processes import PROXY_VARIABLES, run_env
from tests.fakes.slack_server import FakeSlack, slash_command, wait_until

ANA = 400_000_000_000_000_001  # on Discord, in UTC (the default zone)
# Monday 2026-11-23 07:00 UTC. Ben's Slack profile says Berlin: his week opens at 08:00 UTC,
# Ana's at 09:00 UTC.
MONDAY_7AM = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.add_workspace("T1", "Writers Guild")
    fake.add_user("T1", "U1", "Europe/Berlin", "Ben")
    await fake.start()
    yield fake
    await fake.close()


async def slack_command(fake: FakeSlack, command: str, text: str) -> str:
    response_url = fake.new_response_url()
    await fake.push(
        "slash_commands",
        slash_command(command, text, team="T1", user="U1", response_url=response_url),
        limit=10,
    )
    responses = fake.responses_to(response_url)
    await wait_until(lambda: responses, limit=10)
    return str(responses[0]["text"])


async def test_one_scheduler_nudges_each_member_on_their_platform_at_their_local_time(
    tmp_path: Path, discord_fake: FakeDiscord, slack_fake: FakeSlack
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'both.db'}",
        sweep_interval_seconds=0.05,
        discord_token=discord_fake.token,
        discord_api_base_url=discord_fake.api_base_url,
        discord_gateway_url=discord_fake.gateway_url,
        slack_bot_token=slack_fake.workspace("T1").bot_token,
        slack_app_token=slack_fake.add_app_token(),
        slack_api_base_url=slack_fake.base_url,
    )
    clock = ManualClock(MONDAY_7AM)
    runtime = bootstrap(settings, clock=clock)
    stop = asyncio.Event()
    serving = asyncio.ensure_future(
        serve(runtime, [DiscordAdapter(runtime), SlackAdapter(runtime)], stop)
    )
    try:
        await discord_fake.wait_until(lambda: discord_fake.connected, within=10)
        await slack_fake.wait_for_socket(limit=10)
        answer = await discord_fake.slash(ANA, "goal", {"count": 1, "label": "post"})
        assert "Goal set: 1 post a week" in answer.content
        assert (await slack_command(slack_fake, "/goal", "2 newsletters")).startswith(
            "Goal set: 2 newsletters a week."
        )

        clock.set(MONDAY_7AM + timedelta(hours=1, seconds=30))  # 09:00:30 in Berlin
        await wait_until(lambda: slack_fake.messages_to("T1", "U1"), limit=10)
        assert discord_fake.dms_to(ANA) == []  # 08:00:30 for Ana: not yet

        clock.set(MONDAY_7AM + timedelta(hours=2, seconds=30))  # 09:00:30 in UTC
        await discord_fake.wait_until(lambda: discord_fake.dms_to(ANA), within=10)
    finally:
        stop.set()
        code = await asyncio.wait_for(serving, 20)
        runtime.close()

    assert code == 0
    (slack_dm,) = slack_fake.messages_to("T1", "U1")
    assert "0 of 2 this week" in str(slack_dm)
    (discord_dm,) = discord_fake.dms_to(ANA)
    assert "0 of 1 this week" in str(discord_dm)


async def test_habit_coach_run_serves_discord_and_slack_together_and_stops_on_sigterm(
    tmp_path: Path, discord_fake: FakeDiscord, slack_fake: FakeSlack
) -> None:
    env = run_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
        DISCORD_TOKEN=discord_fake.token,
        DISCORD_API_BASE_URL=discord_fake.api_base_url,
        DISCORD_GATEWAY_URL=discord_fake.gateway_url,
        SLACK_BOT_TOKEN=slack_fake.workspace("T1").bot_token,
        SLACK_APP_TOKEN=slack_fake.add_app_token(),
        SLACK_API_BASE_URL=slack_fake.base_url,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=tmp_path,  # no .env from the repository
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await discord_fake.wait_until(lambda: discord_fake.connected, within=30)
        await slack_fake.wait_for_socket(limit=30)
        answer = await discord_fake.slash(ANA, "streak")
        assert answer.ephemeral
        assert (await slack_command(slack_fake, "/timezone", "")).startswith(
            "Your time zone is Europe/Berlin"
        )

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert "habit-coach: Discord is connected." in lines
    assert "habit-coach: Slack (Socket Mode) is connected." in lines
