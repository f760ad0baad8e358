"""UTCDateTime: aware UTC in and out on every backend; naive datetimes never reach the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import StatementError

from habits.coach import Coach
from habits.model import DEFAULT_NUDGE_DAYS, DEFAULT_NUDGE_MINUTE, ManualClock, MemberRef
from storage.database import make_engine
from storage.tables import members

BERLIN = ZoneInfo("Europe/Berlin")


def member_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "platform": "console",
        "workspace": "",
        "user_id": "ana",
        "display_name": "",
        "created_at": datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
        "timezone": "UTC",
        "week_starts_on": 0,
        "goal_label": "post",
        "nudge_days": DEFAULT_NUDGE_DAYS,
        "nudge_minute": DEFAULT_NUDGE_MINUTE,
        "nudges_on": True,
        "unreachable": False,
    }
    values.update(overrides)
    return values


def test_aware_datetime_in_another_zone_comes_back_as_the_same_instant_in_utc(
    engine: Engine,
) -> None:
    local = datetime(2026, 11, 23, 14, 0, 0, 123456, tzinfo=BERLIN)
    with engine.begin() as connection:
        connection.execute(insert(members).values(member_values(created_at=local)))

    with engine.connect() as connection:
        stored = connection.execute(select(members.c.created_at)).scalar_one()

    assert stored == datetime(2026, 11, 23, 13, 0, 0, 123456, tzinfo=UTC)
    assert stored.tzinfo is UTC


def test_values_written_through_the_orm_come_back_aware_utc(
    coach: Coach, clock: ManualClock, engine: Engine
) -> None:
    clock.set(datetime(2026, 11, 23, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles")))
    assert coach.handle(MemberRef.console("ana"), "/goal 1").ok

    with engine.connect() as connection:
        row = connection.execute(
            select(members.c.created_at, members.c.next_nudge_at, members.c.next_checkin_at)
        ).one()

    assert row.created_at == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    assert all(value.tzinfo is UTC for value in row)


def test_null_stays_null(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(members).values(member_values(next_nudge_at=None)))

    with engine.connect() as connection:
        assert connection.execute(select(members.c.next_nudge_at)).scalar_one() is None


def test_storing_a_naive_datetime_raises(engine: Engine) -> None:
    with engine.begin() as connection, pytest.raises(StatementError, match="naive datetime"):
        connection.execute(insert(members).values(member_values(created_at=datetime(2026, 1, 1))))

    with engine.connect() as connection:
        assert connection.execute(select(members.c.id)).all() == []


def test_comparing_with_a_naive_datetime_raises(engine: Engine) -> None:
    query = select(members.c.id).where(members.c.next_nudge_at <= datetime(2026, 1, 1))

    with engine.connect() as connection, pytest.raises(StatementError, match="naive datetime"):
        connection.execute(query)


def test_comparisons_order_instants_not_wall_clock_readings(engine: Engine) -> None:
    # 10:00 in Berlin is earlier than 05:00 in New York on the same day.
    berlin_ten = datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)
    new_york_five = datetime(2026, 11, 26, 5, 0, tzinfo=ZoneInfo("America/New_York"))
    with engine.begin() as connection:
        connection.execute(
            insert(members),
            [
                member_values(user_id="ny", next_nudge_at=new_york_five),
                member_values(user_id="berlin", next_nudge_at=berlin_ten),
            ],
        )
    cutoff = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)

    with engine.connect() as connection:
        ordered = connection.execute(
            select(members.c.user_id).order_by(members.c.next_nudge_at)
        ).scalars()
        due = connection.execute(
            select(members.c.user_id).where(members.c.next_nudge_at <= cutoff)
        ).scalars()

        assert list(ordered) == ["berlin", "ny"]
        assert list(due) == ["berlin"]


@pytest.mark.postgres
def test_postgresql_session_in_another_zone_still_reads_utc(pg_url: str) -> None:
    instant = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    engine = make_engine(pg_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(text("SET TIME ZONE 'Asia/Kolkata'"))
            connection.execute(insert(members).values(member_values(next_nudge_at=instant)))
            stored = connection.execute(select(members.c.next_nudge_at)).scalar_one()
            raw = connection.execute(text("SELECT next_nudge_at FROM members")).scalar_one()
    finally:
        engine.dispose()

    assert raw.utcoffset() == timedelta(hours=5, minutes=30)  # the driver follows the session
    assert stored == instant
    assert stored.tzinfo is UTC
