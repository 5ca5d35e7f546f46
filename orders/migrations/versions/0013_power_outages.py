"""power_outages: load-shedding per electricity feeder, imported, typed in or reported

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orders.models._types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    source = sa.Enum(
        "ics",
        "manual",
        "floor",
        name="outage_source",
        native_enum=False,
        create_constraint=True,
        length=32,
    )
    op.create_table(
        "power_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feeder", sa.String(length=64), nullable=False),
        sa.Column("start_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.Column("end_at", orders.models._types.UTCDateTime(), nullable=True),
        sa.Column("source", source, nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "end_at IS NULL OR end_at > start_at", name=op.f("ck_power_outages_ends_after_start")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_power_outages")),
        sa.UniqueConstraint("feeder", "uid", name="uq_power_outages_feeder_uid"),
    )
    with op.batch_alter_table("power_outages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_power_outages_feeder"), ["feeder"], unique=False)
        batch_op.create_index(batch_op.f("ix_power_outages_start_at"), ["start_at"], unique=False)


def downgrade() -> None:
    op.drop_table("power_outages")
