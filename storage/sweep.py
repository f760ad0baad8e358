"""The sweep: a batch of members whose nudge or check-in is due, logged in the delivery log and
advanced to their next slots, in a handful of statements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    and_,
    bindparam,
    case,
    exists,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from habits.model import DeliveryKind, DeliveryStatus
from habits.ports import Planner
from habits.scheduling import SPOKEN_FOR, Snapshot, nudge_kind, settle_due
from storage import sweep_writes as writes
from storage.sweep_writes import NEXT_AT, NOW
from storage.tables import UTCDateTime, deliveries, members


def sweep_batch(
    connection: Connection,
    now: datetime,
    platforms: Sequence[str],
    planner: Planner,
    batch_size: int,
    grace: Mapping[DeliveryKind, timedelta],
) -> int:
    """One batch: claim due members, log their slots and advance them in a few statements.

    The database says which slots are due and whether they are fresh (within their grace)
    or stale, so the common row costs a few tuple look-ups in Python: no datetime is read,
    and a schedule is planned (or its plan looked up) once per batch.
    """
    params: dict[str, Any] = {
        "now": now,
        "platforms": list(platforms),
        "nudge_fresh_since": now - grace[DeliveryKind.NUDGE],
        "checkin_fresh_since": now - grace[DeliveryKind.CHECKIN],
    }
    rows: list[Any] = []
    for query in _DUE_BATCH.values():
        if len(rows) < batch_size:
            params["limit"] = batch_size - len(rows)
            rows.extend(connection.execute(query, params))
    if not rows:
        return 0
    batch = _SweepBatch(now, _RawValues(connection.dialect), planner, grace)
    batch.classify(rows)
    batch.write(connection)
    return len(rows)


def anything_due(session: Session, now: datetime, platforms: Sequence[str]) -> bool:
    """Whether a sweep or a claim would find anything (see :func:`_anything_due`)."""
    params = {"now": now, "platforms": list(platforms)}
    return bool(session.execute(_ANYTHING_DUE, params).scalar())


# A sweep of 100,000 due members has about 20 µs for each, database work included, so the hot
# path reads no datetime in Python, builds no statement per batch (each statement here and in
# storage.sweep_writes is built once: SQLAlchemy then finds its compiled form at once, where
# rebuilding and hashing it every batch cost a tenth of a sweep) and passes a batch's member ids
# as one parameter.

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
    "heads_up_enabled",
)
# Where a row of _DUE_BATCH holds what: the id, the platform, the schedule as the driver
# returns it, each kind's state (_NOT_DUE, _FRESH or _STALE) and each kind's stored instant.
_ID, _PLATFORM = 0, 1
_SCHEDULE = slice(2, 2 + len(_SCHEDULE_COLUMNS))
_NUDGE_STATE, _CHECKIN_STATE, _NUDGE_AT, _CHECKIN_AT = range(_SCHEDULE.stop, _SCHEDULE.stop + 4)
_NOT_DUE, _FRESH, _STALE = 0, 1, 2
# What a nudge slot's kind reads of the schedule (``scheduling.nudge_kind``), by position.
_ZONE, _WEEK_START, _HEADS_UP = (
    _SCHEDULE.start + _SCHEDULE_COLUMNS.index(name)
    for name in ("timezone", "week_starts_on", "heads_up_enabled")
)


def _state(stored: Any, fresh_since_key: str) -> Any:
    """A slot's state: stale when older than its grace (``scheduling.settle_due``'s test,
    ``now - stored > grace``; the parameter ``fresh_since_key`` holds ``now - grace``), fresh
    when due within it, otherwise not due (or NULL)."""
    since = bindparam(fresh_since_key, type_=UTCDateTime)
    return case((stored < since, _STALE), (stored <= NOW, _FRESH), else_=_NOT_DUE)


def _raw(column: Any) -> Any:
    """``column`` as the driver returns it, without SQLAlchemy's per-value result processing
    (on SQLite, text to date and 0/1 to bool: a fifth of a sweep, for values that only a
    schedule seen for the first time in a batch, or a stale slot, needs converted)."""
    return type_coerce(column, NullType())


_PLATFORMS: Any = bindparam("platforms", expanding=True)


def _due(kind: DeliveryKind) -> Any:
    """Up to :limit members with ``kind`` due, locked (skipping rows another replica holds).

    In the order of the due index, so that it is a range scan that stops at :limit, also on
    PostgreSQL when nearly everyone is due (an OR of both kinds, or no ORDER BY, let it pick a
    sequential or bitmap scan that rereads every row updated by earlier batches). Members due
    for both kinds come with the check-ins, and the nudge scan leaves them out. The database
    classifies each slot, so a fresh one needs no datetime in Python.
    """
    stored = NEXT_AT[kind]
    due = and_(members.c.platform.in_(_PLATFORMS), stored <= NOW)
    if kind is DeliveryKind.NUDGE:
        checkin = members.c.next_checkin_at
        due = and_(due, or_(checkin.is_(None), checkin > NOW))
    return (
        select(
            members.c.id,
            members.c.platform,
            *(_raw(members.c[name]) for name in _SCHEDULE_COLUMNS),
            _state(members.c.next_nudge_at, "nudge_fresh_since"),
            _state(members.c.next_checkin_at, "checkin_fresh_since"),
            _raw(members.c.next_nudge_at),
            _raw(members.c.next_checkin_at),
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
        and_(deliveries.c.status == DeliveryStatus.SENDING, deliveries.c.lease_until < NOW),
    )
    return select(
        or_(
            exists().where(members.c.platform.in_(platforms), members.c.next_checkin_at <= NOW),
            exists().where(members.c.platform.in_(platforms), members.c.next_nudge_at <= NOW),
            exists().where(
                deliveries.c.platform.in_(platforms), deliveries.c.not_before <= NOW, claimable
            ),
        )
    )


_ANYTHING_DUE = _anything_due()

# Check-ins first: a member due for both is claimed once, with both slots.
_DUE_BATCH = {kind: _due(kind) for kind in (DeliveryKind.CHECKIN, DeliveryKind.NUDGE)}


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


_Plan = tuple[datetime | None, datetime | None]  # the next nudge and check-in


def _result_processor(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    processor: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).result_processor(
        dialect, None
    )
    return processor


class _SweepBatch:
    """What one sweep batch writes, gathered so that it takes a handful of statements.

    The common case, a slot due within its grace, is logged with one INSERT … SELECT per kind
    (and one for nudges the check-in speaks for) that copies the instant from the member row,
    and members are advanced with one UPDATE per slot. A nudge slot is logged as a nudge or as
    the heads-up (``scheduling.nudge_kind``), worked out once per schedule and instant. Only
    stale slots after downtime are settled in Python (``scheduling.settle_due``) and written
    row by row.
    """

    def __init__(
        self,
        now: datetime,
        raw: _RawValues,
        planner: Planner,
        grace: Mapping[DeliveryKind, timedelta],
    ):
        self.now = now
        self.raw = raw
        self.planner = planner
        self.grace = grace
        # Fresh slots by (kind, reason skipped): copied from the member rows in SQL.
        self.fresh: dict[tuple[DeliveryKind, str | None], list[int]] = defaultdict(list)
        self.rows: list[dict[str, Any]] = []
        # By slot (the member row's column): a heads-up is advanced with the nudges.
        self.advance: dict[DeliveryKind, dict[datetime | None, list[int]]] = {
            k: defaultdict(list) for k in (DeliveryKind.CHECKIN, DeliveryKind.NUDGE)
        }

    def classify(self, rows: Sequence[Any]) -> None:
        """Sort each claimed row into what its slots need: the hot loop of a sweep."""
        now, planner, snapshot = self.now, self.planner, self.raw.snapshot
        # Per schedule: its plan, and where a fresh nudge slot at each stored instant (as the
        # driver returns it) is logged: a nudge or the heads-up, pending or spoken for.
        plans: dict[tuple[Any, ...], tuple[_Plan, dict[Any, tuple[list[int], list[int]]]]] = {}
        kinds: dict[tuple[Any, ...], tuple[list[int], list[int]]] = {}
        fresh = self.fresh
        checkins = fresh[DeliveryKind.CHECKIN, None]
        next_nudge, next_checkin = (
            self.advance[DeliveryKind.NUDGE],
            self.advance[DeliveryKind.CHECKIN],
        )
        for row in rows:
            schedule = row[_SCHEDULE]
            found = plans.get(schedule)
            if found is None:
                found = plans[schedule] = (planner(snapshot(schedule), now), {})
            plan, nudge_logs = found
            nudge, checkin = row[_NUDGE_STATE], row[_CHECKIN_STATE]
            if nudge == _STALE or checkin == _STALE:
                self._settle_stale(row, plan)
                continue
            member_id = row[_ID]
            if checkin:
                checkins.append(member_id)
                next_checkin[plan[1]].append(member_id)
            if nudge:
                raw_at = row[_NUDGE_AT]
                logs = nudge_logs.get(raw_at)
                if logs is None:
                    # Schedules differ in much that the kind does not read: share it by zone,
                    # week start, heads-up setting and instant (a sweep's rows share a few).
                    key = (row[_ZONE], row[_WEEK_START], row[_HEADS_UP], raw_at)
                    logs = kinds.get(key)
                    if logs is None:
                        kind = nudge_kind(snapshot(schedule), self.raw.instant(raw_at))
                        logs = kinds[key] = (fresh[kind, None], fresh[kind, SPOKEN_FOR])
                    nudge_logs[raw_at] = logs
                # One message at a time: the check-in carries the week's next step anyway.
                (logs[1] if checkin else logs[0]).append(member_id)
                next_nudge[plan[0]].append(member_id)

    def _settle_stale(self, row: Any, plan: tuple[datetime | None, datetime | None]) -> None:
        """A row with a slot past its grace (the coach was down): settled in Python."""
        snapshot = self.raw.snapshot(row[_SCHEDULE])
        checkin_sent = False
        if row[_CHECKIN_STATE]:
            stored = self.raw.instant(row[_CHECKIN_AT])
            checkin_sent = self._settle(row, DeliveryKind.CHECKIN, stored, plan[1], snapshot)
        if row[_NUDGE_STATE]:
            stored = self.raw.instant(row[_NUDGE_AT])
            self._settle(row, DeliveryKind.NUDGE, stored, plan[0], snapshot, checkin_sent)

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
            logged = kind if kind is DeliveryKind.CHECKIN else nudge_kind(snapshot, instant)
            self.rows.append(
                writes.log_row(member_id, row[_PLATFORM], logged, instant, self.now, skipped)
            )
        return sends

    def write(self, connection: Connection) -> None:
        for (kind, skipped), ids in self.fresh.items():
            if ids:
                writes.log_fresh(connection, kind, skipped, ids, self.now)
        if self.rows:
            writes.log_settled(connection, self.rows)
        for kind, groups in self.advance.items():
            if groups:
                writes.advance(connection, kind, groups)
