"""Repositories over one SQLAlchemy session. They never commit: the unit of work does."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from habits.model import (
    DeliveryKind,
    DeliveryStatus,
    DueDelivery,
    GoalChange,
    Member,
    MemberRef,
    Publication,
    RestWeek,
)
from habits.ports import DuplicatePublicationError, Planner
from habits.scheduling import SPOKEN_FOR, Snapshot, settle_due
from storage.tables import (
    UTCDateTime,
    deliveries,
    goal_changes,
    members,
    publications,
    rest_weeks,
)


class SqlMemberRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, ref: MemberRef) -> Member | None:
        query = select(Member).where(
            members.c.platform == str(ref.platform),
            members.c.workspace == ref.workspace,
            members.c.user_id == ref.user_id,
        )
        return self.session.scalars(query).first()

    def get_by_id(self, member_id: int) -> Member | None:
        return self.session.get(Member, member_id)

    def add(self, member: Member) -> None:
        self.session.add(member)
        self.session.flush()  # assigns the id the other repositories key on

    def delete(self, member: Member) -> None:
        member_id = member.id
        for table in (deliveries, publications, rest_weeks, goal_changes):
            self.session.execute(delete(table).where(table.c.member_id == member_id))
        self.session.delete(member)
        self.session.flush()


class SqlPublicationRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, publication: Publication) -> None:
        # A savepoint: losing a race to a replica handling the same request (or link) must
        # leave this unit of work usable for the engine's "already logged" answer.
        try:
            with self.session.begin_nested():
                self.session.add(publication)
        except IntegrityError as exc:
            # The only unique keys on publications are (member, url) and (member, request).
            reason = str(exc.orig).lower()
            if "unique" in reason or "duplicate key" in reason:
                raise DuplicatePublicationError(reason[:200]) from exc
            raise

    def latest(self, member_id: int) -> Publication | None:
        query = (
            select(Publication)
            .where(publications.c.member_id == member_id)
            .order_by(publications.c.id.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()

    def remove(self, publication: Publication) -> None:
        self.session.delete(publication)
        self.session.flush()

    def has_any_url(self, member_id: int, urls: Sequence[str]) -> bool:
        query = select(publications.c.id).where(
            publications.c.member_id == member_id, publications.c.url.in_(list(urls))
        )
        return self.session.execute(query.limit(1)).first() is not None

    def has_request_key(self, member_id: int, key: str) -> bool:
        query = select(publications.c.id).where(
            publications.c.member_id == member_id, publications.c.request_key == key
        )
        return self.session.execute(query.limit(1)).first() is not None

    def local_days(self, member_id: int, since: date | None = None) -> list[date]:
        query = select(publications.c.local_day).where(publications.c.member_id == member_id)
        if since is not None:
            query = query.where(publications.c.local_day >= since)
        return list(self.session.execute(query).scalars())

    def list(self, member_id: int) -> Sequence[Publication]:
        query = (
            select(Publication)
            .where(publications.c.member_id == member_id)
            .order_by(publications.c.id)
        )
        return self.session.scalars(query).all()

    def recent(self, member_id: int, since: date) -> Sequence[Publication]:
        query = (
            select(Publication)
            .where(publications.c.member_id == member_id, publications.c.local_day >= since)
            .order_by(
                publications.c.local_day.desc(),
                publications.c.published_at.desc(),
                publications.c.id.desc(),
            )
        )
        return self.session.scalars(query).all()

    def find(self, member_id: int, publication_id: int) -> Publication | None:
        found = self.session.get(Publication, publication_id)
        return found if found is not None and found.member_id == member_id else None


class SqlHistoryRepository:
    def __init__(self, session: Session):
        self.session = session

    def goal_changes(self, member_id: int) -> list[GoalChange]:
        query = (
            select(GoalChange)
            .where(goal_changes.c.member_id == member_id)
            .order_by(goal_changes.c.id)
        )
        return list(self.session.scalars(query))

    def add_goal_change(self, change: GoalChange) -> None:
        self.session.add(change)

    def rest_weeks(self, member_id: int) -> list[date]:
        query = (
            select(rest_weeks.c.week_start)
            .where(rest_weeks.c.member_id == member_id)
            .order_by(rest_weeks.c.week_start)
        )
        return list(self.session.execute(query).scalars())

    def add_rest_weeks(self, member_id: int, weeks: Sequence[date]) -> None:
        known = set(self.rest_weeks(member_id))
        for week in weeks:
            if week not in known:
                self.session.add(RestWeek(member_id=member_id, week_start=week))

    def remove_rest_weeks(self, member_id: int, weeks: Sequence[date]) -> None:
        self.session.execute(
            delete(rest_weeks).where(
                rest_weeks.c.member_id == member_id, rest_weeks.c.week_start.in_(list(weeks))
            )
        )


class SqlDeliveryRepository:
    """The delivery log (an outbox) and the sweep that fills it."""

    def __init__(self, session: Session):
        self.session = session

    def sweep(
        self,
        now: datetime,
        platforms: Sequence[str],
        planner: Planner,
        batch_size: int,
        nudge_grace: timedelta,
        recap_grace: timedelta,
    ) -> int:
        """One batch: claim due members, log their slots and advance them in a few statements.

        The database says which slots are due and whether they are fresh (within their grace)
        or stale, so the common row costs a few tuple look-ups in Python: no datetime is read,
        and a schedule is planned (or its plan looked up) once per batch.
        """
        connection = self.session.connection()
        params: dict[str, Any] = {
            "now": now,
            "platforms": list(platforms),
            "nudge_fresh_since": now - nudge_grace,
            "recap_fresh_since": now - recap_grace,
        }
        rows: list[Any] = []
        for query in _DUE_BATCH.values():
            if len(rows) < batch_size:
                params["limit"] = batch_size - len(rows)
                rows.extend(connection.execute(query, params))
        if not rows:
            return 0
        batch = _SweepBatch(now, _RawValues(connection.dialect), planner, nudge_grace, recap_grace)
        batch.classify(rows)
        batch.write(connection)
        return len(rows)

    def anything_due(self, now: datetime, platforms: Sequence[str]) -> bool:
        params = {"now": now, "platforms": list(platforms)}
        return bool(self.session.execute(_ANYTHING_DUE, params).scalar())

    def claim(
        self, now: datetime, platforms: Sequence[str], owner: str, lease: timedelta, limit: int
    ) -> list[DueDelivery]:
        ready = and_(
            deliveries.c.platform.in_(list(platforms)),
            deliveries.c.not_before <= now,
            or_(
                deliveries.c.status == DeliveryStatus.PENDING,
                and_(
                    deliveries.c.status == DeliveryStatus.SENDING,
                    deliveries.c.lease_until < now,
                ),
            ),
        )
        pick = (
            select(deliveries.c.id)
            .where(ready)
            .order_by(deliveries.c.not_before, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(self.session.execute(pick).scalars())
        if not ids:
            return []
        self.session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(
                status=DeliveryStatus.SENDING,
                lease_owner=owner,
                lease_until=now + lease,
                attempts=deliveries.c.attempts + 1,
            )
        )
        query = (
            select(
                deliveries.c.id,
                deliveries.c.member_id,
                members.c.platform,
                members.c.workspace,
                members.c.user_id,
                deliveries.c.kind,
                deliveries.c.scheduled_for,
                deliveries.c.attempts,
                deliveries.c.lease_owner,
            )
            .join(members, members.c.id == deliveries.c.member_id)
            .where(deliveries.c.id.in_(ids))
            .order_by(deliveries.c.not_before, deliveries.c.id)
        )
        return [DueDelivery(*row) for row in self.session.execute(query)]

    def renew(self, delivery_id: int, owner: str, until: datetime) -> bool:
        result = self.session.execute(
            update(deliveries).where(_leased_by(delivery_id, owner)).values(lease_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew_many(self, delivery_ids: Sequence[int], owner: str, until: datetime) -> int:
        if not delivery_ids:
            return 0
        result = self.session.execute(
            update(deliveries).where(_all_leased_by(delivery_ids, owner)).values(lease_until=until)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def release(self, delivery_ids: Sequence[int], owner: str) -> int:
        if not delivery_ids:
            return 0
        # not_before is left as it was: it was due when claimed, so it is claimable right away.
        result = self.session.execute(
            update(deliveries)
            .where(_all_leased_by(delivery_ids, owner))
            .values(
                status=DeliveryStatus.PENDING,
                lease_owner=None,
                lease_until=None,
                attempts=deliveries.c.attempts - 1,  # the claim counted one; nothing was tried
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def backlog(self, now: datetime, platforms: Sequence[str]) -> int:
        # Matches ix_deliveries_queue (status, platform, not_before): an index range scan.
        query = select(func.count()).where(
            deliveries.c.status == DeliveryStatus.PENDING,
            deliveries.c.platform.in_(list(platforms)),
            deliveries.c.not_before <= now,
        )
        return int(self.session.execute(query).scalar_one())

    def finish(
        self, delivery_id: int, status: str, now: datetime, detail: str = "", owner: str = ""
    ) -> bool:
        result = self.session.execute(
            update(deliveries)
            .where(_leased_by(delivery_id, owner))
            .values(
                status=status,
                finished_at=now,
                lease_owner=None,
                lease_until=None,
                detail=detail[:200],
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def retry_later(
        self,
        delivery_id: int,
        at: datetime,
        detail: str,
        owner: str = "",
        count_attempt: bool = True,
    ) -> bool:
        values: dict[str, Any] = {
            "status": DeliveryStatus.PENDING,
            "not_before": at,
            "lease_owner": None,
            "lease_until": None,
            "detail": detail[:200],
        }
        if not count_attempt:  # the claim counted it; a rate limit is not a failed attempt
            values["attempts"] = deliveries.c.attempts - 1
        result = self.session.execute(
            update(deliveries).where(_leased_by(delivery_id, owner)).values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def logged_since(self, member_id: int, kind: str, since: datetime) -> bool:
        query = select(deliveries.c.id).where(
            deliveries.c.member_id == member_id,
            deliveries.c.kind == kind,
            deliveries.c.scheduled_for >= since,
        )
        return self.session.execute(query.limit(1)).first() is not None

    def history(self, member_id: int) -> list[dict[str, object]]:
        # Every column but the internal ids and the lease (which process holds it, till when).
        columns = [c for c in deliveries.c if c.name not in _NOT_HISTORY]
        query = (
            select(*columns)
            .where(deliveries.c.member_id == member_id)
            .order_by(deliveries.c.scheduled_for, deliveries.c.id)
        )
        return [
            {
                name: value.isoformat() if isinstance(value, datetime) else value
                for name, value in row._mapping.items()
            }
            for row in self.session.execute(query)
        ]


_NOT_HISTORY = frozenset({"id", "member_id", "lease_owner", "lease_until"})


def _leased_by(delivery_id: int, owner: str) -> Any:
    """This delivery, and with an ``owner`` only while that process still holds its lease."""
    if not owner:
        return deliveries.c.id == delivery_id
    return and_(
        deliveries.c.id == delivery_id,
        deliveries.c.status == DeliveryStatus.SENDING,
        deliveries.c.lease_owner == owner,
    )


def _all_leased_by(delivery_ids: Sequence[int], owner: str) -> Any:
    """These deliveries, where ``owner`` still holds the lease (another process may not)."""
    return and_(
        deliveries.c.id.in_(list(delivery_ids)),
        deliveries.c.status == DeliveryStatus.SENDING,
        deliveries.c.lease_owner == owner,
    )


# --- the sweep ---------------------------------------------------------------------------------
#
# A sweep of 100,000 due members has about 20 µs for each, database work included, so the hot
# path reads no datetime in Python, builds no statement per batch (each statement below is
# built once: SQLAlchemy then finds its compiled form at once, where rebuilding and hashing it
# every batch cost a tenth of a sweep) and passes a batch's member ids as one parameter.

# The schedule columns, in the order of habits.scheduling.Snapshot's fields.
_SCHEDULE_COLUMNS = (
    "timezone",
    "week_starts_on",
    "goal_target",
    "nudge_days",
    "nudge_minute",
    "nudges_on",
    "paused_until",
    "rest_until",
    "unreachable",
)
# Where a row of _DUE_BATCH holds what: the id, the platform, the schedule as the driver
# returns it, each kind's state (_NOT_DUE, _FRESH or _STALE) and each kind's stored instant.
_ID, _PLATFORM = 0, 1
_SCHEDULE = slice(2, 2 + len(_SCHEDULE_COLUMNS))
_NUDGE_STATE, _RECAP_STATE, _NUDGE_AT, _RECAP_AT = range(_SCHEDULE.stop, _SCHEDULE.stop + 4)
_NOT_DUE, _FRESH, _STALE = 0, 1, 2

_STORED = {DeliveryKind.NUDGE: members.c.next_nudge_at, DeliveryKind.RECAP: members.c.next_recap_at}


def _state(stored: Any, fresh_since_key: str) -> Any:
    """A slot's state: stale when older than its grace (``scheduling.settle_due``'s test,
    ``now - stored > grace``; the parameter ``fresh_since_key`` holds ``now - grace``), fresh
    when due within it, otherwise not due (or NULL)."""
    since = bindparam(fresh_since_key, type_=UTCDateTime)
    return case((stored < since, _STALE), (stored <= _NOW, _FRESH), else_=_NOT_DUE)


def _raw(column: Any) -> Any:
    """``column`` as the driver returns it, without SQLAlchemy's per-value result processing
    (on SQLite, text to date and 0/1 to bool: a fifth of a sweep, for values that only a
    schedule seen for the first time in a batch, or a stale slot, needs converted)."""
    return type_coerce(column, NullType())


_NOW = bindparam("now", type_=UTCDateTime)
_PLATFORMS: Any = bindparam("platforms", expanding=True)


def _due(kind: DeliveryKind) -> Any:
    """Up to :limit members with ``kind`` due, locked (skipping rows another replica holds).

    In the order of the due index, so that it is a range scan that stops at :limit, also on
    PostgreSQL when nearly everyone is due (an OR of both kinds, or no ORDER BY, let it pick a
    sequential or bitmap scan that rereads every row updated by earlier batches). Members due
    for both kinds come with the check-ins, and the nudge scan leaves them out. The database
    classifies each slot, so a fresh one needs no datetime in Python.
    """
    stored = _STORED[kind]
    due = and_(members.c.platform.in_(_PLATFORMS), stored <= _NOW)
    if kind is DeliveryKind.NUDGE:
        recap = members.c.next_recap_at
        due = and_(due, or_(recap.is_(None), recap > _NOW))
    return (
        select(
            members.c.id,
            members.c.platform,
            *(_raw(members.c[name]) for name in _SCHEDULE_COLUMNS),
            _state(members.c.next_nudge_at, "nudge_fresh_since"),
            _state(members.c.next_recap_at, "recap_fresh_since"),
            _raw(members.c.next_nudge_at),
            _raw(members.c.next_recap_at),
        )
        .where(due)
        .order_by(members.c.platform, stored)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )


def _anything_due() -> Any:
    """One SELECT of three EXISTS, each a probe of an index: members due a check-in, members
    due a nudge (ix_members_due_*), deliveries claimable (ix_deliveries_queue). A superset of
    what the sweep and the claim look for, so "no" means both would find nothing."""
    platforms = _PLATFORMS
    claimable = or_(
        deliveries.c.status == DeliveryStatus.PENDING,
        and_(deliveries.c.status == DeliveryStatus.SENDING, deliveries.c.lease_until < _NOW),
    )
    return select(
        or_(
            exists().where(members.c.platform.in_(platforms), members.c.next_recap_at <= _NOW),
            exists().where(members.c.platform.in_(platforms), members.c.next_nudge_at <= _NOW),
            exists().where(
                deliveries.c.platform.in_(platforms), deliveries.c.not_before <= _NOW, claimable
            ),
        )
    )


_ANYTHING_DUE = _anything_due()

# Check-ins first: a member due for both is claimed once, with both slots.
_DUE_BATCH = {kind: _due(kind) for kind in (DeliveryKind.RECAP, DeliveryKind.NUDGE)}


class _RawValues:
    """Converts the sweep's raw column values into the engine's types, only where needed."""

    def __init__(self, dialect: Dialect):
        self._schedule = [_result_processor(members.c[n], dialect) for n in _SCHEDULE_COLUMNS]
        self._instant = _result_processor(members.c.next_nudge_at, dialect)

    def snapshot(self, raw: tuple[Any, ...]) -> Snapshot:
        return Snapshot(
            *(
                value if convert is None or value is None else convert(value)
                for convert, value in zip(self._schedule, raw, strict=True)
            )
        )

    def instant(self, raw: Any) -> datetime:
        convert = self._instant
        assert convert is not None  # UTCDateTime always converts
        return convert(raw)  # type: ignore[no-any-return]


def _result_processor(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    processor: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).result_processor(
        dialect, None
    )
    return processor


class _SweepBatch:
    """What one sweep batch writes, gathered so that it takes a handful of statements.

    The common case, a slot due within its grace, is logged with one INSERT … SELECT per kind
    (and one for nudges the check-in speaks for) that copies the instant from the member row,
    and members are advanced with one UPDATE per kind. Only stale slots after downtime are
    settled in Python (``scheduling.settle_due``) and written row by row.
    """

    def __init__(
        self,
        now: datetime,
        raw: _RawValues,
        planner: Planner,
        nudge_grace: timedelta,
        recap_grace: timedelta,
    ):
        self.now = now
        self.raw = raw
        self.planner = planner
        self.grace = {DeliveryKind.NUDGE: nudge_grace, DeliveryKind.RECAP: recap_grace}
        # Fresh slots by (kind, reason skipped): copied from the member rows in SQL.
        self.fresh: dict[tuple[DeliveryKind, str | None], list[int]] = {
            (DeliveryKind.RECAP, None): [],
            (DeliveryKind.NUDGE, None): [],
            (DeliveryKind.NUDGE, SPOKEN_FOR): [],
        }
        self.rows: list[dict[str, Any]] = []
        self.advance: dict[DeliveryKind, dict[datetime | None, list[int]]] = {
            k: defaultdict(list) for k in DeliveryKind
        }

    def classify(self, rows: Sequence[Any]) -> None:
        """Sort each claimed row into what its slots need: the hot loop of a sweep."""
        now, planner, snapshot = self.now, self.planner, self.raw.snapshot
        plans: dict[tuple[Any, ...], tuple[datetime | None, datetime | None]] = {}
        recaps, nudges = self.fresh[DeliveryKind.RECAP, None], self.fresh[DeliveryKind.NUDGE, None]
        spoken_for = self.fresh[DeliveryKind.NUDGE, SPOKEN_FOR]
        next_nudge, next_recap = self.advance[DeliveryKind.NUDGE], self.advance[DeliveryKind.RECAP]
        for row in rows:
            schedule = row[_SCHEDULE]
            plan = plans.get(schedule)
            if plan is None:
                plan = plans[schedule] = planner(snapshot(schedule), now)
            nudge, recap = row[_NUDGE_STATE], row[_RECAP_STATE]
            if nudge == _STALE or recap == _STALE:
                self._settle_stale(row, plan)
                continue
            member_id = row[_ID]
            if recap:
                recaps.append(member_id)
                next_recap[plan[1]].append(member_id)
            if nudge:
                # One message at a time: the check-in carries the week's next step anyway.
                (spoken_for if recap else nudges).append(member_id)
                next_nudge[plan[0]].append(member_id)

    def _settle_stale(self, row: Any, plan: tuple[datetime | None, datetime | None]) -> None:
        """A row with a slot past its grace (the coach was down): settled in Python."""
        snapshot = self.raw.snapshot(row[_SCHEDULE])
        recap_sent = False
        if row[_RECAP_STATE]:
            stored = self.raw.instant(row[_RECAP_AT])
            recap_sent = self._settle(row, DeliveryKind.RECAP, stored, plan[1], snapshot)
        if row[_NUDGE_STATE]:
            stored = self.raw.instant(row[_NUDGE_AT])
            self._settle(row, DeliveryKind.NUDGE, stored, plan[0], snapshot, recap_sent)

    def _settle(
        self,
        row: Any,
        kind: DeliveryKind,
        stored: datetime,
        next_instant: datetime | None,
        snapshot: Snapshot,
        spoken_for: bool = False,
    ) -> bool:
        """Log a due slot as ``scheduling.settle_due`` decides and advance past it; True when a
        message will go out for it."""
        member_id = row[_ID]
        self.advance[kind][next_instant].append(member_id)
        grace = self.grace[kind]
        index = 0 if kind is DeliveryKind.NUDGE else 1

        def later() -> datetime | None:
            return self.planner(snapshot, self.now - grace)[index]

        sends = False
        for instant, skipped in settle_due(stored, self.now, grace, later, spoken_for):
            sends = sends or skipped is None
            self.rows.append(_log_row(member_id, row[_PLATFORM], kind, instant, self.now, skipped))
        return sends

    def write(self, connection: Connection) -> None:
        dialect = connection.dialect.name
        for (kind, skipped), ids in self.fresh.items():
            if ids:
                params = {"ids": _ids_param(dialect, ids), "now": self.now}
                connection.execute(_fresh_log(dialect, kind, skipped), params)
        if self.rows:
            connection.execute(_log_insert(dialect).on_conflict_do_nothing(), self.rows)
        for kind, groups in self.advance.items():
            if groups and dialect == "postgresql":
                _advance_from_arrays(connection, kind, groups)
            elif groups:
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
        _STORED[kind],
        literal(str(status), String),
        literal(0, Integer),
        _NOW,
        _NOW,
        null() if skipped is None else _NOW,
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
    return update(members).where(_among(members.c.id, dialect)).values({_STORED[kind]: None})


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
        f"UPDATE members SET {_STORED[kind].name} = v.at"  # noqa: S608 - a column name of ours
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
    column = _STORED[kind]
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


def _log_row(
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
