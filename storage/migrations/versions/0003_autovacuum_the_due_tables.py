"""vacuum the due tables soon after a sweep (PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Every sweep moves each due member's next instants forward, leaving the old entries of the due
indexes dead until the table is vacuumed; the next sweeps and the idle probe step over them.
PostgreSQL's default waits for 20 % of a table to change: after a catch-up of 150,000 of a
million members the idle probe took 9 ms instead of 1 ms, and autovacuum would not have come.
Visiting after 1 % (and at least 1,000 rows) keeps that window short. Nothing changes on SQLite.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("members", "deliveries")
SETTINGS = (
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.02"
)
NAMES = "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({SETTINGS})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({NAMES})")
