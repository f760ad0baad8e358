"""`habit-coach doctor`: what is wrong with this installation, one line per check, with a fix.

It reads the settings as `run` would (what `run` refuses, it reports in the same words), names
malformed secrets and settings that clash, checks the database is reachable and migrated, asks
each platform whether it accepts its token, and says what `run` would start. Secrets are shown
by their last 4 characters only.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import string
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

import aiohttp
from pydantic import SecretStr, ValidationError
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.bootstrap import applied_revision
from bot.logs import configure_logging, redact, secret_values
from bot.settings import SECRET_SOURCES, Settings, refusals
from storage.database import head_revision, is_sqlite

MIN_SQLITE = (3, 33, 0)  # UPDATE … FROM, which the sweep uses
PLATFORM_TIMEOUT = 10.0  # seconds each platform may take to answer about a token
_DISCORD_PART = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it passed, and what to do if not."""

    title: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def line(self, marks: tuple[str, str]) -> str:
        text = f"{marks[0] if self.ok else marks[1]} {self.title}"
        if self.detail:
            text += f": {self.detail}"
        if not self.ok and self.fix:
            text += f" — fix: {self.fix}"
        return redact(text)


def shown(secret: str) -> str:
    """A secret as the report may show it: its length and last 4 characters."""
    return f"…{secret[-4:]}" if len(secret) > 8 else "(too short to show)"


def _value(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


# --- settings ------------------------------------------------------------------------------------


def load_settings() -> tuple[Settings | None, list[Check]]:
    """The settings `run` would read, or each one it refuses, in the words `run` uses."""
    try:
        return Settings(), [Check("settings load", True, "from the environment and .env")]
    except ValidationError as exc:
        return None, [
            Check(f"setting {refusal.variable}", False, refusal.problem, refusal.fix)
            for refusal in refusals(exc)
        ]


# --- secrets -------------------------------------------------------------------------------------


def secret_checks(settings: Settings) -> list[Check]:
    """Whether each secret is shaped like what the platform issues (Settings has already
    refused placeholders)."""
    checks: list[Check] = []
    shapes: dict[str, tuple[str | None, Callable[[str], str | None]]] = {
        "DISCORD_TOKEN": (_value(settings.discord_token), _discord_shape),
        "SLACK_BOT_TOKEN": (
            _value(settings.slack_bot_token),
            _prefix_shape("xoxb-", "a bot token", {"xapp-": "SLACK_APP_TOKEN"}),
        ),
        "SLACK_APP_TOKEN": (
            _value(settings.slack_app_token),
            _prefix_shape("xapp-", "an app-level token", {"xoxb-": "SLACK_BOT_TOKEN"}),
        ),
        "SLACK_SIGNING_SECRET": (_value(settings.slack_signing_secret), _hex_shape),
        "SLACK_CLIENT_SECRET": (_value(settings.slack_client_secret), _hex_shape),
    }
    for name, (value, shape) in shapes.items():
        if value is None:
            continue
        problem = shape(value)
        detail = f"{shown(value)} {problem}" if problem else f"{shown(value)} looks right"
        checks.append(Check(name, problem is None, detail, SECRET_SOURCES[name]))
    return checks


def _discord_shape(value: str) -> str | None:
    parts = value.split(".")
    if len(parts) != 3 or not all(_DISCORD_PART.match(part) for part in parts):
        return "is not shaped like a Discord bot token (three parts separated by dots)"
    return None


def _prefix_shape(
    prefix: str, what: str, belongs_elsewhere: dict[str, str]
) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        for other, setting in belongs_elsewhere.items():
            if value.startswith(other):
                return f"starts with {other}: that kind of token belongs in {setting}"
        if not value.startswith(prefix) or len(value) <= len(prefix) + 8:
            return f"is not {what} (those start with {prefix})"
        return None

    return check


def _hex_shape(value: str) -> str | None:
    if len(value) < 16 or not all(ch in string.hexdigits for ch in value):
        return "is not a Slack secret (those are 32 hexadecimal characters)"
    return None


# --- clashes -------------------------------------------------------------------------------------


def clash_checks(settings: Settings) -> list[Check]:
    """Settings that contradict each other, or one that is ignored because of another."""
    found = list(_clashes(settings))
    if not found:
        return [Check("no clashing settings", True)]
    return found


def _clashes(settings: Settings) -> Iterator[Check]:
    oauth_pair = settings.slack_client_id is not None and settings.slack_client_secret is not None
    if settings.slack_bot_token is not None and oauth_pair:
        yield Check(
            "SLACK_BOT_TOKEN with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET",
            False,
            "with the OAuth pair each workspace's token comes from its installation, so "
            "SLACK_BOT_TOKEN is ignored",
            "keep SLACK_BOT_TOKEN for one workspace, or the OAuth pair for many — not both",
        )
    if (settings.slack_client_id is None) != (settings.slack_client_secret is None):
        yield Check(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET",
            False,
            "only one of the OAuth pair is set",
            "set both (installation in many workspaces) or neither",
        )
    if settings.slack_app_token is not None:
        http_only = [
            name
            for name, value in (
                ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                ("SLACK_HTTP_HOST", settings.slack_http_host),
                ("SLACK_HTTP_PORT", settings.slack_http_port),
            )
            if value is not None
        ]
        if http_only and not oauth_pair:
            listed = ", ".join(http_only)
            yield Check(
                f"SLACK_APP_TOKEN with {listed}",
                False,
                f"SLACK_APP_TOKEN selects Socket Mode, which never uses {listed} (HTTP mode only)",
                f"remove {listed}, or remove SLACK_APP_TOKEN to run Slack in HTTP mode",
            )
        if not settings.slack_configured:
            yield Check(
                "SLACK_APP_TOKEN alone",
                False,
                "SLACK_APP_TOKEN is set but neither SLACK_BOT_TOKEN nor the OAuth pair is",
                "set SLACK_BOT_TOKEN too, or remove SLACK_APP_TOKEN",
            )
    elif settings.slack_configured and settings.slack_signing_secret is None:
        yield Check(
            "Slack HTTP mode without SLACK_SIGNING_SECRET",
            False,
            "without SLACK_APP_TOKEN Slack runs in HTTP mode, which needs the signing secret",
            "set SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN for Socket Mode",
        )
    for old, new, old_value, new_value in (
        ("SLACK_HTTP_PORT", "HTTP_PORT", settings.slack_http_port, settings.http_port),
        ("SLACK_HTTP_HOST", "HTTP_HOST", settings.slack_http_host, settings.http_host),
    ):
        if old_value is not None and old_value != new_value:
            yield Check(
                f"{old} and {new}",
                False,
                f"they disagree ({old_value} and {new_value}); {new} wins",
                f"remove {old} (its older name) and keep {new}",
            )
    if not settings.discord_configured and not settings.slack_configured:
        yield Check(
            "a chat platform to serve",
            False,
            "neither Discord nor Slack credentials are set, so `habit-coach run` would refuse "
            "to start (exit 2)",
            "set DISCORD_TOKEN, or SLACK_BOT_TOKEN (or the OAuth pair); "
            "`habit-coach console` needs none",
        )


# --- database ------------------------------------------------------------------------------------


def database_check(settings: Settings) -> Check:
    where = describe_database(settings.database_url)
    try:
        applied = applied_revision(settings)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        reason = getattr(exc, "orig", None) or exc
        first = (str(reason).splitlines() or [type(exc).__name__])[0]
        return Check(
            "database",
            False,
            f"cannot reach {where}: {first}",
            "check DATABASE_URL, and that the database server is running and reachable",
        )
    if settings.database_url.startswith("sqlite") and sqlite3.sqlite_version_info < MIN_SQLITE:
        needed = ".".join(map(str, MIN_SQLITE))
        return Check(
            "database",
            False,
            f"this Python's SQLite is {sqlite3.sqlite_version}; the sweep needs {needed} or newer "
            "(UPDATE … FROM)",
            "use a Python built with a newer SQLite (python.org builds and the container image "
            "are), or PostgreSQL",
        )
    head = head_revision()
    if applied != head:
        return Check(
            "database",
            False,
            f"{where} is at migration {applied or 'none'}, this version needs {head}",
            "run `habit-coach db upgrade`",
        )
    return Check("database", True, f"{where} is reachable and at migration {head}")


def describe_database(url: str) -> str:
    try:
        parsed = make_url(url)
    except ValueError:
        return "DATABASE_URL (unparseable)"
    if is_sqlite(url):
        return f"SQLite file {parsed.database}"
    return f"PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


# --- platforms -----------------------------------------------------------------------------------


async def platform_checks(settings: Settings) -> list[Check]:
    jobs = []
    discord_token = _value(settings.discord_token)
    if discord_token is not None:
        jobs.append(_discord_token(settings, discord_token))
    bot_token = _value(settings.slack_bot_token)
    if bot_token is not None:
        jobs.append(_slack_call(settings, "SLACK_BOT_TOKEN", "auth.test", bot_token))
    app_token = _value(settings.slack_app_token)
    if app_token is not None:
        jobs.append(_slack_call(settings, "SLACK_APP_TOKEN", "apps.connections.open", app_token))
    return list(await asyncio.gather(*jobs))


async def _discord_token(settings: Settings, token: str) -> Check:
    from bot.discord.adapter import DISCORD_API

    base = (settings.discord_api_base_url or DISCORD_API).rstrip("/")
    title = "Discord accepts DISCORD_TOKEN"
    fix = "reset the token in the Developer Portal (your application → Bot) and copy it again"
    timeout = aiohttp.ClientTimeout(total=PLATFORM_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{base}/users/@me", headers={"Authorization": f"Bot {token}"}) as answer,
        ):
            body = await answer.json(content_type=None) if answer.status == 200 else {}
            status = answer.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check(title, False, f"cannot reach Discord ({type(exc).__name__})", _network_fix())
    if status == 401:
        return Check(title, False, f"Discord refused {shown(token)} (401 Unauthorized)", fix)
    if status != 200:
        return Check(title, False, f"Discord answered {status}", "try again later")
    return Check(title, True, f"the bot is {body.get('username', '?')} (id {body.get('id', '?')})")


async def _slack_call(settings: Settings, name: str, method: str, token: str) -> Check:
    from bot.slack.sender import make_client

    title = f"Slack accepts {name}"
    client = make_client(token, settings.slack_api_base_url)
    try:
        async with asyncio.timeout(PLATFORM_TIMEOUT):
            if method == "auth.test":
                answer = await client.auth_test()
            else:
                answer = await client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "error"
        fix = (
            "copy the Bot User OAuth Token (xoxb-…) again, and reinstall the app if it was revoked"
            if name == "SLACK_BOT_TOKEN"
            else "create an app-level token (xapp-…) with the connections:write scope"
        )
        return Check(title, False, f"Slack refused {shown(token)} ({error})", fix)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Check(title, False, f"cannot reach Slack ({type(exc).__name__})", _network_fix())
    if method == "auth.test":
        return Check(title, True, f"workspace {answer.get('team')} ({answer.get('team_id')})")
    return Check(title, True, "Socket Mode can connect")


def _network_fix() -> str:
    return "check this machine's network, proxy settings and firewall"


# --- what run would start ------------------------------------------------------------------------


def plan(settings: Settings) -> list[str]:
    """What `habit-coach run` would start with these settings, for people."""
    lines = []
    if settings.discord_configured:
        count = settings.discord_shard_count
        ids = settings.discord_shard_ids
        shards = ""
        if count is not None:
            held = ", ".join(str(i) for i in ids) if ids else "all"
            shards = f", shards {held} of {count}"
        lines.append(f"Discord{shards}")
    if settings.slack_configured:
        mode = "Socket Mode" if settings.slack_app_token is not None else "HTTP mode"
        workspaces = (
            "many workspaces (OAuth)"
            if settings.slack_client_id and settings.slack_client_secret
            else "one workspace"
        )
        lines.append(f"Slack in {mode}, {workspaces}")
    adapters = "; ".join(lines) if lines else "no adapter (set DISCORD_TOKEN or SLACK_BOT_TOKEN)"
    http = f"{settings.http_host}:{settings.http_port} (/healthz, /readyz, /metrics"
    if settings.slack_configured and settings.slack_app_token is None:
        http += ", /slack/events"
    return [
        f"run would start: {adapters}",
        f"HTTP on {http})",
        f"database: {describe_database(settings.database_url)}",
        f"logs: {settings.log_level}, {settings.log_format}",
    ]


# --- the report ----------------------------------------------------------------------------------


def _marks(out: TextIO) -> tuple[str, str]:
    try:
        "✔✘".encode(getattr(out, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ("OK  ", "FAIL")
    return ("✔", "✘")


def run_doctor(out: TextIO | None = None) -> int:
    """Print every check; 0 when all pass, 1 otherwise."""
    out = out or sys.stdout
    marks = _marks(out)
    settings, checks = load_settings()
    if settings is None:
        configure_logging("WARNING")
        for check in checks:
            print(check.line(marks), file=out)
        print("Fix the settings above, then run `habit-coach doctor` again.", file=out)
        return 1
    configure_logging(settings.log_level, settings.log_format, secret_values(settings))
    checks += secret_checks(settings) + clash_checks(settings) + [database_check(settings)]
    checks += asyncio.run(platform_checks(settings))
    for check in checks:
        print(check.line(marks), file=out)
    for line in plan(settings):
        print(f"• {redact(line)}" if marks[0] == "✔" else f"- {redact(line)}", file=out)
    failed = sum(not check.ok for check in checks)
    print(
        "All checks passed." if not failed else f"{failed} check(s) failed; see the fixes above.",
        file=out,
    )
    return 1 if failed else 0
