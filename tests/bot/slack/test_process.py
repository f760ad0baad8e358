"""The real `habit-coach run` process in Socket Mode against the fake Slack: it connects,
serves a slash command, and exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.fakes.processes import run_env
from tests.fakes.slack_server import FakeSlack, slash_command, wait_until

CONNECTED = "habit-coach: Slack (Socket Mode) is connected."


def process_env(fake: FakeSlack, database_url: str) -> dict[str, str]:
    return run_env(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=fake.workspace("T1").bot_token,
        SLACK_APP_TOKEN=fake.add_app_token(),
        SLACK_API_BASE_URL=fake.base_url,
    )


async def test_habit_coach_run_serves_slack_in_socket_mode_and_stops_on_sigterm(
    tmp_path: Path, fake: FakeSlack
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=tmp_path,  # no .env file here
        env=process_env(fake, f"sqlite:///{tmp_path / 'coach.db'}"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            first_line = (await process.stdout.readline()).decode()
        assert first_line.strip() == CONNECTED
        await fake.wait_for_socket(limit=10)

        response_url = fake.new_response_url()
        ack = await fake.push(
            "slash_commands",
            slash_command("/goal", "1 post", team="T1", user="U1", response_url=response_url),
            limit=10,
        )
        assert "payload" not in ack  # acknowledged at once, with nothing to show
        responses = fake.responses_to(response_url)
        await wait_until(lambda: responses, limit=10)
        assert responses[0]["text"].startswith("Goal set: 1 post a week.")
        assert responses[0]["response_type"] == "ephemeral"

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            code = await process.wait()
        assert code == 0, (await process.stderr.read()).decode() if process.stderr else ""
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
