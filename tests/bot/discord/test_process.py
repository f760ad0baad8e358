"""The real `habit-coach run` process against the fake Discord: it serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from sqlalchemy import select

from storage.database import make_engine
from storage.tables import members
from tests.bot.discord.conftest import ANA
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.processes import run_env


def discord_env(fake: FakeDiscord, database_url: str) -> dict[str, str]:
    return run_env(
        DATABASE_URL=database_url,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE_URL=fake.api_base_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        LOG_LEVEL="WARNING",
    )


async def test_habit_coach_run_serves_a_slash_command_and_exits_0_on_sigterm(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'run.db'}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=tmp_path,  # no .env from the repository
        env=discord_env(fake, database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_until(lambda: fake.connected, within=30)
        answer = await fake.slash(ANA, "goal", {"count": 1, "label": "post"})
        assert "Goal set: 1 post a week" in answer.content

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, stderr.decode()
    assert "habit-coach: Discord is connected." in stdout.decode()
    assert [(r.method, r.path) for r in fake.requests][:2] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
    ]
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(members.c.goal_target).where(members.c.user_id == str(ANA))
            ).one()
    finally:
        engine.dispose()
    assert row.goal_target == 1
