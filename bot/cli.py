"""The `habit-coach` command: console, run, doctor and db subcommands."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.bootstrap import NotMigratedError, applied_revision, bootstrap
from bot.logs import CHATTY_SDK_LOGGERS, configure_logging, redact, secret_values
from bot.runtime import Runtime
from bot.settings import Settings, refusals
from storage.database import head_revision, upgrade

# The exit status of a program interrupted by Ctrl-C, as shells report it (128 + SIGINT).
INTERRUPTED = 128 + signal.SIGINT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="habit-coach",
        description="A writing-habit coach for Discord, Slack and your terminal. "
        "Start small, start now.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    console = sub.add_parser("console", help="try the coach in this terminal (no tokens needed)")
    console.add_argument("--name", help="who you are in the console (default: your login name)")
    console.add_argument("--database-url", help="override DATABASE_URL for this session")
    sub.add_parser("run", help="start every chat adapter whose credentials are configured")
    sub.add_parser(
        "doctor", help="check the settings, the database and the tokens; say what run would start"
    )
    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations")
    db_sub.add_parser("current", help="show the applied migration")
    return parser


__all__ = ["CHATTY_SDK_LOGGERS", "configure_logging", "main"]
log = logging.getLogger("habit_coach")


def _settings(**overrides: str) -> Settings:
    """The settings, or exit 1 naming each one refused (in doctor's words) and its fix."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v})  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "".join(f"\n  {refusal}" for refusal in refusals(exc))
        raise SystemExit(redact(f"habit-coach: configuration problem —{problems}")) from None


def _logging_for(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format, secret_values(settings))
    # What the process read, for whoever debugs a deployment; SecretStr values print as
    # asterisks, and the redaction filter blanks the password in DATABASE_URL.
    log.debug("settings: %s", settings.model_dump(mode="json"))


def _console(args: argparse.Namespace) -> int:
    from bot.console import machine_zone, run_console

    settings = _settings(database_url=args.database_url)
    _logging_for(settings)
    name = (args.name or _login_name()).strip()[:64] or "writer"
    runtime = _bootstrap(settings, machine_zone(settings.tz) or "UTC")
    if runtime is None:
        return 1

    async def main() -> int:
        try:
            return await run_console(runtime, name)
        finally:
            # A tick in flight finishes its sends (instant on a terminal) rather than being
            # cancelled mid-way; then the database threads close.
            await runtime.stop_scheduler_and_drain()
            runtime.close()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        print("\nBye — start small, start now.")
        return INTERRUPTED


def _bootstrap(settings: Settings, default_zone: str) -> Runtime | None:
    """The wired runtime, or None once the reason it could not start is printed."""
    try:
        return bootstrap(settings, default_zone=default_zone)
    except NotMigratedError as exc:
        print(f"habit-coach: {exc}", file=sys.stderr)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        print(_database_problem(settings.database_url, exc), file=sys.stderr)
    return None


def _database_problem(url: str, exc: BaseException) -> str:
    log.debug("opening the database failed", exc_info=exc)  # the whole story, when asked
    reason = getattr(exc, "orig", None) or exc
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (ValueError, SQLAlchemyError):  # a URL SQLAlchemy cannot even parse
        shown = "DATABASE_URL"
    return redact(
        f"habit-coach: cannot open the database at {shown}: {reason}\n"
        "Check DATABASE_URL (see .env.example), or leave it unset for the default SQLite file."
    )


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "writer"


def _run(args: argparse.Namespace) -> int:
    from bot.ops import OpsServer
    from bot.serve import configured_adapters, install_stop_signals, serve

    settings = _settings()
    _logging_for(settings)
    if not (settings.discord_configured or settings.slack_configured):
        print(
            "habit-coach run: no chat adapter is configured, so there is nothing to start.\n"
            "Set DISCORD_TOKEN for Discord, SLACK_BOT_TOKEN (with SLACK_APP_TOKEN for Socket "
            "Mode, or SLACK_SIGNING_SECRET for HTTP mode) for Slack — see .env.example.\n"
            "To try the coach without tokens, run: habit-coach console",
            file=sys.stderr,
        )
        return 2
    runtime = _bootstrap(settings, settings.default_timezone or "UTC")
    if runtime is None:
        return 1

    async def main() -> int:
        stop = asyncio.Event()
        received = install_stop_signals(stop)
        server = OpsServer(runtime, settings.http_host, settings.http_port)
        try:
            status = await serve(runtime, configured_adapters(runtime, server), stop, server)
        finally:
            runtime.close()
        # SIGTERM is the normal way a service manager stops us: 0. Ctrl-C (SIGINT) says so in
        # the status, as shells expect of an interrupted program.
        return INTERRUPTED if status == 0 and signal.SIGINT in received else status

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return INTERRUPTED


def _doctor(args: argparse.Namespace) -> int:
    from bot.doctor import run_doctor

    return run_doctor()


def _db(args: argparse.Namespace) -> int:
    settings = _settings()
    _logging_for(settings)
    try:
        if args.db_command == "upgrade":
            upgrade(settings.database_url)
            print(f"Database is at migration {head_revision()}.")
            return 0
        revision = applied_revision(settings)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        print(_database_problem(settings.database_url, exc), file=sys.stderr)
        return 1
    print(f"Applied: {revision or 'none'}; newest: {head_revision()}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "console":
        return _console(args)
    if args.command == "run":
        return _run(args)
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "db":
        return _db(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
