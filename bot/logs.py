"""Logging for every subcommand: readable lines or JSON lines, and never a secret in either.

A filter on the root handler replaces each configured secret, and anything shaped like a
Discord or Slack token, an OAuth code or state, or a password in a URL, with ``[redacted]`` —
in the message, its arguments, exception text and extra fields — whichever library logged it.
Another keeps the SDKs' chatter at INFO or above, whatever levels the SDKs set themselves.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pydantic import SecretStr

REDACTED = "[redacted]"
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# SDK loggers that print request and response bodies at DEBUG: OAuth access tokens (Slack),
# interaction tokens in callback URLs (Discord). They never go below INFO.
# Bolt sets its own loggers' levels (to the root's) when it makes them, and names an app's
# logger after the app, so the floor is also kept by a filter on our handler.
CHATTY_SDK_LOGGERS = ("discord", "slack_sdk", "slack_bolt", "aiohttp", "habit-coach")
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words; doctor refuses them

_TOKEN_SHAPES = [
    # Slack: bot, user, app, refresh, configuration tokens and webhook/response URLs.
    re.compile(r"\bx(?:ox[abeoprs]|app)-[A-Za-z0-9-]{8,}"),
    re.compile(r"https://hooks\.slack\.com/[A-Za-z0-9/_-]+"),
    # Discord: a bot token (id . timestamp . hmac), and interaction tokens in URL paths.
    re.compile(r"\b[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"(/interactions/\d+/)[A-Za-z0-9._-]{20,}"),
    re.compile(r"(/webhooks/\d+/)[A-Za-z0-9._-]{20,}"),
    # An Authorization header's value.
    re.compile(r"(\b(?:Bearer|Bot) )[A-Za-z0-9._~+/=-]{20,}"),
    # An OAuth `code` or `state` (credentials for a few minutes), as Bolt logs the callback's
    # query ({'code': ['…'], …}), as JSON, or in a URL (code=…&state=…).
    re.compile(r"""(\b(?:code|state)(?:['"]?\s*[:=]\s*\[?\s*['"]?|=))[A-Za-z0-9._~%-]{8,}"""),
]
# A password may hold "/" (SQLAlchemy accepts it unencoded); it ends at the "@" of the host.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)(?P<pw>[^\s@]+)(?=@)")
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


class Redactor(logging.Filter):
    """Blanks secrets out of every record that reaches the handler it is attached to."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()

    def use(self, secrets: Iterable[str]) -> None:
        kept = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self.secrets = tuple(sorted(kept, key=len, reverse=True))  # a longer one first

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = _URL_PASSWORD.sub(lambda m: m["head"] + REDACTED, text)
        for shape in _TOKEN_SHAPES:
            text = shape.sub(_keep_id, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call (wrong %-args) must not raise at its caller
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRIBUTES:
                record.__dict__[name] = self._redact_value(value)
        return True

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, SecretStr):
            return REDACTED
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self.redact(str(value))


class SdkFloor(logging.Filter):
    """Drops SDK records below the floor, whatever level the SDK gave its own loggers."""

    def __init__(self, floor: int = logging.INFO):
        super().__init__()
        self.floor = floor

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.floor:
            return True
        name = record.name
        return not any(
            name == sdk or name.startswith((f"{sdk}.", f"{sdk}:")) for sdk in CHATTY_SDK_LOGGERS
        )


class Throttled:
    """A log line that repeats (every bad request, say) at most once per ``interval`` seconds;
    the next one written says how many were left out meanwhile."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._next = float("-inf")
        self.left_out = 0  # lines not written since the last one

    def log(self, level: int, message: str, *args: object) -> bool:
        """Write the line unless one was written less than ``interval`` ago; True if written."""
        now = self._clock()
        if now < self._next:
            self.left_out += 1
            return False
        if self.left_out:
            message += " (%d more like it in the last %.0f s not logged)"
            args = (*args, self.left_out, self.interval)
        self._next = now + self.interval
        self.left_out = 0
        self.logger.log(level, message, *args)
        return True


def _keep_id(match: re.Match[str]) -> str:
    """Keep what comes before the token (an interaction's id, "Bearer "), blank the token."""
    prefix = match.group(1) if match.re.groups else ""
    return f"{prefix}{REDACTED}"


REDACTOR = Redactor()
SDK_FLOOR = SdkFloor()


def redact(text: str) -> str:
    """``text`` with every configured secret and token-shaped string blanked out."""
    return REDACTOR.redact(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, exception, and
    any extra fields the call passed."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and name not in entry:
                entry[name] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs; a second call replaces it, not adds one."""


def secret_values(settings: object) -> list[str]:
    """Every SecretStr setting's value, and the password in the database URL."""
    found: list[str] = []
    for value in vars(settings).values():
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
    url = getattr(settings, "database_url", "")
    if isinstance(url, str):
        found.extend(_database_passwords(url))
    return found


def _database_passwords(url: str) -> list[str]:
    """The database password as written and as SQLAlchemy reads it (percent-decoded): after
    the user name up to the host's "@" (so it may hold "/"), or a ``password=`` query value.
    Parsed here, not by SQLAlchemy: adapters import this module and never the database layer."""
    found: set[str] = set()
    _, scheme, rest = url.partition("://")
    written = re.match(r"[^:/]*:(?P<pw>[^@]*)@", rest) if scheme else None
    if written is not None and written["pw"]:
        found |= {written["pw"], unquote(written["pw"])}
    for value in parse_qs(urlsplit(url).query).get("password", []):
        found |= {value, quote(value, safe="")}
    return sorted(found)


def configure_logging(
    level: str, log_format: str = "text", secrets: Iterable[str] = ()
) -> logging.Handler:
    """Send every log record to stderr through the redaction filter, as text or JSON."""
    REDACTOR.use(secrets)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    floor = max(logging.getLevelName(level), logging.INFO)
    SDK_FLOOR.floor = floor
    handler.addFilter(SDK_FLOOR)
    handler.addFilter(REDACTOR)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY_SDK_LOGGERS:
        sdk = logging.getLogger(name)
        sdk.setLevel(floor)
        for own in sdk.handlers:  # a library that brought a handler of its own
            own.addFilter(SDK_FLOOR)
            own.addFilter(REDACTOR)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return handler


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    """A crash's traceback goes through the filter too (its message may quote a secret)."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("habit_coach").critical("unexpected error", exc_info=(kind, error, traceback))
