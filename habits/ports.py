"""What the engine needs from storage: repositories and a unit of work, as protocols.

``storage`` implements these on SQLAlchemy; tests can implement them by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from habits.model import (
    DueDelivery,
    GoalChange,
    LoggedDelivery,
    Member,
    MemberRef,
    Publication,
)
from habits.scheduling import Snapshot


class MemberRepository(Protocol):
    def get(self, ref: MemberRef) -> Member | None: ...
    def get_by_id(self, member_id: int) -> Member | None: ...
    def add(self, member: Member) -> None: ...
    def delete(self, member: Member) -> None:
        """Delete the member and everything stored about them."""


class StorageUnavailableError(Exception):
    """The database could not do the work just now (disk full, locked, timed out, out of
    reach): nothing was stored, and the same work may well succeed in a moment."""


class DuplicatePublicationError(Exception):
    """Another transaction logged this publication (same link or same request) meanwhile."""


class PublicationRepository(Protocol):
    def add(self, publication: Publication) -> None:
        """Raise DuplicatePublicationError, leaving the unit of work usable, when the same
        link or request key of the member was stored by someone else since it was checked."""

    def latest(self, member_id: int) -> Publication | None: ...
    def remove(self, publication: Publication) -> None: ...
    def has_any_url(self, member_id: int, urls: Sequence[str]) -> bool:
        """Whether the member logged any of these spellings of one link."""

    def has_request_key(self, member_id: int, key: str) -> bool:
        """Whether a publication of the member was logged by the request with this key."""

    def local_days(self, member_id: int, since: date | None = None) -> list[date]: ...
    def list(self, member_id: int) -> Sequence[Publication]: ...
    def recent(self, member_id: int, since: date) -> Sequence[Publication]:
        """The member's publications of local days from ``since`` on, newest first (by local
        day, then instant, then the order they were logged)."""

    def find(self, member_id: int, publication_id: int) -> Publication | None:
        """The member's publication with this id; None if it is gone or someone else's."""


class HistoryRepository(Protocol):
    """Goal changes and declared rest weeks, in the order they were made."""

    def goal_changes(self, member_id: int) -> list[GoalChange]: ...
    def add_goal_change(self, change: GoalChange) -> None: ...
    def rest_weeks(self, member_id: int) -> list[date]: ...
    def add_rest_weeks(self, member_id: int, weeks: Sequence[date]) -> None: ...
    def remove_rest_weeks(self, member_id: int, weeks: Sequence[date]) -> None: ...


# The next instants (nudge, check-in) after a moment for a schedule the sweep has claimed.
Planner = Callable[[Snapshot, datetime], tuple[datetime | None, datetime | None]]


class DeliveryRepository(Protocol):
    def sweep(
        self,
        now: datetime,
        platforms: Sequence[str],
        planner: Planner,
        batch_size: int,
        nudge_grace: timedelta,
        checkin_grace: timedelta,
    ) -> int:
        """Record one batch of due nudges and check-ins in the delivery log and advance each
        member's next instants; return how many members were advanced (0 when none were due).
        ``planner`` may be memoised by the caller: equal snapshots get equal plans.
        """

    def anything_due(self, now: datetime, platforms: Sequence[str]) -> bool:
        """Whether a sweep or a claim would find anything: one cheap probe of the due indexes,
        taking no locks, so an idle tick costs one round trip."""

    def claim(
        self, now: datetime, platforms: Sequence[str], owner: str, lease: timedelta, limit: int
    ) -> list[DueDelivery]: ...
    def renew(self, delivery_id: int, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease; False if the lease was lost (another process took over)."""

    def renew_many(self, delivery_ids: Sequence[int], owner: str, until: datetime) -> int:
        """Extend ``owner``'s lease on each of these it still holds; return how many."""

    def release(self, delivery_ids: Sequence[int], owner: str) -> int:
        """Hand back deliveries ``owner`` claimed and never started: pending again, claimable
        at once by any process, the claim's attempt given back. Return how many it still held."""

    def backlog(self, now: datetime, platforms: Sequence[str]) -> int:
        """How many pending deliveries of ``platforms`` are claimable at ``now`` (a cheap count
        over the queue index; expired leases are not included)."""

    def finish(
        self, delivery_id: int, status: str, now: datetime, detail: str = "", owner: str = ""
    ) -> bool:
        """Record the outcome; with ``owner``, only while that process still holds the lease."""

    def retry_later(
        self,
        delivery_id: int,
        at: datetime,
        detail: str,
        owner: str = "",
        count_attempt: bool = True,
    ) -> bool:
        """Make the delivery claimable again at ``at``; without ``count_attempt`` the claim's
        attempt is given back (the platform asked to wait: nothing failed)."""

    def history(self, member_id: int) -> list[LoggedDelivery]:
        """The member's delivery log, oldest first."""

    def logged_since(self, member_id: int, kind: str, since: datetime) -> bool:
        """Whether a ``kind`` delivery for an instant at or after ``since`` is in the log."""


class RecordRepository(Protocol):
    """The adapters' records (small JSON documents by kind and key, such as Slack
    installations) in the unit of work's transaction. The engine never reads them; it hands
    them to each :class:`MemberRecords` so a member's export and forget cover them too."""

    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...
    def put(self, kind: str, key: str, data: dict[str, Any], now: datetime) -> None: ...
    def delete(self, kind: str, key: str) -> bool: ...
    def of_kind(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """Every record of ``kind`` as (key, data), by key."""


class MemberRecords(Protocol):
    """What one adapter keeps about members in its records (a Slack installation names the
    member who installed the app): told by the engine when a member asks for their data or
    for it to be deleted, inside that command's unit of work."""

    def export(self, ref: MemberRef, records: RecordRepository) -> list[dict[str, object]]:
        """The records that name the member, as they should read them (secrets masked)."""

    def forget(self, ref: MemberRef, records: RecordRepository, now: datetime) -> None:
        """Leave no record naming the member (others' use of a record must keep working)."""


class UnitOfWork(Protocol):
    members: MemberRepository
    publications: PublicationRepository
    history: HistoryRepository
    deliveries: DeliveryRepository
    records: RecordRepository

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
