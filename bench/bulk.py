"""Fresh benchmark databases, and bulk writes: executemany on SQLite, COPY on PostgreSQL.

A million member rows through SQLAlchemy's per-row parameter processing takes minutes; the
driver-level paths below take seconds. Values are converted for SQLite by the column types' own
bind processors (memoised: the population has few distinct instants), so what lands in the file
is exactly what the application would have written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, text

from storage.database import is_sqlite, make_engine, upgrade

Converter = Callable[[Any], Any]


@dataclass
class Target:
    """One database server the benchmark runs on: SQLite files in a temp dir, or a PostgreSQL
    database whose public schema each phase drops and recreates."""

    name: str
    postgres_url: str | None = None
    _tmp: Path | None = field(default=None, repr=False)

    @classmethod
    def sqlite(cls, folder: Path | None = None) -> Target:
        tmp = folder or Path(tempfile.mkdtemp(prefix="habit-coach-bench-"))
        tmp.mkdir(parents=True, exist_ok=True)
        return cls("SQLite", None, tmp)

    @classmethod
    def postgres(cls, url: str) -> Target:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return cls("PostgreSQL", url)

    @property
    def is_sqlite(self) -> bool:
        return self.postgres_url is None

    def fresh(self, label: str) -> str:
        """A migrated, empty database for one phase; returns its URL."""
        if self.postgres_url is None:
            assert self._tmp is not None
            path = self._tmp / f"{label}.db"
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        else:
            url = self.postgres_url
            engine = make_engine(url, pool_size=1)
            try:
                with engine.begin() as connection:
                    connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                    connection.execute(text("CREATE SCHEMA public"))
            finally:
                engine.dispose()
        upgrade(url)
        return url

    def discard(self, url: str) -> None:
        """Free a phase's disk space (SQLite files; PostgreSQL is reset by the next phase)."""
        if is_sqlite(url):
            path = Path(url.removeprefix("sqlite:///"))
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _memoised(convert: Converter) -> Converter:
    cache: dict[Any, Any] = {}

    def run(value: Any) -> Any:
        if value is None:
            return None
        found = cache.get(value, cache)
        if found is cache:
            found = cache[value] = convert(value)
        return found

    return run


def _sqlite_converters(connection: Connection, table: Table, columns: Sequence[str]) -> list[Any]:
    """Per column, the SQLite bind conversion the column's type applies (None: pass as is)."""
    dialect = connection.dialect
    converters: list[Any] = []
    for name in columns:
        # For a TypeDecorator this includes its process_bind_param (UTC, refuse naive).
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        converters.append(None if processor is None else _memoised(processor))
    return converters


def write_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Write ``rows`` (tuples in ``columns`` order) into ``table``; returns how many."""
    if connection.dialect.name == "postgresql":
        return _copy(connection, table, columns, rows)
    converters = _sqlite_converters(connection, table, columns)
    active = [(index, conv) for index, conv in enumerate(converters) if conv is not None]
    converted: list[Sequence[Any]] = []
    for row in rows:
        if active:
            values = list(row)
            for index, conv in active:
                values[index] = conv(values[index])
            converted.append(tuple(values))
        else:
            converted.append(row)
    if not converted:
        return 0
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
        converted,
    )
    return len(converted)


def _copy(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY … FROM STDIN through psycopg: the fastest way into PostgreSQL."""
    raw: Any = connection.connection.dbapi_connection
    count = 0
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def write_dicts(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """:func:`write_rows` for dict rows that share their keys (the first row's)."""
    if not rows:
        return 0
    columns = list(rows[0])
    return write_rows(connection, table, columns, (tuple(r[c] for c in columns) for r in rows))


def after_bulk_load(engine: Engine) -> None:
    """PostgreSQL: move the id sequences past explicit ids and gather planner statistics, as
    autovacuum would shortly after a real load. SQLite is left as the application leaves it."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        for table in ("members", "publications", "goal_changes", "rest_weeks", "deliveries"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"GREATEST((SELECT MAX(id) FROM {table}), 1))"
                )
            )
    analyze(engine)


def analyze(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("ANALYZE"))


def engine_for(url: str, threads: int = 4) -> Engine:
    return make_engine(url, pool_size=threads)
