"""Adapter records: small JSON documents an adapter keeps across restarts and replicas.

Slack's installations and OAuth states live here: a store for the adapters (each call its own
short transaction) and a repository for the engine's unit of work (the member's export and forget).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.tables import adapter_records


def _upsert(dialect_name: str, kind: str, key: str, data: dict[str, Any], now: datetime) -> Any:
    """Store ``data`` under (kind, key), replacing what was there: one statement, so two
    replicas writing the same new key at once both succeed."""
    document = json.dumps(data, default=str, sort_keys=True)
    table = adapter_records
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table).values(kind=kind, key=key, data=document, updated_at=now)
    return statement.on_conflict_do_update(
        index_elements=[table.c.kind, table.c.key],
        set_={"data": statement.excluded.data, "updated_at": statement.excluded.updated_at},
    )


def _select(kind: str, key: str) -> Any:
    table = adapter_records
    return select(table.c.data).where(table.c.kind == kind, table.c.key == key)


def _delete(kind: str, key: str) -> Any:
    table = adapter_records
    return delete(table).where(table.c.kind == kind, table.c.key == key)


def _of_kind(kind: str) -> Any:
    table = adapter_records
    return select(table.c.key, table.c.data).where(table.c.kind == kind).order_by(table.c.key)


class SqlRecordStore:
    """The records for adapters: each call is its own short transaction."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]):
        self.engine = engine
        self._now = now

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        """Store ``data`` under (kind, key), replacing what was there."""
        statement = _upsert(self.engine.dialect.name, kind, key, data, self._now())
        with self.engine.begin() as connection:
            connection.execute(statement)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            document = connection.execute(_select(kind, key)).scalar_one_or_none()
        return None if document is None else dict(json.loads(document))

    def delete(self, kind: str, key: str) -> bool:
        with self.engine.begin() as connection:
            deleted = connection.execute(_delete(kind, key)).rowcount
        return bool(deleted)

    def take(self, kind: str, key: str, max_age: timedelta) -> dict[str, Any] | None:
        """Delete and return the record if it is younger than ``max_age`` (one use only)."""
        table = adapter_records
        with self.engine.begin() as connection:
            row = connection.execute(
                select(table.c.data, table.c.updated_at).where(
                    table.c.kind == kind, table.c.key == key
                )
            ).first()
            if row is None:
                return None
            deleted = connection.execute(_delete(kind, key)).rowcount
        if not deleted or self._now() - row.updated_at > max_age:
            return None
        return dict(json.loads(row.data))

    def purge(self, kind: str, older_than: timedelta, limit: int) -> int:
        """Delete at most ``limit`` records of ``kind`` not written for ``older_than``; the
        number deleted. Bounded, so a caller may run it on every request."""
        table = adapter_records
        stale = (
            select(table.c.key)
            .where(table.c.kind == kind, table.c.updated_at < self._now() - older_than)
            .limit(limit)
            .scalar_subquery()
        )
        with self.engine.begin() as connection:
            deleted = connection.execute(
                delete(table).where(table.c.kind == kind, table.c.key.in_(stale))
            ).rowcount
        return int(deleted)

    def count(self, kind: str) -> int:
        table = adapter_records
        with self.engine.connect() as connection:
            found = connection.execute(
                select(func.count()).select_from(table).where(table.c.kind == kind)
            ).scalar_one()
        return int(found)


class SqlRecordRepository:
    """The same records inside a unit of work's transaction, for the engine's export and forget
    (which hand them to the adapters' :class:`habits.ports.MemberRecords`)."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        document = self.session.execute(_select(kind, key)).scalar_one_or_none()
        return None if document is None else dict(json.loads(document))

    def put(self, kind: str, key: str, data: dict[str, Any], now: datetime) -> None:
        dialect = self.session.get_bind().dialect.name
        self.session.execute(_upsert(dialect, kind, key, data, now))

    def delete(self, kind: str, key: str) -> bool:
        return bool(self.session.execute(_delete(kind, key)).rowcount)  # type: ignore[attr-defined]

    def of_kind(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (row.key, dict(json.loads(row.data))) for row in self.session.execute(_of_kind(kind))
        ]
