"""How a sweep batch is written: the delivery log's INSERTs and the members' advance to their
next slots, each one statement built once per database (PostgreSQL and SQLite differ)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    any_,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from habits.model import DeliveryKind, DeliveryStatus
from storage.tables import UTCDateTime, deliveries, members

NOW = bindparam("now", type_=UTCDateTime)
# Where a member row keeps each kind's next instant (the heads-up is one of the nudge slots).
NEXT_AT = {
    DeliveryKind.NUDGE: members.c.next_nudge_at,
    DeliveryKind.CHECKIN: members.c.next_checkin_at,
    DeliveryKind.HEADSUP: members.c.next_nudge_at,
}


def log_fresh(
    connection: Connection, kind: DeliveryKind, skipped: str | None, ids: list[int], now: datetime
) -> None:
    """Log ``kind`` for the members ``ids`` at the instant their rows hold (:func:`_fresh_log`)."""
    dialect = connection.dialect.name
    params = {"ids": _ids_param(dialect, ids), "now": now}
    connection.execute(_fresh_log(dialect, kind, skipped), params)


def log_settled(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Log rows made by :func:`log_row`, skipping any already logged."""
    connection.execute(_log_insert(connection.dialect.name).on_conflict_do_nothing(), rows)


def advance(
    connection: Connection, kind: DeliveryKind, groups: dict[datetime | None, list[int]]
) -> None:
    """Set ``kind``'s next instant of the members in ``groups`` (``{instant: [member ids]}``)."""
    if connection.dialect.name == "postgresql":
        _advance_from_arrays(connection, kind, groups)
    else:
        _advance_from_json(connection, kind, groups)


def _log_insert(dialect: str) -> Any:
    """An INSERT into the delivery log that can skip rows already logged (ON CONFLICT)."""
    if dialect == "postgresql":
        return postgresql.insert(deliveries)
    if dialect == "sqlite":
        return sqlite.insert(deliveries)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def _among(column: Any, dialect: str) -> Any:
    """``column`` is one of the ids in the parameter ``ids`` (see :func:`_ids_param`): one
    parameter, so one compiled statement and one server-side plan, where a thousand bound
    values cost a tenth of a sweep in SQLAlchemy and a third of it at PostgreSQL's server."""
    ids = bindparam("ids", type_=String)
    if dialect == "postgresql":
        return column == any_(cast(ids, postgresql.ARRAY(Integer)))
    return column.in_(select(func.json_each(ids).table_valued("value").c.value))


def _ids_param(dialect: str, ids: list[int]) -> str:
    """The value of :func:`_among`'s parameter: an array literal on PostgreSQL, JSON on SQLite
    (psycopg adapts a list element by element in Python: a fifth of a sweep)."""
    listed = ",".join(map(str, ids))
    return f"{{{listed}}}" if dialect == "postgresql" else f"[{listed}]"


@cache
def _fresh_log(dialect: str, kind: DeliveryKind, skipped: str | None) -> Any:
    """Log rows for the members ``ids``, at their stored instant of ``kind``, copied in SQL:
    pending, or skipped (and finished) for the reason ``skipped``."""
    status = DeliveryStatus.PENDING if skipped is None else DeliveryStatus.SKIPPED
    rows = select(
        members.c.id,
        members.c.platform,
        literal(str(kind), String),
        NEXT_AT[kind],
        literal(str(status), String),
        literal(0, Integer),
        NOW,
        NOW,
        null() if skipped is None else NOW,
        literal(skipped or "", String),
    ).where(_among(members.c.id, dialect))
    return _log_insert(dialect).from_select(_LOG_COLUMNS, rows).on_conflict_do_nothing()


_LOG_COLUMNS = (
    "member_id",
    "platform",
    "kind",
    "scheduled_for",
    "status",
    "attempts",
    "not_before",
    "created_at",
    "finished_at",
    "detail",
)


@cache
def _unschedule(dialect: str, kind: DeliveryKind) -> Any:
    """Clear ``kind``'s next instant of the members ``ids`` (nothing left to plan)."""
    return update(members).where(_among(members.c.id, dialect)).values({NEXT_AT[kind]: None})


def _advance_from_arrays(
    connection: Connection, kind: DeliveryKind, groups: dict[datetime | None, list[int]]
) -> None:
    """PostgreSQL: the batch advanced by one ``UPDATE … FROM unnest(ids, instants)``, both
    arrays passed as literals (each distinct instant formatted once)."""
    ids: list[str] = []
    instants: list[str] = []
    for instant, group in groups.items():
        ids.extend(map(str, group))
        instants.extend(["NULL" if instant is None else f'"{instant.isoformat()}"'] * len(group))
    connection.exec_driver_sql(
        f"UPDATE members SET {NEXT_AT[kind].name} = v.at"  # noqa: S608 - a column name of ours
        " FROM unnest(%s::integer[], %s::timestamptz[]) AS v(id, at)"
        " WHERE members.id = v.id",
        (f"{{{','.join(ids)}}}", f"{{{','.join(instants)}}}"),
    )


def _advance_from_json(
    connection: Connection, kind: DeliveryKind, groups: dict[datetime | None, list[int]]
) -> None:
    """SQLite: the batch advanced by one ``UPDATE … FROM json_each(…)`` over
    ``{next instant: [member ids]}``, each distinct instant converted once for the driver.

    Per-row statements (an executemany) spent more in the driver than SQLite spent updating.
    """
    dialect = connection.dialect
    column = NEXT_AT[kind]
    to_driver = column.type.dialect_impl(dialect).bind_processor(dialect)
    assert to_driver is not None  # UTCDateTime converts to SQLite's text
    by_instant = {to_driver(at): ids for at, ids in groups.items() if at is not None}
    if by_instant:
        connection.exec_driver_sql(
            f"UPDATE members SET {column.name} = instant.key"  # noqa: S608 - our column
            " FROM json_each(?) AS instant, json_each(instant.value) AS member"
            " WHERE members.id = member.value",
            (json.dumps(by_instant),),
        )
    if None in groups:
        connection.execute(
            _unschedule(dialect.name, kind), {"ids": _ids_param(dialect.name, groups[None])}
        )


def log_row(
    member_id: int,
    platform: str,
    kind: DeliveryKind,
    scheduled_for: datetime,
    now: datetime,
    skipped: str | None,
) -> dict[str, Any]:
    """A log row: pending when ``skipped`` is None, else skipped for that reason."""
    return {
        "member_id": member_id,
        "platform": platform,
        "kind": kind,
        "scheduled_for": scheduled_for,
        "status": DeliveryStatus.PENDING if skipped is None else DeliveryStatus.SKIPPED,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "finished_at": None if skipped is None else now,
        "detail": skipped or "",
    }
