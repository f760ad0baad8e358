"""The delivery log, an outbox of nudges and check-ins: claimed under a lease by the process
that sends them, then finished, retried or handed back. The sweep (``storage.sweep``) fills it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from habits.model import DeliveryKind, DeliveryStatus, DueDelivery, LoggedDelivery
from habits.ports import Planner
from storage import sweep
from storage.tables import deliveries, members


class SqlDeliveryRepository:
    """The delivery log over one session; the sweep and its probe are in ``storage.sweep``."""

    def __init__(self, session: Session):
        self.session = session

    def sweep(
        self,
        now: datetime,
        platforms: Sequence[str],
        planner: Planner,
        batch_size: int,
        nudge_grace: timedelta,
        checkin_grace: timedelta,
    ) -> int:
        grace = {DeliveryKind.NUDGE: nudge_grace, DeliveryKind.CHECKIN: checkin_grace}
        connection = self.session.connection()
        return sweep.sweep_batch(connection, now, platforms, planner, batch_size, grace)

    def anything_due(self, now: datetime, platforms: Sequence[str]) -> bool:
        return sweep.anything_due(self.session, now, platforms)

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

    def history(self, member_id: int) -> list[LoggedDelivery]:
        query = (
            select(*_LOGGED)
            .where(deliveries.c.member_id == member_id)
            .order_by(deliveries.c.scheduled_for, deliveries.c.id)
        )
        return [LoggedDelivery(*row) for row in self.session.execute(query)]


# What the member's export shows of a delivery: every column but the internal ids and the lease
# (which process holds it, till when).
_LOGGED = tuple(deliveries.c[field.name] for field in fields(LoggedDelivery))


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
