"""From "due" to "sent": the sweep-and-deliver tick every process runs, whatever its adapters.

The database decides what is due; this loop claims a batch under a lease, asks the adapter that
owns each member to send it, and records the outcome. Failures are final or retried on purpose.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from habits.messages import Notice
from habits.model import DeliveryKind, DeliveryStatus, DueDelivery
from habits.outbox import DEFAULT_SWEEP, Outbox, SweepSettings
from habits.ports import StorageUnavailableError

log = logging.getLogger(__name__)

DATABASE_AWAY = "database unavailable"
MAX_DOUBLINGS = 10  # backoff grows to first_backoff × 1024 at most, whatever max_attempts says


class Outcome(StrEnum):
    """What became of a claimed delivery: a sender's answer, and what the
    :class:`DeliveryObserver` hears once the dispatcher has recorded it.

    Senders answer SENT, UNREACHABLE or RETRY (a sender that knows a message can never go out
    may answer FAILED); the dispatcher turns a RETRY past its attempts or its grace into FAILED,
    and settles a delivery with nothing left to say as SKIPPED.
    """

    SENT = "sent"
    UNREACHABLE = "unreachable"  # the platform will never deliver to this member as things stand
    RETRY = "retry"  # a passing failure (5xx, timeout, rate limit): pending again, later
    FAILED = "failed"  # given up, with the reason recorded
    SKIPPED = "skipped"  # nothing worth saying any more (say, the goal was met meanwhile)


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
    concurrency: int = 8  # notices composed, sent and recorded at once


class DeliveryObserver(Protocol):
    """Told what delivery does (the process's metrics). Called on the event loop: be quick."""

    def delivery_settled(self, platform: str, kind: str, outcome: str) -> None:
        """``outcome``: an :class:`Outcome`'s value ("sent", "retry", "failed", …)."""

    def tick_finished(self, swept: int, backlog: int, sweep_moment: datetime) -> None:
        """After each tick: members advanced by its sweep, deliveries still claimable now
        (pending, not_before <= now) and the moment the sweep looked at."""


class _ClaimedBatch:
    """One claimed batch being worked through by several senders at once.

    Holds what is not started yet, so that a stop can hand it back at once, and when its lease
    was last extended: a delivery claimed early in a big batch behind slow (paced) sends must
    not wait past its lease, or another process would take it over while it is still queued.
    """

    def __init__(self, deliveries: list[DueDelivery], claimed_at: datetime):
        self.waiting = deque(deliveries)
        self.renewed_at = claimed_at  # taken before the claim: its lease lasts at least this
        self.renewing = asyncio.Lock()
        self.stopped = asyncio.Event()  # made per batch: an Event belongs to one event loop

    def take(self) -> DueDelivery | None:
        return self.waiting.popleft() if self.waiting else None

    def take_all(self) -> list[DueDelivery]:
        unstarted = list(self.waiting)
        self.waiting.clear()
        return unstarted


def _read_the_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Dispatcher:
    """Runs one tick: sweep what is due, then deliver what the sweep logged.

    Up to ``DeliverySettings.concurrency`` notices are in flight at once, so one member's send
    waiting on a platform's rate limit does not hold up everyone else's.
    """

    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        run_sync: Callable[..., Awaitable[object]],
        sweep: SweepSettings = DEFAULT_SWEEP,
        delivery: DeliverySettings | None = None,
        observer: DeliveryObserver | None = None,
    ):
        self.outbox = outbox
        self.senders = dict(senders)
        self._run_sync = run_sync
        self.sweep_settings = sweep
        self.delivery_settings = delivery or DeliverySettings()
        self.observer = observer
        self.stopping = False
        self._batch: _ClaimedBatch | None = None

    def stop(self) -> None:
        """Claim nothing more; let the sends in flight finish and be recorded; hand back the
        rest of the claimed batch at once.

        The tick in flight releases what it claimed and has not started (pending again, its
        attempt given back) as soon as it runs again, so a restart or another process sends it
        without waiting for the lease; then it returns once the last send in flight is
        recorded. Whatever is still held when the caller stops waiting (the tick cancelled) stays
        leased and is delivered by this or another process once the lease expires.
        """
        self.stopping = True
        if self._batch is not None:
            self._batch.stopped.set()

    @property
    def platforms(self) -> list[str]:
        return sorted(self.senders)

    async def tick(self) -> int:
        """Sweep and deliver until nothing claimable is left; returns how many were sent.

        Most ticks find nothing: one probe of the due indexes answers that, in one round trip,
        before any sweep transaction or claim is started. A tick that starts after
        :meth:`stop` (already queued when the stop came) does nothing.
        """
        if self.stopping:
            return 0
        if not await self._run_sync(self.outbox.anything_due, self.platforms):
            if self.observer is not None:
                self._tell(self.observer.tick_finished, 0, 0, self.outbox.now())
            return 0
        # One database job per batch, so commands queued on the same worker (SQLite's single
        # writer) get their turn between batches instead of waiting for the whole sweep.
        run = self.outbox.start_sweep(self.platforms, self.sweep_settings)
        while not self.stopping and await self._run_sync(run.batch):
            pass
        sent = 0
        settings = self.delivery_settings
        while not self.stopping:
            claimed_at = self.outbox.now()
            batch = await self._run_sync(
                self.outbox.claim,
                self.platforms,
                settings.owner,
                settings.lease,
                settings.claim_limit,
            )
            assert isinstance(batch, list)
            sent += await self._deliver_batch(_ClaimedBatch(batch, claimed_at))
            if len(batch) < settings.claim_limit:
                break
        if self.observer is not None:
            backlog = await self._run_sync(self.outbox.backlog, self.platforms)
            assert isinstance(backlog, int)
            self._tell(self.observer.tick_finished, run.swept, backlog, run.now)
        return sent

    async def _deliver_batch(self, batch: _ClaimedBatch) -> int:
        """Deliver a claimed batch with ``concurrency`` senders; on stop, release the rest."""
        if not batch.waiting:
            return 0
        self._batch = batch
        if self.stopping:
            batch.stopped.set()
        workers = min(self.delivery_settings.concurrency, len(batch.waiting))
        working = asyncio.gather(*(self._work(batch) for _ in range(workers)))
        stopped = asyncio.ensure_future(batch.stopped.wait())
        first: set[asyncio.Future[Any]] = {working, stopped}
        try:
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if batch.stopped.is_set():
                await self._release(batch.take_all())  # while the sends in flight go on
            return sum(await working)
        finally:
            stopped.cancel()
            if not working.done():  # only when the tick itself is cancelled: the senders stop too
                working.cancel()
                # A cancelled gather ends with CancelledError as its exception; read it, or
                # asyncio logs "exception was never retrieved" for what is a normal stop.
                working.add_done_callback(_read_the_outcome)
            self._batch = None

    async def _release(self, unstarted: list[DueDelivery]) -> None:
        if not unstarted:
            return
        try:
            released = await self._run_sync(self.outbox.release, unstarted)
        except Exception:  # they stay leased, and are delivered once the lease expires
            log.exception("releasing %d claimed deliveries failed", len(unstarted))
            return
        log.info("stopping: handed back %s of %d claimed deliveries", released, len(unstarted))

    async def _work(self, batch: _ClaimedBatch) -> int:
        """One of the concurrent senders: deliver the batch's next notice until none is left."""
        sent = 0
        while not self.stopping and batch.waiting:
            await self._keep_lease(batch)
            delivery = None if self.stopping else batch.take()
            if delivery is None:
                break
            try:
                sent += await self.deliver(delivery)
            except Exception:
                # Recording the outcome failed (the database is away): the delivery stays
                # leased and is tried again when the lease expires; the others carry on.
                log.exception("recording %s %s failed", delivery.kind, delivery.id)
        return sent

    async def _keep_lease(self, batch: _ClaimedBatch) -> None:
        """Extend the lease on what is still queued once a third of it has passed.

        Checked before each send starts, so this holds as long as a send (at most the senders'
        timeout plus their pacing) takes less than two thirds of the lease.
        """
        lease = self.delivery_settings.lease
        if self.outbox.now() - batch.renewed_at < lease / 3:
            return
        async with batch.renewing:
            now = self.outbox.now()
            if now - batch.renewed_at < lease / 3 or not batch.waiting:
                return  # another sender renewed it meanwhile
            batch.renewed_at = now
            try:
                await self._run_sync(self.outbox.renew_claims, list(batch.waiting), lease)
            except Exception:  # each send still renews its own lease before it starts
                log.exception("extending the lease of %d deliveries failed", len(batch.waiting))

    async def deliver(self, delivery: DueDelivery) -> int:
        """Compose, send and record one claimed delivery; returns 1 when it was sent."""
        outcome = await self._deliver(delivery)
        if outcome is not None and self.observer is not None:
            self._tell(
                self.observer.delivery_settled, delivery.platform, delivery.kind, outcome.value
            )
        return 1 if outcome is Outcome.SENT else 0

    async def _deliver(self, delivery: DueDelivery) -> Outcome | None:
        """None when another process took the delivery over: theirs to send and to count."""
        try:
            prepared = await self._run_sync(
                self.outbox.prepare, delivery, self.delivery_settings.lease
            )
        except StorageUnavailableError as exc:
            log.warning(
                "composing %s %s: database unavailable: %s", delivery.kind, delivery.id, exc
            )
            return await self._retry_or_give_up(delivery, self._database_away())
        except Exception:
            # Like a sender failure: retried, then given up, never blocking the rest of the batch.
            log.exception("composing %s %s failed", delivery.kind, delivery.id)
            return await self._retry_or_give_up(
                delivery, SendResult(Outcome.RETRY, "compose failed")
            )
        if prepared is None:
            return None
        if not isinstance(prepared, Notice):
            return Outcome.SKIPPED  # nothing worth saying now; recorded as skipped
        sender = self.senders[delivery.platform]
        try:
            result = await sender.send(prepared)
        except Exception as exc:  # an adapter bug must not stop everyone else's nudges
            log.exception("sending %s %s failed", delivery.kind, delivery.id)
            result = SendResult(Outcome.RETRY, f"{type(exc).__name__}")
        if result.outcome is Outcome.UNREACHABLE:
            await self._run_sync(self.outbox.mark_unreachable, delivery, result.detail)
        elif result.outcome is Outcome.RETRY:
            return await self._retry_or_give_up(delivery, result)
        else:  # sent, or an answer that is final as it stands
            status = DeliveryStatus(result.outcome.value)
            await self._run_sync(self.outbox.finish, delivery, status, result.detail)
        return result.outcome

    def _database_away(self) -> SendResult:
        """The database failed, not the message: retried soon without using up an attempt (a
        disk that filled up for a few minutes must not cost anyone their nudge), as long as
        the moment is still worth it."""
        return SendResult(
            Outcome.RETRY, DATABASE_AWAY, retry_after=self.delivery_settings.first_backoff
        )

    async def _retry_or_give_up(self, delivery: DueDelivery, result: SendResult) -> Outcome:
        """Retry on purpose: when the platform says (a rate limit is not a failure of the
        message, so it does not use up an attempt), else with exponential backoff for
        ``max_attempts``; never past the kind's grace, when the moment has long passed.
        Returns what became of it: retried, or failed with the reason recorded."""
        rate_limited = result.retry_after is not None
        if result.retry_after is not None:
            delay = result.retry_after
            exhausted = False
        else:
            doublings = min(max(delivery.attempts - 1, 0), MAX_DOUBLINGS)
            delay = self.delivery_settings.first_backoff * (2**doublings)
            exhausted = delivery.attempts >= self.delivery_settings.max_attempts
        grace = (
            self.sweep_settings.checkin_grace
            if delivery.kind == DeliveryKind.CHECKIN
            else self.sweep_settings.nudge_grace
        )
        too_late = self.outbox.now() + delay > delivery.scheduled_for + grace
        if exhausted or too_late:
            why = "gave up, too late" if too_late and not exhausted else "gave up"
            await self._run_sync(
                self.outbox.finish, delivery, DeliveryStatus.FAILED, f"{why}: {result.detail}"
            )
            return Outcome.FAILED
        await self._run_sync(
            self.outbox.retry_later, delivery, delay, result.detail, not rate_limited
        )
        return Outcome.RETRY

    @staticmethod
    def _tell(hook: Callable[..., None], *args: object) -> None:
        """Call an observer hook; a broken metric must never stop a nudge."""
        try:
            hook(*args)
        except Exception:
            log.exception("delivery observer failed")
