"""the weekly check-in by one name: next_checkin_at, and 'checkin' deliveries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

The product calls the week-opening message the weekly check-in; the schema called it a recap.
The member's next instant becomes next_checkin_at (its due index renamed with it) and the
delivery log's 'recap' entries become 'checkin' ones, so the export, the metrics and the code
say one word. The column is renamed in place on both backends (SQLite 3.25 and later can), so
no table is copied.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    """From the ``old`` word to the ``new`` one: the column, its due index, the logged kind."""
    op.drop_index(f"ix_members_due_{old}", table_name="members")
    op.execute(f"ALTER TABLE members RENAME COLUMN next_{old}_at TO next_{new}_at")
    op.create_index(f"ix_members_due_{new}", "members", ["platform", f"next_{new}_at"])
    deliveries = sa.table("deliveries", sa.column("kind", sa.String(8)))
    op.execute(deliveries.update().where(deliveries.c.kind == old).values(kind=new))


def upgrade() -> None:
    _rename("recap", "checkin")


def downgrade() -> None:
    _rename("checkin", "recap")
