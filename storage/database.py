"""Engines for SQLite (WAL, one writer at a time) and PostgreSQL, and the migration runner."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

MIGRATIONS = Path(__file__).parent / "migrations"
WAL_CHECKPOINT_PAGES = 1000  # SQLite's default: 4 MiB of 4 KiB pages
WAL_SIZE_LIMIT = 4 * 1024 * 1024


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder a SQLite file lives in (a fresh machine has no data directory yet)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long the database may keep a caller waiting, in seconds: past it, the caller gets an
    error (and a member the "try again" answer) instead of a thread stuck for good."""

    connect: float = 10.0  # PostgreSQL: reach the server and log in
    statement: float = 30.0  # PostgreSQL: one statement; SQLite: waiting for the write lock
    lock: float = 10.0  # PostgreSQL: waiting for a lock another session holds
    # PostgreSQL: a connection whose server stopped answering (a dead host, a cut network) is
    # found by TCP keepalives after idle + interval × count seconds.
    keepalive_idle: int = 10
    keepalive_interval: int = 5
    keepalive_count: int = 3


def make_engine(
    url: str, *, pool_size: int = 5, timeouts: DatabaseTimeouts | None = None
) -> Engine:
    """An engine for ``url``. SQLite files get WAL mode and immediate write transactions.

    With ``timeouts`` (the running coach always passes them), a stuck database turns into an
    error within them; without (bulk loads in benchmarks, tests), statements may run for long
    and SQLite waits 30 s for the write lock.
    """
    if is_sqlite(url):
        ensure_sqlite_directory(url)
        busy = 30.0 if timeouts is None else timeouts.statement
        engine = create_engine(url, connect_args={"timeout": busy})
        _configure_sqlite(engine, busy)
        return engine
    connect_args = {} if timeouts is None else _postgres_timeouts(url, timeouts)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _postgres_timeouts(url: str, timeouts: DatabaseTimeouts) -> dict[str, Any]:
    """libpq parameters bounding the connect, every statement and every lock wait, kept with
    any ``options`` the URL already sets."""
    settings = (
        f"-c statement_timeout={math.ceil(timeouts.statement * 1000)}"
        f" -c lock_timeout={math.ceil(timeouts.lock * 1000)}"
    )
    given = make_url(url).query.get("options")
    given = given[-1] if isinstance(given, tuple) else given
    return {
        "connect_timeout": max(2, math.ceil(timeouts.connect)),  # libpq's least is 2 s
        "options": f"{given} {settings}" if given else settings,
        "keepalives": 1,
        "keepalives_idle": timeouts.keepalive_idle,
        "keepalives_interval": timeouts.keepalive_interval,
        "keepalives_count": timeouts.keepalive_count,
    }


def _configure_sqlite(engine: Engine, busy_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={math.ceil(busy_seconds * 1000)}")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache: indexes stay hot
        # Checkpoint every 4 MiB of log, and cut the log back to that size afterwards: a full
        # disk is then recovered from once a few MiB are freed (at 32 MiB, a 16 MiB disk never
        # reached a checkpoint, and kept failing long after space was freed).
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a read-then-write transaction can then never fail with
        # "database is locked" halfway, which is what makes the sweep's claim safe on SQLite.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is away (disk full, locked, a statement or lock timed
    out, the server unreachable or gone), not that the work itself was wrong."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


def head_revision() -> str | None:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
