"""Repositories over one SQLAlchemy session. They never commit: the unit of work does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    delete,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
from habits.scheduling import Snapshot, settle_due
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


def _insert_ignoring_duplicates(
    session: Session, table: Any, rows: list[dict[str, Any]] | Select[Any]
) -> None:
    """INSERT rows (a list, or a SELECT of the delivery log's columns), skipping duplicates."""
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    if isinstance(rows, Select):
        session.execute(statement.from_select(_FRESH_COLUMNS, rows).on_conflict_do_nothing())
    elif rows:
        session.execute(statement.on_conflict_do_nothing(), rows)


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
        platform_list = list(platforms)
        due = or_(
            and_(members.c.platform.in_(platform_list), members.c.next_nudge_at <= now),
            and_(members.c.platform.in_(platform_list), members.c.next_recap_at <= now),
        )
        columns = [members.c[name] for name in _PLAN_COLUMNS]
        query = select(*columns).where(due).limit(batch_size).with_for_update(skip_locked=True)
        rows = self.session.execute(query).all()
        if not rows:
            return 0
        batch = _SweepBatch(now)
        snapshots: dict[tuple[Any, ...], Snapshot] = {}  # rows that share a schedule share one
        for row in rows:
            schedule = tuple(row[2:-2])
            snapshot = snapshots.get(schedule) or snapshots.setdefault(
                schedule, Snapshot(*schedule)
            )
            plan = planner(snapshot, now)
            recap_sent = False
            if row.next_recap_at is not None and row.next_recap_at <= now:
                recap_sent = batch.due(
                    row,
                    DeliveryKind.RECAP,
                    row.next_recap_at,
                    recap_grace,
                    plan[1],
                    partial(planner, snapshot, now - recap_grace),
                )
            if row.next_nudge_at is not None and row.next_nudge_at <= now:
                batch.due(
                    row,
                    DeliveryKind.NUDGE,
                    row.next_nudge_at,
                    nudge_grace,
                    plan[0],
                    partial(planner, snapshot, now - nudge_grace),
                    # One message at a time: the check-in carries the week's next step anyway.
                    spoken_for=recap_sent,
                )
        batch.write(self.session)
        return len(rows)

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
        query = (
            select(
                deliveries.c.kind,
                deliveries.c.scheduled_for,
                deliveries.c.status,
                deliveries.c.finished_at,
            )
            .where(deliveries.c.member_id == member_id)
            .order_by(deliveries.c.scheduled_for)
        )
        return [
            {
                "kind": row.kind,
                "scheduled_for": row.scheduled_for.isoformat(),
                "status": row.status,
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            }
            for row in self.session.execute(query)
        ]


def _leased_by(delivery_id: int, owner: str) -> Any:
    """This delivery, and with an ``owner`` only while that process still holds its lease."""
    if not owner:
        return deliveries.c.id == delivery_id
    return and_(
        deliveries.c.id == delivery_id,
        deliveries.c.status == DeliveryStatus.SENDING,
        deliveries.c.lease_owner == owner,
    )


# The row the sweep reads: the id and platform, the schedule (a Snapshot), the two instants.
_PLAN_COLUMNS = (
    "id",
    "platform",
    "timezone",
    "week_starts_on",
    "goal_target",
    "nudge_days",
    "nudge_minute",
    "nudges_on",
    "paused_until",
    "rest_until",
    "unreachable",
    "next_nudge_at",
    "next_recap_at",
)
_STORED = {DeliveryKind.NUDGE: members.c.next_nudge_at, DeliveryKind.RECAP: members.c.next_recap_at}
# Below this many members per distinct next instant, one executemany beats an UPDATE per group.
_ROWS_PER_GROUP_UPDATE = 32


class _SweepBatch:
    """What one sweep batch writes, gathered so that it takes a handful of statements.

    The common case, a slot due just now, is logged with one INSERT … SELECT per kind that
    copies the instant from the member row; members are advanced with one UPDATE per distinct
    next instant. Only stale slots after downtime are written row by row.
    """

    def __init__(self, now: datetime):
        self.now = now
        self.fresh: dict[DeliveryKind, list[int]] = {k: [] for k in DeliveryKind}
        self.rows: list[dict[str, Any]] = []
        self.advance: dict[DeliveryKind, dict[datetime | None, list[int]]] = {
            k: defaultdict(list) for k in DeliveryKind
        }

    def due(
        self,
        row: Any,
        kind: DeliveryKind,
        stored: datetime,
        grace: timedelta,
        next_instant: datetime | None,
        catch_up: Callable[[], tuple[datetime | None, datetime | None]],
        spoken_for: bool = False,
    ) -> bool:
        """Log a due slot as ``scheduling.settle_due`` decides and advance past it; True when a
        message will go out for it."""
        self.advance[kind][next_instant].append(row.id)
        index = 0 if kind is DeliveryKind.NUDGE else 1

        def later() -> datetime | None:
            return catch_up()[index]

        sends = False
        for instant, skipped in settle_due(stored, self.now, grace, later, spoken_for):
            sends = sends or skipped is None
            if skipped is None and instant == stored:
                self.fresh[kind].append(row.id)  # the common case: copied over in SQL
            else:
                self.rows.append(_log_row(row, kind, instant, self.now, skipped))
        return sends

    def write(self, session: Session) -> None:
        now = self.now
        for kind, ids in self.fresh.items():
            if ids:
                _insert_ignoring_duplicates(session, deliveries, _fresh_log(kind, ids, now))
        if self.rows:
            _insert_ignoring_duplicates(session, deliveries, self.rows)
        for kind, groups in self.advance.items():
            advanced = sum(len(ids) for ids in groups.values())
            if len(groups) * _ROWS_PER_GROUP_UPDATE <= advanced:
                # Members due together mostly share their next instant: one UPDATE each.
                for instant, ids in groups.items():
                    session.execute(
                        update(members)
                        .where(members.c.id.in_(ids))
                        .values({_STORED[kind]: instant})
                    )
            elif advanced:
                _advance_one_by_one(session, kind, groups)


def _advance_one_by_one(
    session: Session, kind: DeliveryKind, groups: dict[datetime | None, list[int]]
) -> None:
    """One executemany at the driver, each distinct instant converted for it once.

    The hot path of a sweep whose members' next instants are mostly different: going through
    SQLAlchemy's per-row parameter processing here cost about a third of the whole sweep.
    """
    connection = session.connection()
    dialect = connection.dialect
    column = _STORED[kind]
    to_driver = column.type.dialect_impl(dialect).bind_processor(dialect)
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    params: list[tuple[Any, int]] = []
    for instant, ids in groups.items():
        value = to_driver(instant) if to_driver is not None and instant is not None else instant
        params.extend((value, member_id) for member_id in ids)
    connection.exec_driver_sql(
        f"UPDATE members SET {column.name} = {marker} WHERE id = {marker}",  # noqa: S608
        params,
    )


def _fresh_log(kind: DeliveryKind, member_ids: list[int], now: datetime) -> Select[Any]:
    """Pending log rows for the given members' stored instant of ``kind``, read in SQL."""
    return select(
        members.c.id,
        members.c.platform,
        literal(str(kind), String),
        _STORED[kind],
        literal(str(DeliveryStatus.PENDING), String),
        literal(0, Integer),
        literal(now, UTCDateTime),
        literal(now, UTCDateTime),
        literal("", String),
    ).where(members.c.id.in_(member_ids))


_FRESH_COLUMNS = (
    "member_id",
    "platform",
    "kind",
    "scheduled_for",
    "status",
    "attempts",
    "not_before",
    "created_at",
    "detail",
)


def _log_row(
    row: Any, kind: DeliveryKind, scheduled_for: datetime, now: datetime, skipped: str | None
) -> dict[str, Any]:
    """A log row: pending when ``skipped`` is None, else skipped for that reason."""
    return {
        "member_id": row.id,
        "platform": row.platform,
        "kind": kind,
        "scheduled_for": scheduled_for,
        "status": DeliveryStatus.PENDING if skipped is None else DeliveryStatus.SKIPPED,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "finished_at": None if skipped is None else now,
        "detail": skipped or "",
    }
