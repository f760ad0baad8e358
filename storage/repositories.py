"""Repositories over one SQLAlchemy session. They never commit: the unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
from habits.ports import Planner
from storage.tables import deliveries, goal_changes, members, publications, rest_weeks


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
        self.session.add(publication)
        self.session.flush()

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

    def has_url(self, member_id: int, url: str) -> bool:
        query = select(publications.c.id).where(
            publications.c.member_id == member_id, publications.c.url == url
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


def _insert_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        session.execute(insert(table), rows)


_ADVANCE = (
    update(members)
    .where(members.c.id == bindparam("b_id"))
    .values(next_nudge_at=bindparam("b_nudge"), next_recap_at=bindparam("b_recap"))
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
        plans: dict[tuple[Any, ...], tuple[datetime | None, datetime | None]] = {}

        def plan_after(row: Any, after: datetime) -> tuple[datetime | None, datetime | None]:
            key = (after, *row[2:-2])  # the schedule, not the stored instants
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = planner(_member_for_planning(row), after)
            return plan

        log: list[dict[str, Any]] = []
        advances: list[dict[str, Any]] = []
        for row in rows:
            plan = plan_after(row, now)
            next_nudge, next_recap = row.next_nudge_at, row.next_recap_at
            recap_rows: list[dict[str, Any]] = []
            if next_recap is not None and next_recap <= now:
                catch_up = plan_after(row, now - recap_grace)[1]
                recap_rows = _due_rows(
                    row, DeliveryKind.RECAP, next_recap, catch_up, now, recap_grace
                )
                next_recap = plan[1]
            if next_nudge is not None and next_nudge <= now:
                catch_up = plan_after(row, now - nudge_grace)[0]
                nudge_rows = _due_rows(
                    row, DeliveryKind.NUDGE, next_nudge, catch_up, now, nudge_grace
                )
                if any(r["status"] == DeliveryStatus.PENDING for r in recap_rows):
                    # One message at a time: the check-in carries the week's next step anyway.
                    nudge_rows = [
                        _skipped(r, now, "the weekly check-in spoke for it") for r in nudge_rows
                    ]
                log.extend(nudge_rows)
                next_nudge = plan[0]
            log.extend(recap_rows)
            advances.append({"b_id": row.id, "b_nudge": next_nudge, "b_recap": next_recap})
        _insert_ignoring_duplicates(self.session, deliveries, log)
        self.session.connection().execute(_ADVANCE, advances)
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
            )
            .join(members, members.c.id == deliveries.c.member_id)
            .where(deliveries.c.id.in_(ids))
            .order_by(deliveries.c.not_before, deliveries.c.id)
        )
        return [DueDelivery(*row) for row in self.session.execute(query)]

    def finish(self, delivery_id: int, status: str, now: datetime, detail: str = "") -> None:
        self.session.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                status=status,
                finished_at=now,
                lease_owner=None,
                lease_until=None,
                detail=detail[:200],
            )
        )

    def retry_later(self, delivery_id: int, at: datetime, detail: str) -> None:
        self.session.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                status=DeliveryStatus.PENDING,
                not_before=at,
                lease_owner=None,
                lease_until=None,
                detail=detail[:200],
            )
        )

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

    def count(self, status: str | None = None) -> int:
        query = select(func.count()).select_from(deliveries)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        return int(self.session.execute(query).scalar_one())


# Columns the planner needs; all but the id, the platform and the two instants form the memo key.
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


def _member_for_planning(row: Any) -> Member:
    # A transient copy: planning reads it and nothing is written back through the ORM.
    return Member(
        platform=row.platform,
        workspace="",
        user_id="",
        created_at=datetime.min.replace(tzinfo=UTC),
        timezone=row.timezone,
        week_starts_on=row.week_starts_on,
        goal_target=row.goal_target,
        nudge_days=row.nudge_days,
        nudge_minute=row.nudge_minute,
        nudges_on=row.nudges_on,
        paused_until=row.paused_until,
        rest_until=row.rest_until,
        unreachable=row.unreachable,
    )


def _due_rows(
    row: Any,
    kind: DeliveryKind,
    stored: datetime,
    catch_up: datetime | None,
    now: datetime,
    grace: timedelta,
) -> list[dict[str, Any]]:
    """Log rows for a due instant: pending if fresh; if stale, skipped plus at most one catch-up.

    After downtime the stored instant may be days old while a later slot of the same schedule
    passed only minutes ago (``catch_up``, the first slot within the grace period): that one is
    still worth sending, once. Slots in between are not logged at all.
    """
    if now - stored <= grace:
        return [_log_row(row, kind, stored, True, now)]
    rows = [_log_row(row, kind, stored, False, now)]
    if catch_up is not None and stored < catch_up <= now:
        rows.append(_log_row(row, kind, catch_up, True, now))
    return rows


def _skipped(log_row: dict[str, Any], now: datetime, detail: str) -> dict[str, Any]:
    if log_row["status"] != DeliveryStatus.PENDING:
        return log_row
    return {**log_row, "status": DeliveryStatus.SKIPPED, "finished_at": now, "detail": detail}


def _log_row(
    row: Any, kind: DeliveryKind, scheduled_for: datetime, fresh: bool, now: datetime
) -> dict[str, Any]:
    return {
        "member_id": row.id,
        "platform": row.platform,
        "kind": kind,
        "scheduled_for": scheduled_for,
        "status": DeliveryStatus.PENDING if fresh else DeliveryStatus.SKIPPED,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "finished_at": None if fresh else now,
        "detail": "" if fresh else "missed while the coach was down",
    }
