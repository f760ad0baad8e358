"""`habit-coach doctor`, run as the real command against the fake Discord and Slack."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import is_placeholder
from storage.database import upgrade
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.processes import run_env
from tests.fakes.slack_server import FakeSlack

# Shaped like the real things, so only the platforms can tell them apart.
DISCORD_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GzAbCd.q7m3Xy0PqR5sT9uV2wX4yZ6aB8cD0eF1gH3iJ"
REFUSED_DISCORD_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMg.GzEfGh.k2L4m6N8p0Q2r4S6t8U0v2W4x6Y8z0A2b4C"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(token=DISCORD_TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.add_workspace("T1", "Writers Guild")
    await fake.start()
    yield fake
    await fake.close()


async def doctor(tmp_path: Path, **settings: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "doctor",
        cwd=tmp_path,  # no .env of the repository's
        env=run_env(PYTHONIOENCODING="utf-8", LOG_LEVEL="DEBUG", **settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def lines_marked(output: str, mark: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(mark)]


async def test_a_good_configuration_passes_every_check(
    tmp_path: Path, discord: FakeDiscord, slack: FakeSlack
) -> None:
    database_url = f"sqlite:///{tmp_path / 'coach.db'}"
    upgrade(database_url)
    app_token = slack.add_app_token()

    code, out, err = await doctor(
        tmp_path,
        DATABASE_URL=database_url,
        DISCORD_TOKEN=DISCORD_TOKEN,
        DISCORD_API_BASE_URL=discord.api_base_url,
        SLACK_BOT_TOKEN=slack.workspace("T1").bot_token,
        SLACK_APP_TOKEN=app_token,
        SLACK_API_BASE_URL=slack.base_url,
    )

    assert code == 0, out + err
    assert lines_marked(out, "✘") == []
    passed = "\n".join(lines_marked(out, "✔"))
    assert "✔ Discord accepts DISCORD_TOKEN: the bot is Habit Coach" in passed
    assert "✔ Slack accepts SLACK_BOT_TOKEN: workspace Writers Guild (T1)" in passed
    assert "✔ Slack accepts SLACK_APP_TOKEN" in passed
    assert "is reachable and at migration" in passed
    assert "• run would start: Discord; Slack in Socket Mode, one workspace" in out
    assert "• HTTP on 127.0.0.1:0 (/healthz, /readyz, /metrics)" in out
    assert out.rstrip().endswith("All checks passed.")
    assert [r.path for r in discord.requests] == ["/users/@me"]
    assert [c.method for c in slack.calls] == ["auth.test", "apps.connections.open"]
    for secret in (DISCORD_TOKEN, app_token, slack.workspace("T1").bot_token):
        assert secret not in out + err


async def test_a_broken_configuration_names_each_problem_and_its_fix(
    tmp_path: Path, discord: FakeDiscord, slack: FakeSlack
) -> None:
    code, out, err = await doctor(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'never-migrated.db'}",
        DISCORD_TOKEN=REFUSED_DISCORD_TOKEN,
        DISCORD_API_BASE_URL=discord.api_base_url,
        SLACK_BOT_TOKEN=slack.workspace("T1").bot_token,
        SLACK_SIGNING_SECRET="not-a-signing-secret-at-all",
        SLACK_API_BASE_URL=slack.base_url,
        HTTP_PORT="8080",
        SLACK_HTTP_PORT="3000",
    )

    assert code == 1
    failed = "\n".join(lines_marked(out, "✘"))
    assert (
        f"✘ Discord accepts DISCORD_TOKEN: Discord refused …{REFUSED_DISCORD_TOKEN[-4:]}" in failed
    )
    assert (
        "✘ SLACK_SIGNING_SECRET: …-all is not a Slack secret (those are 32 hexadecimal "
        "characters) — fix: copy the Signing Secret" in failed
    )
    assert (
        "✘ SLACK_HTTP_PORT and HTTP_PORT: they disagree (3000 and 8080); HTTP_PORT wins" in failed
    )
    assert "is at migration none, this version needs" in failed
    assert "run `habit-coach db upgrade`" in failed
    assert "✔ Slack accepts SLACK_BOT_TOKEN" in out  # the one good token still passes
    assert REFUSED_DISCORD_TOKEN not in out + err
    assert "not-a-signing-secret" not in out + err


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(
            {"SLACK_BOT_TOKEN": "xapp-1-A0-1234567890-abcdef",
             "SLACK_SIGNING_SECRET": SIGNING_SECRET},
            "✘ SLACK_BOT_TOKEN: …cdef starts with xapp-: that kind of token belongs in "
            "SLACK_APP_TOKEN",
            id="app-token-as-bot-token",
        ),
        pytest.param(
            {"DISCORD_TOKEN": "your-token-here"},
            "✘ setting DISCORD_TOKEN: DISCORD_TOKEN is a placeholder, not the real secret — "
            "fix: copy the bot token from the Developer Portal",
            id="placeholder",
        ),
        pytest.param(
            {"DISCORD_TOKEN": "not-a-discord-token-at-all"},
            "is not shaped like a Discord bot token (three parts separated by dots)",
            id="malformed-discord-token",
        ),
        pytest.param(
            {
                "SLACK_BOT_TOKEN": "xoxb-1-2-abcdefghijkl",
                "SLACK_CLIENT_ID": "1.2",
                "SLACK_CLIENT_SECRET": SIGNING_SECRET,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            },
            "✘ SLACK_BOT_TOKEN with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET",
            id="bot-token-with-oauth-pair",
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1-2-abcdefghijkl", "SLACK_APP_TOKEN": "xapp-1-2-abcdefgh",
             "SLACK_SIGNING_SECRET": SIGNING_SECRET},
            "✘ SLACK_APP_TOKEN with SLACK_SIGNING_SECRET: SLACK_APP_TOKEN selects Socket Mode",
            id="socket-mode-with-http-options",
        ),
        pytest.param(
            {},
            "✘ a chat platform to serve: neither Discord nor Slack credentials are set",
            id="nothing-to-serve",
        ),
        pytest.param(
            {"DISCORD_TOKEN": DISCORD_TOKEN, "DELIVERY_LEASE_SECONDS": "10"},
            "✘ setting DELIVERY_LEASE_SECONDS: DELIVERY_LEASE_SECONDS is 10 s, but a send may "
            "take up to 20 s",
            id="lease-shorter-than-a-send",
        ),
        pytest.param(
            {"DATABASE_URL": "postgresql://coach:CHANGE-ME@db/coach"},
            "✘ setting DATABASE_URL: the password in DATABASE_URL is a placeholder",
            id="placeholder-database-password",
        ),
        pytest.param(
            {"HTTP_PORT": "not-a-port"},
            "✘ setting HTTP_PORT: HTTP_PORT is not valid: Input should be a valid integer",
            id="unreadable-setting",
        ),
    ],
)  # fmt: skip
async def test_each_kind_of_misconfiguration_is_refused(
    tmp_path: Path, settings: dict[str, str], expected: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'coach.db'}"
    upgrade(database_url)
    # Nothing answers on port 9: the token checks fail too, but the line tested names the cause.
    offline = {"DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10",
               "SLACK_API_BASE_URL": "http://127.0.0.1:9/api/"}  # fmt: skip

    code, out, _ = await doctor(tmp_path, **{"DATABASE_URL": database_url, **offline, **settings})

    assert code == 1
    assert expected in out, out
    if "HTTP_PORT" not in settings:
        assert "not-a-port" not in out


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("changeme", True),
        ("<your bot token>", True),
        ("YOUR_TOKEN_HERE", True),
        ("xxxxxxxx", True),
        ("${DISCORD_TOKEN}", True),
        (SIGNING_SECRET, False),
        (DISCORD_TOKEN, False),
    ],
)
def test_placeholders_are_recognised(value: str, placeholder: bool) -> None:
    assert is_placeholder(value) is placeholder
