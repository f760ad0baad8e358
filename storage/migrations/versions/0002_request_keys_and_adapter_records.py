"""request keys on publications; adapter records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

A chat platform may deliver one request twice (Slack retries, a gateway replay); the request's
key on the publication it logged keeps it to once. Adapters keep what must outlive a process
(Slack installations and OAuth states) in adapter_records.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publications") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=100), nullable=True))
        batch.create_unique_constraint(
            "uq_publications_member_request", ["member_id", "request_key"]
        )
    op.create_table(
        "adapter_records",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_adapter_records")),
    )


def downgrade() -> None:
    op.drop_table("adapter_records")
    with op.batch_alter_table("publications") as batch:
        batch.drop_constraint("uq_publications_member_request", type_="unique")
        batch.drop_column("request_key")
