"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('week_starts_on', sa.SmallInteger(), nullable=False),
    sa.Column('goal_target', sa.SmallInteger(), nullable=True),
    sa.Column('goal_label', sa.String(length=40), nullable=False),
    sa.Column('nudge_days', sa.SmallInteger(), nullable=False),
    sa.Column('nudge_minute', sa.SmallInteger(), nullable=False),
    sa.Column('nudges_on', sa.Boolean(), nullable=False),
    sa.Column('paused_until', sa.Date(), nullable=True),
    sa.Column('rest_until', sa.Date(), nullable=True),
    sa.Column('next_nudge_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_recap_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.String(length=32), nullable=True),
    sa.Column('unreachable', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('platform', 'workspace', 'user_id', name='uq_members_identity')
    )
    op.create_index('ix_members_due_nudge', 'members', ['platform', 'next_nudge_at'], unique=False)
    op.create_index('ix_members_due_recap', 'members', ['platform', 'next_recap_at'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_deliveries_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('member_id', 'kind', 'scheduled_for', name='uq_deliveries_once')
    )
    op.create_index('ix_deliveries_queue', 'deliveries', ['status', 'platform', 'not_before'], unique=False)

    op.create_table('goal_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('target', sa.SmallInteger(), nullable=True),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_goal_changes_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_changes'))
    )
    op.create_index(op.f('ix_goal_changes_member_id'), 'goal_changes', ['member_id'], unique=False)

    op.create_table('publications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_publications_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publications')),
    sa.UniqueConstraint('member_id', 'url', name='uq_publications_member_url')
    )
    op.create_index('ix_publications_member_day', 'publications', ['member_id', 'local_day'], unique=False)

    op.create_table('rest_weeks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_rest_weeks_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rest_weeks')),
    sa.UniqueConstraint('member_id', 'week_start', name='uq_rest_weeks_member_week')
    )


def downgrade() -> None:
    op.drop_table('rest_weeks')
    op.drop_index('ix_publications_member_day', table_name='publications')

    op.drop_table('publications')
    op.drop_index(op.f('ix_goal_changes_member_id'), table_name='goal_changes')

    op.drop_table('goal_changes')
    op.drop_index('ix_deliveries_queue', table_name='deliveries')

    op.drop_table('deliveries')
    op.drop_index('ix_members_due_recap', table_name='members')
    op.drop_index('ix_members_due_nudge', table_name='members')

    op.drop_table('members')
