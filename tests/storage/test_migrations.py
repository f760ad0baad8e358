"""Alembic migrations: up, down and up again on a fresh database, and in step with the models."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from habits.coach import Coach
from habits.model import ManualClock, MemberRef
from habits.outbox import Outbox
from storage.database import current_revision, downgrade, head_revision, make_engine, upgrade
from storage.tables import metadata

TABLES = {"members", "goal_changes", "rest_weeks", "publications", "deliveries", "adapter_records"}


def table_names(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def test_fresh_database_is_at_head_with_every_table(db_url: str, engine: Engine) -> None:
    assert head_revision() is not None
    assert current_revision(engine) == head_revision()
    assert table_names(engine) == TABLES | {"alembic_version"}


def test_downgrade_to_base_and_upgrade_again(db_url: str, engine: Engine, coach: Coach) -> None:
    downgrade(db_url, "base")

    assert table_names(engine) == {"alembic_version"}
    assert current_revision(engine) is None

    upgrade(db_url)

    assert current_revision(engine) == head_revision()
    assert table_names(engine) == TABLES | {"alembic_version"}
    assert coach.handle(MemberRef.console("ana"), "/goal 1 post").ok


def test_upgrade_at_head_is_a_no_op(db_url: str, engine: Engine, coach: Coach) -> None:
    assert coach.handle(MemberRef.console("ana"), "/published Kept").ok

    upgrade(db_url)

    assert coach.handle(MemberRef.console("ana"), "/streak").streak.total_publications == 1  # type: ignore[union-attr]


def test_migrations_match_the_models(db_url: str, engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)

    assert differences == []


def test_migrations_match_the_models_after_a_round_trip(db_url: str, engine: Engine) -> None:
    downgrade(db_url, "base")
    upgrade(db_url)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)

    assert differences == []


def test_upgrading_from_0001_keeps_publications_and_adds_request_keys(
    db_url: str, engine: Engine, coach: Coach
) -> None:
    assert coach.handle(MemberRef.console("ana"), "/published https://example.com/a Kept").ok
    downgrade(db_url, "0001")
    assert "adapter_records" not in table_names(engine)

    upgrade(db_url)

    ana = MemberRef.console("ana")
    assert coach.handle(ana, "/streak").streak.total_publications == 1  # type: ignore[union-attr]
    assert coach.handle(ana, "/published B", request_key="k1").ok
    assert "same request" in coach.handle(ana, "/published B", request_key="k1").text
    assert coach.handle(ana, "/streak").streak.total_publications == 2  # type: ignore[union-attr]


def test_the_weekly_check_in_was_a_recap_before_0004_and_converts_both_ways(
    db_url: str, engine: Engine, coach: Coach, outbox: Outbox, clock: ManualClock
) -> None:
    ana = MemberRef.console("ana")
    assert coach.handle(ana, "/goal 1 post").ok
    clock.advance(timedelta(days=7))  # past next Monday's check-in
    assert outbox.sweep(["console"]) == 1
    with engine.connect() as connection:
        logged = connection.execute(text("SELECT kind FROM deliveries")).scalars().all()
        next_at = connection.execute(text("SELECT next_checkin_at FROM members")).scalar()
    assert "checkin" in logged
    assert next_at is not None

    downgrade(db_url, "0003")

    with engine.connect() as connection:
        before = connection.execute(text("SELECT kind FROM deliveries")).scalars().all()
        kept = connection.execute(text("SELECT next_recap_at FROM members")).scalar()
    assert sorted(before) == sorted("recap" if k == "checkin" else k for k in logged)
    assert kept == next_at

    upgrade(db_url)

    with engine.connect() as connection:
        after = connection.execute(text("SELECT kind FROM deliveries")).scalars().all()
        again = connection.execute(text("SELECT next_checkin_at FROM members")).scalar()
    assert (sorted(after), again) == (sorted(logged), next_at)
    assert coach.handle(ana, "/nudges").ok


@pytest.mark.postgres
def test_postgresql_vacuums_the_due_tables_after_one_percent_has_changed(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1)
    try:
        with engine.connect() as connection:
            options = dict(
                connection.execute(
                    text(
                        "SELECT relname, reloptions FROM pg_class "
                        "WHERE relname IN ('members', 'deliveries')"
                    )
                ).all()
            )
            downgrade(pg_url, "0002")
            reset = connection.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'members'")
            ).scalar()
    finally:
        engine.dispose()
    for table in ("members", "deliveries"):
        assert "autovacuum_vacuum_scale_factor=0.01" in options[table]
    assert reset is None


def test_0005_adds_both_member_settings_on_for_existing_members(
    db_url: str, engine: Engine, coach: Coach
) -> None:
    ana = MemberRef.console("ana")
    assert coach.handle(ana, "/goal 1 post").ok
    downgrade(db_url, "0004")
    with engine.connect() as connection:
        before = {c["name"] for c in inspect(connection).get_columns("members")}
    assert "goal_target" in before
    assert not {"freezes_enabled", "heads_up_enabled"} & before

    upgrade(db_url)  # the member stored before the settings existed has both on

    with engine.connect() as connection:
        settings = connection.execute(
            text("SELECT goal_target, freezes_enabled, heads_up_enabled FROM members")
        ).one()
    assert (settings[0], bool(settings[1]), bool(settings[2])) == (1, True, True)
    assert coach.handle(ana, "/streak").ok
