"""Logs as text or JSON lines, and never a secret in them: the redaction filter on the root
handler, in this process and in real `habit-coach run` processes."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.logs import REDACTED, configure_logging, secret_values
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.processes import run_env
from tests.fakes.slack_server import FakeSlack

DISCORD_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GzAbCd.q7m3Xy0PqR5sT9uV2wX4yZ6aB8cD0eF1gH3iJ"
SLACK_BOT_TOKEN = "xoxb-1111-2222-notAcceptedAnywhere"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
DB_PASSWORD = "db-Pass-4a9f7c"
SECRETS = (DISCORD_TOKEN, SLACK_BOT_TOKEN, SIGNING_SECRET, DB_PASSWORD)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook = hook
    logging.captureWarnings(False)
    for name in ("discord", "slack_sdk", "slack_bolt", "aiohttp"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def provoke_secrets() -> None:
    """Log lines that would each carry a secret: in the message, the arguments, an
    exception's text, an extra field, and from a third-party logger."""
    log = logging.getLogger("bot.test")
    log.warning("token is %s", DISCORD_TOKEN)
    log.info("connecting to postgresql+psycopg://coach:%s@db:5432/coach", DB_PASSWORD)
    try:
        raise RuntimeError(f"Slack refused {SLACK_BOT_TOKEN}")
    except RuntimeError:
        log.exception("start failed")
    log.error("signature check", extra={"secret": SIGNING_SECRET, "count": 3})
    logging.getLogger("discord.http").warning(
        "POST /interactions/1300000000000000001/aW50ZXJhY3Rpb246MTMwMDAwMDA6c2VjcmV0/callback"
    )
    logging.getLogger("slack_sdk.web").warning("Authorization: Bearer %s", SLACK_BOT_TOKEN)


def settings_with_secrets() -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"postgresql+psycopg://coach:{DB_PASSWORD}@db:5432/coach",
        discord_token=DISCORD_TOKEN,
        slack_bot_token=SLACK_BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
    )


def test_every_secret_setting_and_the_database_password_are_known_secrets() -> None:
    assert set(secret_values(settings_with_secrets())) == set(SECRETS)


def test_text_logs_carry_no_secret(
    capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    configure_logging("DEBUG", "text", secret_values(settings_with_secrets()))

    provoke_secrets()

    err = capsys.readouterr().err
    assert "WARNING bot.test: token is [redacted]" in err
    assert "coach:[redacted]@db:5432" in err
    assert "RuntimeError: Slack refused [redacted]" in err
    assert "/interactions/1300000000000000001/[redacted]/callback" in err
    for secret in SECRETS:
        assert secret not in err


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql+psycopg://coach:pa/ss-91x@db:5432/coach", "pa/ss-91x"),
        ("postgresql+psycopg://coach:pa%2Fss-91x@db:5432/coach", "pa/ss-91x"),
        ("postgresql+psycopg://coach@db:5432/coach?password=qq-7731", "qq-7731"),
    ],
)
def test_a_database_password_however_written_is_redacted(
    url: str, password: str, capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    configure_logging("DEBUG", "text", secret_values(settings))

    logging.getLogger("bot.test").warning("database: %s", url)

    err = capsys.readouterr().err
    assert "database: " in err
    assert password not in err
    assert password.replace("/", "%2F") not in err


def test_a_malformed_log_call_is_still_logged_and_never_raises_at_its_caller(
    capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    logging.getLogger().handlers.clear()  # as in the process: ours alone (pytest's would raise)
    configure_logging("INFO", "text", [DISCORD_TOKEN])

    logging.getLogger("somelib").warning("value %d of %s", "x", DISCORD_TOKEN)

    err = capsys.readouterr().err
    assert "WARNING somelib: value %d of %s" in err
    assert DISCORD_TOKEN not in err


def test_json_logs_are_one_object_per_line_with_no_secret(
    capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    configure_logging("DEBUG", "json", secret_values(settings_with_secrets()))

    provoke_secrets()

    err = capsys.readouterr().err
    entries = [json.loads(line) for line in err.splitlines()]
    assert [e["logger"] for e in entries] == [
        "bot.test", "bot.test", "bot.test", "bot.test", "discord.http", "slack_sdk.web",
    ]  # fmt: skip
    first = entries[0]
    assert first["level"] == "WARNING"
    assert first["message"] == "token is [redacted]"
    assert first["time"].endswith("+00:00")
    assert "Traceback" in entries[2]["exception"]
    assert entries[3]["secret"] == REDACTED
    assert entries[3]["count"] == 3
    for secret in SECRETS:
        assert secret not in err


def test_a_secret_in_an_extra_field_is_redacted_as_secretstr(
    capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("bot.test").warning("x", extra={"token": SecretStr("abc")})
    assert json.loads(capsys.readouterr().err)["token"] == REDACTED


async def run_process(tmp_path: Path, **settings: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=tmp_path,
        env=run_env(LOG_LEVEL="DEBUG", SLACK_SIGNING_SECRET=SIGNING_SECRET, **settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode() + stderr.decode()


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_habit_coach_run_with_refused_tokens_logs_no_secret(
    tmp_path: Path, log_format: str
) -> None:
    """The fakes refuse both tokens: the process logs its settings, the refusals, and exits."""
    discord, slack = FakeDiscord(token="another-token"), FakeSlack()
    await discord.start()
    await slack.start()
    try:
        code, output = await run_process(
            tmp_path,
            LOG_FORMAT=log_format,
            DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
            DISCORD_TOKEN=DISCORD_TOKEN,
            DISCORD_API_BASE_URL=discord.api_base_url,
            DISCORD_GATEWAY_URL=discord.gateway_url,
            SLACK_BOT_TOKEN=SLACK_BOT_TOKEN,
            SLACK_API_BASE_URL=slack.base_url,
        )
    finally:
        await discord.stop()
        await slack.close()

    assert code == 1
    assert "Discord refused DISCORD_TOKEN" in output
    assert "settings:" in output  # the DEBUG line that lists what was read
    for secret in SECRETS:
        assert secret not in output
    if log_format == "json":
        logged = [line for line in output.splitlines() if line.startswith("{")]
        assert logged
        assert all(json.loads(line)["level"] for line in logged)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_habit_coach_run_with_a_database_password_logs_no_secret(
    tmp_path: Path, log_format: str
) -> None:
    code, output = await run_process(
        tmp_path,
        LOG_FORMAT=log_format,
        DATABASE_URL=f"postgresql+psycopg://coach:{DB_PASSWORD}@127.0.0.1:9/coach",
        DISCORD_TOKEN=DISCORD_TOKEN,
    )

    assert code == 1
    assert "cannot open the database at postgresql+psycopg://coach:" in output
    assert "coach:[redacted]@127.0.0.1:9" in output  # the DEBUG settings line, filtered
    for secret in SECRETS:
        assert secret not in output


def test_oauth_codes_and_states_are_redacted_and_short_codes_are_kept() -> None:
    from bot.logs import redact

    assert redact("GET /slack/oauth_redirect?code=1234.5678.abcdef&state=Zx9_kLmN0pQr") == (
        "GET /slack/oauth_redirect?code=[redacted]&state=[redacted]"
    )
    assert redact("{'code': ['1234.5678.abcdef'], 'state': ['Zx9_kLmN0pQr']}") == (
        "{'code': ['[redacted]'], 'state': ['[redacted]']}"
    )
    assert redact('{"code": "1234.5678.abcdef"}') == '{"code": "[redacted]"}'
    assert redact("the gateway closed with code=4004") == "the gateway closed with code=4004"
