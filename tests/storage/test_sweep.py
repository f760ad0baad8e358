"""The sweep on both backends: what one batch logs and advances, and how few statements it takes.

The sweep classifies slots in SQL (fresh or stale), copies fresh ones into the log with
INSERT … SELECT and advances a whole batch with one UPDATE, so these tests pin the outcomes
row by row for batches that mix every case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select

from habits import scheduling
from habits.delivery import Dispatcher, SendResult
from habits.messages import Notice
from habits.model import ManualClock
from habits.outbox import Outbox, SweepSettings
from habits.scheduling import MISSED, SPOKEN_FOR, Snapshot
from storage.tables import deliveries, members
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.rows import due_member_row

# Thursday 09:00 UTC: a nudge slot of the default Monday/Thursday 09:00 schedule.
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
LATER = NOW + 4 * DAY  # not due

# user id -> (member row values, the log rows expected: (kind, scheduled_for, status, detail))
CASES: dict[str, tuple[dict[str, Any], set[tuple[str, datetime, str, str]]]] = {
    "fresh-nudge": (
        {"next_nudge_at": NOW - MINUTE},
        {("nudge", NOW - MINUTE, "pending", "")},
    ),
    # Down since Monday: that slot is skipped, and this morning's (within 6 h) caught up once.
    "stale-nudge-caught-up": (
        {"next_nudge_at": NOW - 3 * DAY},
        {("nudge", NOW - 3 * DAY, "skipped", MISSED), ("nudge", NOW, "pending", "")},
    ),
    # Nudges at 10:00: no slot fell inside the grace period, so nothing is caught up.
    "stale-nudge-alone": (
        {"next_nudge_at": NOW - 3 * DAY, "nudge_minute": 10 * 60},
        {("nudge", NOW - 3 * DAY, "skipped", MISSED)},
    ),
    "check-in-speaks-for-nudge": (
        {"next_nudge_at": NOW - MINUTE, "next_checkin_at": NOW - HOUR},
        {("checkin", NOW - HOUR, "pending", ""), ("nudge", NOW - MINUTE, "skipped", SPOKEN_FOR)},
    ),
    # A check-in missed beyond its 48 h grace sends nothing, so the nudge is not spoken for.
    "stale-check-in-fresh-nudge": (
        {"next_nudge_at": NOW - MINUTE, "next_checkin_at": NOW - 3 * DAY},
        {("checkin", NOW - 3 * DAY, "skipped", MISSED), ("nudge", NOW - MINUTE, "pending", "")},
    ),
    "fresh-check-in-only": (
        {"next_nudge_at": NOW + HOUR, "next_checkin_at": NOW - 2 * MINUTE},
        {("checkin", NOW - 2 * MINUTE, "pending", "")},
    ),
    # A date column read raw from the driver must still plan like a date: after the pause.
    "paused": (
        {"next_nudge_at": NOW - MINUTE, "paused_until": date(2026, 12, 10)},
        {("nudge", NOW - MINUTE, "pending", "")},
    ),
    "not-due": ({"next_nudge_at": NOW + MINUTE, "next_checkin_at": LATER}, set()),
}


def snapshot(row: Any) -> Snapshot:
    return Snapshot(*(row._mapping[field] for field in Snapshot._fields))


def add_members(engine: Engine, rows: list[dict[str, Any]]) -> None:
    # One by one: an executemany would take its columns from the first row only.
    with engine.begin() as connection:
        for row in rows:
            connection.execute(insert(members), row)


def member_rows(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return {row.user_id: row for row in connection.execute(select(members))}


def log_by_member(engine: Engine) -> dict[int, set[tuple[str, datetime, str, str]]]:
    found: dict[int, set[tuple[str, datetime, str, str]]] = {}
    with engine.connect() as connection:
        for row in connection.execute(select(deliveries)):
            assert (row.finished_at is None) == (row.status == "pending")
            found.setdefault(row.member_id, set()).add(
                (row.kind, row.scheduled_for, row.status, row.detail)
            )
    return found


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_a_batch_mixing_fresh_and_stale_slots_logs_and_advances_each_as_settle_due_says(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory, batch_size: int
) -> None:
    add_members(
        engine,
        [
            due_member_row(name, NOW, **{"next_checkin_at": LATER, **values})
            for name, (values, _) in CASES.items()
        ],
    )
    before = member_rows(engine)
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord"], SweepSettings(batch_size=batch_size)) == len(CASES) - 1

    logged = log_by_member(engine)
    after = member_rows(engine)
    for name, (_, expected) in CASES.items():
        old, new = before[name], after[name]
        assert logged.get(old.id, set()) == expected, name
        planned = scheduling.plan(snapshot(old), NOW, week_met=False)
        kinds = {kind for kind, *_ in expected}
        assert new.next_nudge_at == (planned[0] if "nudge" in kinds else old.next_nudge_at), name
        assert new.next_checkin_at == (planned[1] if "checkin" in kinds else old.next_checkin_at), (
            name
        )
    assert after["paused"].next_nudge_at == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def test_members_due_for_both_kinds_are_claimed_once_across_batches(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    both = [due_member_row(f"both{i}", NOW - MINUTE, next_checkin_at=NOW - HOUR) for i in range(5)]
    nudge_only = [
        due_member_row(f"nudge{i}", NOW - MINUTE, next_checkin_at=LATER) for i in range(4)
    ]
    add_members(engine, both + nudge_only)
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord"], SweepSettings(batch_size=2)) == 9

    logged = log_by_member(engine)
    statuses = sorted(sorted(status for _, _, status, _ in rows) for rows in logged.values())
    assert statuses == [["pending"]] * 4 + [["pending", "skipped"]] * 5


def test_ids_far_apart_are_swept_once_each(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """Ids of a big, long-lived table (gaps, values past 2**16 and 2**30) in the id lists the
    sweep hands the database as one parameter."""
    ids = [1, 2, 7, 65_536, 999_999, 1_000_000, 2**30 + 5, 2**31 - 1]
    add_members(
        engine,
        [{**due_member_row(f"u{i}", NOW - MINUTE, next_checkin_at=LATER), "id": i} for i in ids],
    )
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord"], SweepSettings(batch_size=3)) == len(ids)
    assert outbox.sweep(["discord"], SweepSettings(batch_size=3)) == 0

    assert set(log_by_member(engine)) == set(ids)
    next_slot = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # Sunday's heads-up
    assert {row.next_nudge_at for row in member_rows(engine).values()} == {next_slot}


def test_a_member_with_nothing_left_to_plan_is_unscheduled_with_the_rest_of_the_batch(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_members(
        engine,
        [
            due_member_row("lost", NOW - MINUTE, timezone="Mars/Olympus", next_checkin_at=LATER),
            due_member_row("kept", NOW - MINUTE, next_checkin_at=LATER),
        ],
    )
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord"]) == 2

    rows = member_rows(engine)
    assert rows["lost"].next_nudge_at is None
    assert rows["kept"].next_nudge_at == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # heads-up
    assert len(log_by_member(engine)) == 2


def test_members_who_plan_alike_share_one_computation(
    engine: Engine,
    uow_factory: SqlUnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Goals of different sizes plan alike, and so do a pause and rest weeks that let nudges
    resume on the same day."""
    add_members(
        engine,
        [
            due_member_row(f"g{i}", NOW - MINUTE, goal_target=i % 3 + 1, next_checkin_at=LATER)
            for i in range(30)
        ]
        + [
            due_member_row(
                f"p{i}",
                NOW - MINUTE,
                paused_until=date(2026, 11, 20),
                rest_until=date(2026, 11, 16) + i * DAY,
                next_checkin_at=LATER,
            )
            for i in range(4)
        ],
    )
    planned: list[Snapshot] = []
    plan = scheduling.plan

    def counting_plan(member: Any, after: datetime, week_met: bool) -> Any:
        planned.append(member)
        return plan(member, after, week_met)

    monkeypatch.setattr(scheduling, "plan", counting_plan)
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord"], SweepSettings(batch_size=7)) == 34

    # One plan for the goals of 1-3, one for "resume on the 20th" (the later of pause and rest).
    assert len(planned) == 2


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine sends, as they reach the driver."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def test_a_batch_takes_a_fixed_handful_of_statements_whatever_the_instants(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory, statements: list[str]
) -> None:
    """Forty members advancing to many different instants still take one UPDATE."""
    zones = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney")
    add_members(
        engine,
        [
            due_member_row(
                f"u{i}",
                NOW - MINUTE,
                timezone=zones[i % 5],
                nudge_minute=(7 + i % 4) * 60,
                next_checkin_at=LATER,
            )
            for i in range(40)
        ],
    )
    outbox = Outbox(uow_factory, ManualClock(NOW))
    statements.clear()

    assert outbox.sweep(["discord"], SweepSettings(batch_size=100)) == 40

    work = [s for s in statements if s in {"SELECT", "INSERT", "UPDATE", "DELETE"}]
    # Check-ins due, nudges due, the log, the advance.
    assert work == ["SELECT", "SELECT", "INSERT", "UPDATE"]
    assert len({row.next_nudge_at for row in member_rows(engine).values()}) > 10


def add_delivery(engine: Engine, member_id: int, **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(deliveries),
            {
                "member_id": member_id,
                "platform": "discord",
                "kind": "nudge",
                "scheduled_for": NOW - HOUR,
                "status": "pending",
                "attempts": 0,
                "not_before": NOW - HOUR,
                "created_at": NOW - HOUR,
                "detail": "",
                **values,
            },
        )


@pytest.mark.parametrize(
    ("member", "delivery", "due"),
    [
        pytest.param({}, None, False, id="nothing-due"),
        pytest.param({"next_nudge_at": NOW}, None, True, id="a-nudge-due-now"),
        pytest.param({"next_checkin_at": NOW - MINUTE}, None, True, id="a-check-in-due"),
        pytest.param({"platform": "slack", "next_nudge_at": NOW}, None, False, id="other-platform"),
        pytest.param({}, {}, True, id="a-pending-delivery"),
        pytest.param({}, {"not_before": NOW + MINUTE}, False, id="a-retry-not-yet"),
        pytest.param(
            {}, {"status": "sending", "lease_until": NOW + MINUTE}, False, id="leased-elsewhere"
        ),
        pytest.param(
            {}, {"status": "sending", "lease_until": NOW - MINUTE}, True, id="a-lease-expired"
        ),
        pytest.param({}, {"status": "sent", "finished_at": NOW}, False, id="a-sent-delivery"),
    ],
)
def test_the_idle_probe_says_due_exactly_when_a_sweep_or_a_claim_would_find_work(
    engine: Engine,
    uow_factory: SqlUnitOfWorkFactory,
    member: dict[str, Any],
    delivery: dict[str, Any] | None,
    due: bool,
) -> None:
    add_members(engine, [due_member_row("u1", NOW + HOUR, **{"next_checkin_at": LATER, **member})])
    if delivery is not None:
        add_delivery(engine, member_rows(engine)["u1"].id, **delivery)
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.anything_due(["discord"]) is due
    found = outbox.sweep(["discord"]) + len(outbox.claim(["discord"], "p", timedelta(minutes=1)))
    assert bool(found) is due


def test_an_idle_tick_costs_one_statement(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory, statements: list[str]
) -> None:
    add_members(engine, [due_member_row(f"u{i}", LATER) for i in range(20)])
    outbox = Outbox(uow_factory, ManualClock(NOW))
    dispatcher = Dispatcher(outbox, {"discord": NeverSender()}, run_inline)
    statements.clear()

    assert asyncio.run(dispatcher.tick()) == 0

    assert [s for s in statements if s in {"SELECT", "INSERT", "UPDATE", "DELETE"}] == ["SELECT"]


class NeverSender:
    async def send(self, notice: Notice) -> SendResult:
        raise AssertionError("nothing is due")


async def run_inline(func: Callable[..., Any], *args: Any) -> Any:
    return func(*args)
