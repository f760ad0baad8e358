"""The schema, and the imperative mapping of the engine's dataclasses onto it.

The engine's classes stay free of SQLAlchemy; this module teaches SQLAlchemy to persist them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator

from habits.model import (
    MAX_DISPLAY_NAME,
    MAX_REQUEST_KEY,
    GoalChange,
    Member,
    Publication,
    RestWeek,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend (SQLite included)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store naive datetime {value!r}")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False, default=""),
    Column("user_id", String(64), nullable=False),
    Column("display_name", String(MAX_DISPLAY_NAME), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("week_starts_on", SmallInteger, nullable=False, default=0),
    Column("goal_target", SmallInteger, nullable=True),
    Column("goal_label", String(40), nullable=False, default="post"),
    Column("nudge_days", SmallInteger, nullable=False),
    Column("nudge_minute", SmallInteger, nullable=False),
    Column("nudges_on", Boolean, nullable=False, default=True),
    Column("paused_until", Date, nullable=True),
    Column("rest_until", Date, nullable=True),
    Column("next_nudge_at", UTCDateTime, nullable=True),
    Column("next_checkin_at", UTCDateTime, nullable=True),
    Column("last_step", String(32), nullable=True),
    Column("unreachable", Boolean, nullable=False, default=False),
    Column("freezes_enabled", Boolean, nullable=False, default=True, server_default=true()),
    Column("heads_up_enabled", Boolean, nullable=False, default=True, server_default=true()),
    UniqueConstraint("platform", "workspace", "user_id", name="uq_members_identity"),
    # The sweep's lookups: "due members of these platforms" is an index range scan.
    Index("ix_members_due_nudge", "platform", "next_nudge_at"),
    Index("ix_members_due_checkin", "platform", "next_checkin_at"),
)

goal_changes = Table(
    "goal_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("local_day", Date, nullable=False),
    Column("target", SmallInteger, nullable=True),
    Column("label", String(40), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
)

rest_weeks = Table(
    "rest_weeks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("week_start", Date, nullable=False),
    UniqueConstraint("member_id", "week_start", name="uq_rest_weeks_member_week"),
)

publications = Table(
    "publications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
    Column("local_day", Date, nullable=False),
    Column("source", String(16), nullable=False),
    Column("url", String(2000), nullable=True),
    Column("title", Text, nullable=True),
    Column("request_key", String(MAX_REQUEST_KEY), nullable=True),
    # NULLs are distinct in both SQLite and PostgreSQL: only real links are deduplicated.
    UniqueConstraint("member_id", "url", name="uq_publications_member_url"),
    UniqueConstraint("member_id", "request_key", name="uq_publications_member_request"),
    Index("ix_publications_member_day", "member_id", "local_day"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("scheduled_for", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("attempts", SmallInteger, nullable=False, default=0),
    Column("not_before", UTCDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("detail", String(200), nullable=False, default=""),
    # The delivery log's key: a member's nudge for one instant is recorded, and so sent, once.
    UniqueConstraint("member_id", "kind", "scheduled_for", name="uq_deliveries_once"),
    Index("ix_deliveries_queue", "status", "platform", "not_before"),
)

# What an adapter must keep across restarts and replicas (Slack installations, OAuth states):
# small JSON documents by kind and key. The engine never reads them.
adapter_records = Table(
    "adapter_records",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

mapper_registry = registry(metadata=metadata)
_mapped = False
_mapping_lock = threading.Lock()


def map_models() -> None:
    """Map the engine's dataclasses onto the tables (once per process, whichever thread asks)."""
    global _mapped
    with _mapping_lock:
        if _mapped:
            return
        mapper_registry.map_imperatively(Member, members)
        mapper_registry.map_imperatively(GoalChange, goal_changes)
        mapper_registry.map_imperatively(RestWeek, rest_weeks)
        mapper_registry.map_imperatively(Publication, publications)
        _mapped = True
