"""shipments (carrier, tracking, delivery note) and the 'delivered' status

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orders.models._types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BEFORE = (
    "draft", "quoted", "placed", "cad_ready", "scheduled", "released", "in_production", "qc",
    "completed", "shipped", "on_hold", "cancelled",
)  # fmt: skip
AFTER = (*BEFORE[:10], "delivered", *BEFORE[10:])
STATUS_CHECKS = (("orders", "order_status"), ("order_lines", "line_status"))


def _statuses(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _set_checks(values: tuple[str, ...]) -> None:
    """The status columns are VARCHAR + CHECK (no native enum): replace the CHECK's list."""
    for table, name in STATUS_CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), _statuses(values))


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("shipped_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.Column("shipped_by_id", sa.Integer(), nullable=True),
        sa.Column("delivered_at", orders.models._types.UTCDateTime(), nullable=True),
        sa.Column("note_pdf", sa.LargeBinary(), nullable=False),
        sa.Column("note_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_shipments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipped_by_id"],
            ["users.id"],
            name=op.f("fk_shipments_shipped_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("order_id", name=op.f("uq_shipments_order_id")),
    )
    _set_checks(AFTER)


def downgrade() -> None:
    for table in ("orders", "order_lines"):
        op.execute(sa.text(f"UPDATE {table} SET status = 'shipped' WHERE status = 'delivered'"))
    _set_checks(BEFORE)
    op.drop_table("shipments")
