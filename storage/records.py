"""Adapter records: small JSON documents an adapter keeps across restarts and replicas.

Slack's installations and OAuth states live here. Each call is its own short transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.tables import adapter_records


class SqlRecordStore:
    def __init__(self, engine: Engine, now: Callable[[], datetime]):
        self.engine = engine
        self._now = now

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        """Store ``data`` under (kind, key), replacing what was there.

        One upsert statement, so two replicas writing the same new key at once both succeed.
        """
        document = json.dumps(data, default=str, sort_keys=True)
        table = adapter_records
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(
            kind=kind, key=key, data=document, updated_at=self._now()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.kind, table.c.key],
            set_={"data": statement.excluded.data, "updated_at": statement.excluded.updated_at},
        )
        with self.engine.begin() as connection:
            connection.execute(statement)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        table = adapter_records
        with self.engine.connect() as connection:
            document = connection.execute(
                select(table.c.data).where(table.c.kind == kind, table.c.key == key)
            ).scalar_one_or_none()
        return None if document is None else dict(json.loads(document))

    def delete(self, kind: str, key: str) -> bool:
        table = adapter_records
        with self.engine.begin() as connection:
            deleted = connection.execute(
                delete(table).where(table.c.kind == kind, table.c.key == key)
            ).rowcount
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
            deleted = connection.execute(
                delete(table).where(table.c.kind == kind, table.c.key == key)
            ).rowcount
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
