"""The outbox: what the coach has to send, as the delivery loop sees it.

The sweep (:class:`SweepRun`) records each due nudge and check-in in the delivery log; the
:class:`~habits.delivery.Dispatcher` then claims them under a lease, has :meth:`Outbox.prepare`
build each notice from the member's state right now, and records what became of it
(:meth:`Outbox.finish`, :meth:`Outbox.retry_later`, :meth:`Outbox.mark_unreachable`) or hands
back what it never started (:meth:`Outbox.release`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from habits import notices, scheduling
from habits.context import MemberContext
from habits.messages import Notice
from habits.model import (
    Clock,
    DeliveryKind,
    DeliveryStatus,
    DueDelivery,
    Member,
    MemberRef,
    Platform,
)
from habits.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepSettings:
    batch_size: int = 1000
    nudge_grace: timedelta = timedelta(hours=6)
    checkin_grace: timedelta = timedelta(days=2)


DEFAULT_SWEEP = SweepSettings()


class Outbox:
    """The delivery side of the engine: sweep, claim, prepare, and record the outcome."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock):
        self._uow_factory = uow_factory
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()

    def sweep(self, platforms: list[str], settings: SweepSettings = DEFAULT_SWEEP) -> int:
        """Advance every due member on ``platforms`` and log their nudges; returns the count."""
        run = self.start_sweep(platforms, settings)
        while run.batch():
            pass
        return run.swept

    def start_sweep(
        self, platforms: list[str], settings: SweepSettings = DEFAULT_SWEEP
    ) -> SweepRun:
        """A sweep to be run one short transaction at a time (see :class:`SweepRun`)."""
        return SweepRun(self._uow_factory, self._clock.now(), platforms, settings)

    def anything_due(self, platforms: Sequence[str]) -> bool:
        """Whether a sweep or a claim on ``platforms`` would find anything now."""
        with self._uow_factory() as uow:
            return uow.deliveries.anything_due(self._clock.now(), platforms)

    def claim(
        self, platforms: list[str], owner: str, lease: timedelta, limit: int = 100
    ) -> list[DueDelivery]:
        with self._uow_factory() as uow:
            claimed = uow.deliveries.claim(self._clock.now(), platforms, owner, lease, limit)
            uow.commit()
            return claimed

    def renew_claims(self, claimed: Sequence[DueDelivery], lease: timedelta) -> int:
        """Extend this process's lease on claimed deliveries it has not started yet, so a big
        batch behind slow sends is not taken over by another process; returns how many."""
        by_owner = _ids_by_owner(claimed)
        with self._uow_factory() as uow:
            until = self._clock.now() + lease
            renewed = sum(uow.deliveries.renew_many(ids, o, until) for o, ids in by_owner.items())
            uow.commit()
            return renewed

    def release(self, claimed: Sequence[DueDelivery]) -> int:
        """Hand back claimed deliveries that were never started (a stopping process): any
        process may claim them at once, and their attempt does not count. Returns how many
        were still held."""
        by_owner = _ids_by_owner(claimed)
        with self._uow_factory() as uow:
            released = sum(uow.deliveries.release(ids, o) for o, ids in by_owner.items())
            uow.commit()
            return released

    def backlog(self, platforms: Sequence[str]) -> int:
        """Pending deliveries of ``platforms`` claimable now: what the senders are behind by."""
        with self._uow_factory() as uow:
            return uow.deliveries.backlog(self._clock.now(), platforms)

    def prepare(
        self, delivery: DueDelivery, lease: timedelta | None = None
    ) -> Notice | DeliveryStatus | None:
        """The message for a claimed delivery, built from the member's state right now.

        ``DeliveryStatus.SKIPPED`` (and recorded so) when there is nothing worth saying any
        more, e.g. the goal was met or turned off since the sweep recorded it. With a
        ``lease``, first extends this process's lease for the send; None (nothing recorded,
        nothing to count) when another process has taken the delivery over meanwhile.
        """
        with self._uow_factory() as uow:
            now = self._clock.now()
            if lease is not None and delivery.owner:
                if not uow.deliveries.renew(delivery.id, delivery.owner, now + lease):
                    return None
                uow.commit()
            member = uow.members.get_by_id(delivery.member_id)
            notice = None
            if member is not None:
                ctx = MemberContext(uow, _ref_of(member), now)
                if delivery.kind == DeliveryKind.NUDGE:
                    notice = notices.nudge(ctx)
                elif delivery.kind == DeliveryKind.HEADSUP:
                    notice = notices.heads_up(ctx)
                else:
                    notice = notices.checkin(ctx, delivery.scheduled_for)
            if notice is None:
                uow.deliveries.finish(
                    delivery.id, DeliveryStatus.SKIPPED, now, "nothing to say", delivery.owner
                )
            uow.commit()
            if notice is None:
                return DeliveryStatus.SKIPPED
            return replace(
                notice, key=f"{delivery.kind}-{delivery.id}", attempt=max(delivery.attempts, 1)
            )

    def finish(self, delivery: DueDelivery, status: DeliveryStatus, detail: str = "") -> None:
        with self._uow_factory() as uow:
            uow.deliveries.finish(delivery.id, status, self._clock.now(), detail, delivery.owner)
            uow.commit()

    def retry_later(
        self, delivery: DueDelivery, delay: timedelta, detail: str, count_attempt: bool = True
    ) -> None:
        with self._uow_factory() as uow:
            uow.deliveries.retry_later(
                delivery.id, self._clock.now() + delay, detail, delivery.owner, count_attempt
            )
            uow.commit()

    def mark_unreachable(self, delivery: DueDelivery, detail: str) -> None:
        """The platform refuses messages to this member (e.g. DMs closed): stop nudging them."""
        with self._uow_factory() as uow:
            member = uow.members.get_by_id(delivery.member_id)
            if member is not None:
                member.unreachable = True
                member.next_nudge_at = member.next_checkin_at = None
            uow.deliveries.finish(
                delivery.id, DeliveryStatus.FAILED, self._clock.now(), detail, delivery.owner
            )
            uow.commit()


def _ids_by_owner(claimed: Sequence[DueDelivery]) -> dict[str, list[int]]:
    by_owner: dict[str, list[int]] = {}
    for delivery in claimed:
        by_owner.setdefault(delivery.owner, []).append(delivery.id)
    return by_owner


def _ref_of(member: Member) -> MemberRef:
    return MemberRef(
        Platform(member.platform), member.user_id, member.workspace, member.display_name
    )


class SweepRun:
    """One sweep over everything due at one moment, a batch per transaction.

    "Now" is read once, so every batch plans against the same moment and plans are memoised for
    the whole sweep: 10,000 members due at Monday 09:00 in one zone share one computation.
    Callers that share a worker thread with commands run one :meth:`batch` per job.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        now: datetime,
        platforms: list[str],
        settings: SweepSettings,
    ):
        self._uow_factory = uow_factory
        self.now = now
        self.platforms = platforms
        self.settings = settings
        self.swept = 0
        self._plans: dict[
            tuple[scheduling.Snapshot, datetime], tuple[datetime | None, datetime | None]
        ] = {}

    def batch(self) -> bool:
        """Sweep one batch; True while a full batch was found (there may be more)."""
        settings = self.settings
        with self._uow_factory() as uow:
            swept = uow.deliveries.sweep(
                self.now,
                self.platforms,
                self.plan,
                settings.batch_size,
                settings.nudge_grace,
                settings.checkin_grace,
            )
            uow.commit()
        self.swept += swept
        return swept >= settings.batch_size

    def plan(
        self, snapshot: scheduling.Snapshot, after: datetime
    ) -> tuple[datetime | None, datetime | None]:
        key = (snapshot, after)
        found = self._plans.get(key)
        if found is None:
            # Schedules that differ only in what planning ignores (the goal's size, say)
            # share one computation: planning is the costly part of a mixed sweep.
            shared = (scheduling.planning_key(snapshot), after)
            found = self._plans.get(shared)
            if found is None:
                found = self._plans[shared] = _plan_for_sweep(snapshot, after)
            self._plans[key] = found
        return found


def _plan_for_sweep(
    snapshot: scheduling.Snapshot, after: datetime
) -> tuple[datetime | None, datetime | None]:
    # A due nudge means the week was not met when it was planned: meeting the goal replans.
    try:
        return scheduling.plan(snapshot, after, week_met=False)
    except Exception:
        # One member's unplannable row (say, a zone tzdata no longer knows) must not stop the
        # sweep for everyone; their next command replans them.
        log.exception("cannot plan nudges in zone %r; unscheduling", snapshot.timezone)
        return None, None
