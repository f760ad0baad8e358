"""two member settings: earned streak freezes, and the last-day heads-up

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A member may opt out of earned streak freezes (``/goal freezes off``) and of the heads-up on the
last day of the week (``/nudges heads-up off``). Both are on for everyone, so existing rows get
true through the server default.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("freezes_enabled", "heads_up_enabled")


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        for name in COLUMNS:
            batch.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true())
            )


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
