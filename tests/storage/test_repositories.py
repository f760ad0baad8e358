"""The repositories and unit of work on both backends: identity, constraints, the delivery log."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.exc import IntegrityError

from habits.coach import Coach
from habits.model import (
    DEFAULT_NUDGE_DAYS,
    DEFAULT_NUDGE_MINUTE,
    DeliveryStatus,
    ManualClock,
    Member,
    MemberRef,
    Publication,
)
from habits.outbox import Outbox, SweepSettings
from habits.ports import DuplicatePublicationError
from storage.database import make_engine
from storage.tables import deliveries, members, publications
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.rows import due_member_row

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def new_member(user_id: str, platform: str = "discord", workspace: str = "") -> Member:
    return Member(platform=platform, workspace=workspace, user_id=user_id, created_at=NOW)


def add_due(engine: Engine, count: int, platform: str = "discord", **values: Any) -> None:
    row = due_member_row("", NOW, platform=platform, **values)
    with engine.begin() as connection:
        connection.execute(
            insert(members), [{**row, "user_id": f"{platform}{i}"} for i in range(count)]
        )


def logged(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(deliveries).order_by(deliveries.c.id)))


# --- members -----------------------------------------------------------------------------------


def test_member_identity_is_platform_workspace_and_user(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        for member in (
            new_member("U1", "slack", "T1"),
            new_member("U1", "slack", "T2"),
            new_member("U1", "discord"),
        ):
            uow.members.add(member)
        uow.commit()

    with uow_factory() as uow:
        found = uow.members.get(MemberRef.slack("T2", "U1"))
        assert found is not None
        assert (found.platform, found.workspace) == ("slack", "T2")
        assert uow.members.get(MemberRef.slack("T3", "U1")) is None
        assert uow.members.get(MemberRef.discord("U1")) is not None


def test_the_same_identity_cannot_be_stored_twice(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.members.add(new_member("U1"))
        uow.commit()

    with uow_factory() as uow, pytest.raises(IntegrityError):
        uow.members.add(new_member("U1"))


def test_a_long_display_name_is_cut_to_fit_on_every_backend(coach: Coach, engine: Engine) -> None:
    ref = MemberRef.slack("T1", "U1", "n" * 150)

    assert coach.handle(ref, "/goal 1 post").ok

    with engine.connect() as connection:
        assert connection.execute(select(members.c.display_name)).scalar_one() == "n" * 100


# What a platform sends as an identity is cleaned where it enters the engine (MemberRef), so the
# same odd input works on both backends: PostgreSQL refuses a NUL byte and a lone surrogate in
# text, and a column of 64 characters refuses a longer id, where SQLite accepts all three.
ODD_IDENTITIES = [
    pytest.param(MemberRef.slack("T1", "U1\x00", "Ana\x00 Lovelace"), id="nul"),
    pytest.param(MemberRef.slack("T1\x00", "U1", "Ana\ud800\n\tLovelace"), id="surrogate"),
    pytest.param(MemberRef.discord("9" * 65, "A" * 500), id="long id"),
    pytest.param(MemberRef.slack("T" * 300, "U" * 300), id="long workspace"),
    pytest.param(MemberRef.console("x\x00" * 40), id="console name"),
]


@pytest.mark.parametrize("ref", ODD_IDENTITIES)
def test_odd_platform_identities_work_on_every_backend(
    coach: Coach, engine: Engine, ref: MemberRef
) -> None:
    for text in ("/goal 1 post", "/published Hello", "/streak", "/habit export"):
        reply = coach.handle(ref, text)
        assert reply.ok, (text, reply.text)

    with engine.connect() as connection:
        (row,) = connection.execute(select(members)).all()  # one member, command after command
    for value in (row.platform, row.workspace, row.user_id, row.display_name):
        assert "\x00" not in value
        assert not any(unicodedata.category(ch) == "Cc" for ch in value)
        value.encode("utf-8")  # no lone surrogate
    assert len(row.user_id) <= 64
    assert len(row.workspace) <= 64
    assert len(row.display_name) <= 100


def test_a_request_key_with_a_nul_byte_works_on_every_backend(coach: Coach, engine: Engine) -> None:
    ref = MemberRef.discord("1")
    key = "interaction\x00" * 20

    assert coach.handle(ref, "/published https://example.com/a", request_key=key).ok
    assert coach.handle(ref, "/published https://example.com/b", request_key=key).ok

    with engine.connect() as connection:
        (stored,) = connection.execute(select(publications.c.request_key)).scalars()
    assert "\x00" not in stored


def test_ids_cut_to_fit_stay_distinct_and_stable() -> None:
    first, second = MemberRef.discord("1" * 80 + "a"), MemberRef.discord("1" * 80 + "b")

    assert first.user_id != second.user_id
    assert len(first.user_id) == 64
    assert MemberRef.discord("1" * 80 + "a") == first
    # Cleaning is idempotent: a ref rebuilt from the stored row is the same member.
    assert MemberRef.discord(first.user_id) == first
    assert MemberRef.slack("T1\x00", "U1").workspace != MemberRef.slack("T1", "U1").workspace
    assert MemberRef.discord("123456789012345678", "Ana").user_id == "123456789012345678"


def test_uncommitted_work_is_rolled_back(uow_factory: SqlUnitOfWorkFactory, engine: Engine) -> None:
    with uow_factory() as uow:
        uow.members.add(new_member("U1"))  # flushed, never committed

    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(members)).scalar_one() == 0


# --- publications ------------------------------------------------------------------------------


def test_a_link_is_stored_once_per_member_but_untitled_links_repeat(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        ana, bo = new_member("ana"), new_member("bo")
        uow.members.add(ana)
        uow.members.add(bo)
        assert ana.id is not None
        assert bo.id is not None
        for member_id, url in ((ana.id, "https://x.io/a"), (bo.id, "https://x.io/a")):
            uow.publications.add(Publication(member_id, NOW, NOW.date(), url=url))
        for _ in range(2):
            uow.publications.add(Publication(ana.id, NOW, NOW.date()))
        uow.commit()
        ana_id = ana.id

    with uow_factory() as uow:
        assert uow.publications.has_any_url(ana_id, ["https://x.io/a"])
        assert uow.publications.has_any_url(ana_id, ["http://x.io/a", "https://x.io/a"])
        assert not uow.publications.has_any_url(ana_id, ["https://x.io/b"])
        with pytest.raises(DuplicatePublicationError):
            uow.publications.add(Publication(ana_id, NOW, NOW.date(), url="https://x.io/a"))
        # A savepoint: the unit of work is still usable after losing that race.
        assert uow.publications.has_any_url(ana_id, ["https://x.io/a"])
        uow.publications.add(Publication(ana_id, NOW, NOW.date(), url="https://x.io/c"))
        uow.commit()


def test_local_days_since_and_latest(uow_factory: SqlUnitOfWorkFactory) -> None:
    days = [date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 25)]
    with uow_factory() as uow:
        ana = new_member("ana")
        uow.members.add(ana)
        assert ana.id is not None
        for index, day in enumerate(days):
            uow.publications.add(Publication(ana.id, NOW, day, title=f"t{index}"))
        uow.commit()

    with uow_factory() as uow:
        assert sorted(uow.publications.local_days(ana.id)) == days
        assert sorted(uow.publications.local_days(ana.id, since=date(2026, 11, 23))) == days[1:]
        latest = uow.publications.latest(ana.id)
        assert latest is not None
        assert latest.title == "t2"
        assert [p.title for p in uow.publications.list(ana.id)] == ["t0", "t1", "t2"]


def test_rest_weeks_are_stored_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    weeks = [date(2026, 11, 23), date(2026, 11, 30)]
    with uow_factory() as uow:
        ana = new_member("ana")
        uow.members.add(ana)
        assert ana.id is not None
        uow.history.add_rest_weeks(ana.id, weeks)
        uow.commit()

    with uow_factory() as uow:
        uow.history.add_rest_weeks(ana.id, [*weeks, date(2026, 12, 7)])
        uow.commit()

    with uow_factory() as uow:
        assert uow.history.rest_weeks(ana.id) == [*weeks, date(2026, 12, 7)]


# --- the sweep and the delivery log ------------------------------------------------------------


def test_sweep_works_through_every_batch(engine: Engine, uow_factory: SqlUnitOfWorkFactory) -> None:
    add_due(engine, 25)
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord"], SweepSettings(batch_size=10)) == 25
    assert outbox.sweep(["discord"], SweepSettings(batch_size=10)) == 0

    rows = logged(engine)
    assert len(rows) == 25
    assert {(r.kind, r.status, r.scheduled_for) for r in rows} == {("nudge", "pending", NOW)}
    with engine.connect() as connection:
        assert set(connection.execute(select(members.c.next_nudge_at)).scalars()) == {
            datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # Sunday's heads-up
        }


def test_sweep_leaves_other_platforms_and_members_not_yet_due(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_due(engine, 3, platform="slack")
    add_due(engine, 2, platform="discord", next_nudge_at=NOW + timedelta(seconds=1))
    add_due(engine, 1, platform="console", next_nudge_at=None, next_checkin_at=None)
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord", "console"]) == 0
    assert outbox.sweep(["slack"]) == 3
    assert {r.platform for r in logged(engine)} == {"slack"}


def test_claim_leases_the_oldest_first_up_to_the_limit(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_due(engine, 5)
    clock = ManualClock(NOW)
    outbox = Outbox(uow_factory, clock)
    outbox.sweep(["discord"])

    first = outbox.claim(["discord"], "a", timedelta(seconds=60), limit=2)
    rest = outbox.claim(["discord"], "b", timedelta(seconds=60), limit=10)

    assert [d.id for d in first + rest] == sorted(r.id for r in logged(engine))
    assert (len(first), len(rest)) == (2, 3)
    assert {d.user_id for d in first + rest} == {f"discord{i}" for i in range(5)}
    assert {(r.status, r.lease_until) for r in logged(engine)} == {
        ("sending", NOW + timedelta(seconds=60))
    }


def test_delivery_history_is_in_schedule_order_and_per_member(
    coach: Coach, outbox: Outbox, clock: ManualClock, uow_factory: SqlUnitOfWorkFactory
) -> None:
    for ref in (MemberRef.console("ana"), MemberRef.console("bo")):
        assert coach.handle(ref, "/goal 1 post").ok
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    outbox.sweep(["console"])
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    outbox.sweep(["console"])

    with uow_factory() as uow:
        ana = uow.members.get(MemberRef.console("ana"))
        assert ana is not None
        assert ana.id is not None
        history = uow.deliveries.history(ana.id)

    assert [(h.kind, h.scheduled_for, h.status) for h in history] == [
        ("nudge", datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "pending"),
        # No sweep on Sunday: its heads-up was missed, and is logged so.
        ("headsup", datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "skipped"),
        ("checkin", datetime(2026, 11, 30, 9, 0, tzinfo=UTC), "pending"),
    ]
    assert all(h.scheduled_for.tzinfo is not None for h in history)


ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney")


@pytest.mark.parametrize("same_schedule", [True, False], ids=["grouped", "one-by-one"])
def test_sweep_advances_every_member_to_its_own_next_slot(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory, same_schedule: bool
) -> None:
    """Both ways of writing the advance: one UPDATE per shared instant, or a driver executemany."""
    from habits import scheduling

    count = 60
    with engine.begin() as connection:
        for index in range(count):
            connection.execute(
                insert(members),
                due_member_row(
                    f"u{index}",
                    NOW - timedelta(minutes=1),
                    timezone="UTC" if same_schedule else ZONES[index % len(ZONES)],
                    nudge_days=DEFAULT_NUDGE_DAYS if same_schedule else 0b0001000 | index % 64,
                    nudge_minute=DEFAULT_NUDGE_MINUTE if same_schedule else index * 13,
                    next_checkin_at=NOW + timedelta(days=4),
                ),
            )
    outbox = Outbox(uow_factory, ManualClock(NOW))

    assert outbox.sweep(["discord"]) == count

    with engine.connect() as connection:
        rows = connection.execute(select(members)).all()
    for row in rows:
        snapshot = scheduling.Snapshot(
            row.timezone,
            row.week_starts_on,
            row.goal_target,
            row.nudge_days,
            row.nudge_minute,
            row.nudges_on,
            row.paused_until,
            row.rest_until,
            row.unreachable,
        )
        expected = scheduling.plan(snapshot, NOW, week_met=False)[0]
        assert row.next_nudge_at == expected
        assert row.next_nudge_at is not None
        assert row.next_nudge_at > NOW
        assert row.next_checkin_at == NOW + timedelta(days=4)  # not due, so untouched
    distinct = len({row.next_nudge_at for row in rows})
    assert distinct == 1 if same_schedule else distinct > count // 2
    assert len(logged(engine)) == count


# --- handing back, extending and counting claims -----------------------------------------------


def test_release_hands_back_only_what_the_owner_still_holds_claimable_at_once(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_due(engine, 4)
    clock = ManualClock(NOW)
    outbox = Outbox(uow_factory, clock)
    outbox.sweep(["discord"])
    lease = timedelta(seconds=60)
    mine = outbox.claim(["discord"], "a", lease, limit=3)
    (theirs,) = outbox.claim(["discord"], "b", lease, limit=1)
    outbox.finish(mine[0], DeliveryStatus.SENT)
    clock.advance(timedelta(seconds=10))

    with uow_factory() as uow:
        released = uow.deliveries.release([d.id for d in mine] + [theirs.id], "a")
        uow.commit()

    assert released == 2
    rows = {r.id: r for r in logged(engine)}
    assert rows[mine[0].id].status == "sent"
    assert (rows[theirs.id].status, rows[theirs.id].lease_owner) == ("sending", "b")
    for delivery in mine[1:]:
        row = rows[delivery.id]
        assert (row.status, row.lease_owner, row.lease_until, row.attempts, row.not_before) == (
            "pending",
            None,
            None,
            0,
            NOW,
        )
    # Claimable by anyone straight away, long before the 60 s lease would have run out.
    again = outbox.claim(["discord"], "c", lease)
    assert sorted(d.id for d in again) == sorted(d.id for d in mine[1:])
    assert {d.attempts for d in again} == {1}


def test_outbox_release_of_nothing_writes_nothing(uow_factory: SqlUnitOfWorkFactory) -> None:
    assert Outbox(uow_factory, ManualClock(NOW)).release([]) == 0


def test_renew_many_extends_only_the_owners_live_claims(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_due(engine, 4)
    clock = ManualClock(NOW)
    outbox = Outbox(uow_factory, clock)
    outbox.sweep(["discord"])
    lease = timedelta(seconds=60)
    mine = outbox.claim(["discord"], "a", lease, limit=3)
    (theirs,) = outbox.claim(["discord"], "b", lease, limit=1)
    outbox.finish(mine[0], DeliveryStatus.SENT)
    clock.advance(timedelta(seconds=30))

    assert outbox.renew_claims([*mine, replace(theirs, owner="a")], lease) == 2

    until = {r.id: r.lease_until for r in logged(engine)}
    extended = NOW + timedelta(seconds=90)
    assert [until[d.id] for d in mine] == [None, extended, extended]  # the sent one has none
    assert until[theirs.id] == NOW + lease


def test_backlog_counts_pending_deliveries_claimable_now(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    add_due(engine, 5)
    add_due(engine, 2, platform="slack")
    clock = ManualClock(NOW)
    outbox = Outbox(uow_factory, clock)
    outbox.sweep(["discord", "slack"])
    sending, later, done = outbox.claim(["discord"], "a", timedelta(seconds=60), limit=3)
    outbox.retry_later(later, timedelta(minutes=5), "Discord error 503")
    outbox.finish(done, DeliveryStatus.SENT)

    assert outbox.backlog(["discord"]) == 2
    assert outbox.backlog(["discord", "slack"]) == 4
    assert outbox.backlog(["console"]) == 0
    clock.advance(timedelta(minutes=5))
    # The retry is due again; an expired lease is not counted (it is the claimer's to redo).
    assert outbox.backlog(["discord"]) == 3
    assert sending.id in {r.id for r in logged(engine) if r.status == "sending"}


def test_backlog_is_a_search_of_the_queue_index_on_sqlite(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, pool_size=1)
    statements: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    try:
        event.listen(engine, "before_cursor_execute", remember)
        assert Outbox(SqlUnitOfWorkFactory(engine), ManualClock(NOW)).backlog(["discord"]) == 0
        event.remove(engine, "before_cursor_execute", remember)
        statement, parameters = next(s for s in statements if "count(" in s[0])
        with engine.connect() as connection:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            details = " ".join(str(row[-1]) for row in plan)
    finally:
        engine.dispose()
    assert "USING COVERING INDEX ix_deliveries_queue" in details
