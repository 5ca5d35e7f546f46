"""floor event keys (one applied effect per floor event id); user session versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orders.models._types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'floor_event_keys',
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('at', orders.models._types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_floor_event_keys')),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    op.drop_table('floor_event_keys')
