"""printer_status: each printer's last live status for the fleet board

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orders.models._types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "printer_status",
        sa.Column("machine_id", sa.String(length=64), nullable=False),
        sa.Column(
            "connection",
            sa.Enum(
                "disconnected",
                "connecting",
                "connected",
                "failed",
                name="printer_connection",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "job_state",
            sa.Enum(
                "Unknown",
                "NotAllowedToStart",
                "AllowedToStart",
                "Running",
                "Interrupted",
                "Ended",
                "Aborted",
                name="printer_job_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=120), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("nozzle_c", sa.Float(), nullable=True),
        sa.Column("bed_c", sa.Float(), nullable=True),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("monitor_only", sa.Text(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", orders.models._types.UTCDateTime(), nullable=True),
        sa.Column("changed_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.Column("read_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["machines.id"],
            name=op.f("fk_printer_status_machine_id_machines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("machine_id", name=op.f("pk_printer_status")),
    )


def downgrade() -> None:
    op.drop_table("printer_status")
