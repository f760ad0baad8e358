"""From "due" to "sent": the sweep-and-deliver tick every process runs, whatever its adapters.

The database decides what is due; this loop claims a batch under a lease, asks the adapter that
owns each member to send it, and records the outcome. Failures are final or retried on purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from habits.messages import Notice
from habits.model import DeliveryKind, DeliveryStatus, DueDelivery
from habits.service import DEFAULT_SWEEP, Coach, SweepSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_DOUBLINGS = 10  # backoff grows to first_backoff × 1024 at most, whatever max_attempts says
RunSync = Callable[..., Awaitable[T]]


class Outcome(StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"  # the platform will never deliver to this member as things stand
    RETRY = "retry"  # a passing failure: 5xx, timeout, rate limit


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str = ""
    retry_after: timedelta | None = None


class Sender(Protocol):
    """What an adapter offers the engine: deliver one notice to its member."""

    async def send(self, notice: Notice) -> SendResult: ...


@dataclass(frozen=True)
class DeliverySettings:
    owner: str = "local"
    lease: timedelta = timedelta(seconds=60)
    claim_limit: int = 100
    max_attempts: int = 5
    first_backoff: timedelta = timedelta(seconds=30)


class Dispatcher:
    """Runs one tick: sweep what is due, then deliver what the sweep logged."""

    def __init__(
        self,
        coach: Coach,
        senders: Mapping[str, Sender],
        run_sync: Callable[..., Awaitable[object]],
        sweep: SweepSettings = DEFAULT_SWEEP,
        delivery: DeliverySettings | None = None,
    ):
        self.coach = coach
        self.senders = dict(senders)
        self._run_sync = run_sync
        self.sweep_settings = sweep
        self.delivery_settings = delivery or DeliverySettings()
        self.stopping = False

    def stop(self) -> None:
        """Finish the notice being sent, then claim and send nothing more.

        What this process claimed but did not send stays leased; when the lease expires, this
        or another process delivers it.
        """
        self.stopping = True

    @property
    def platforms(self) -> list[str]:
        return sorted(self.senders)

    async def tick(self) -> int:
        """Sweep and deliver until nothing claimable is left; returns how many were sent."""
        # One database job per batch, so commands queued on the same worker (SQLite's single
        # writer) get their turn between batches instead of waiting for the whole sweep.
        run = self.coach.start_sweep(self.platforms, self.sweep_settings)
        while not self.stopping and await self._run_sync(run.batch):
            pass
        sent = 0
        while not self.stopping:
            settings = self.delivery_settings
            batch = await self._run_sync(
                self.coach.claim,
                self.platforms,
                settings.owner,
                settings.lease,
                settings.claim_limit,
            )
            assert isinstance(batch, list)
            for delivery in batch:
                if self.stopping:
                    break
                sent += await self.deliver(delivery)
            if len(batch) < settings.claim_limit:
                return sent
        return sent

    async def deliver(self, delivery: DueDelivery) -> int:
        try:
            notice = await self._run_sync(
                self.coach.compose, delivery, self.delivery_settings.lease
            )
        except Exception:
            # Like a sender failure: retried, then given up, never blocking the rest of the batch.
            log.exception("composing %s %s failed", delivery.kind, delivery.id)
            await self._retry_or_give_up(delivery, SendResult(Outcome.RETRY, "compose failed"))
            return 0
        if notice is None:
            return 0
        assert isinstance(notice, Notice)
        sender = self.senders[delivery.platform]
        try:
            result = await sender.send(notice)
        except Exception as exc:  # an adapter bug must not stop everyone else's nudges
            log.exception("sending %s %s failed", delivery.kind, delivery.id)
            result = SendResult(Outcome.RETRY, f"{type(exc).__name__}")
        if result.outcome is Outcome.SENT:
            await self._run_sync(self.coach.finish, delivery, DeliveryStatus.SENT, result.detail)
            return 1
        if result.outcome is Outcome.UNREACHABLE:
            await self._run_sync(self.coach.mark_unreachable, delivery, result.detail)
            return 0
        await self._retry_or_give_up(delivery, result)
        return 0

    async def _retry_or_give_up(self, delivery: DueDelivery, result: SendResult) -> None:
        """Retry on purpose: when the platform says (a rate limit is not a failure of the
        message, so it does not use up an attempt), else with exponential backoff for
        ``max_attempts``; never past the kind's grace, when the moment has long passed."""
        rate_limited = result.retry_after is not None
        if result.retry_after is not None:
            delay = result.retry_after
            exhausted = False
        else:
            doublings = min(max(delivery.attempts - 1, 0), MAX_DOUBLINGS)
            delay = self.delivery_settings.first_backoff * (2**doublings)
            exhausted = delivery.attempts >= self.delivery_settings.max_attempts
        grace = (
            self.sweep_settings.recap_grace
            if delivery.kind == DeliveryKind.RECAP
            else self.sweep_settings.nudge_grace
        )
        too_late = self.coach.now() + delay > delivery.scheduled_for + grace
        if exhausted or too_late:
            why = "gave up, too late" if too_late and not exhausted else "gave up"
            await self._run_sync(
                self.coach.finish, delivery, DeliveryStatus.FAILED, f"{why}: {result.detail}"
            )
            return
        await self._run_sync(
            self.coach.retry_later, delivery, delay, result.detail, not rate_limited
        )
