"""stock: filament spools and sheets (stock_items) and their ledger (stock_moves)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orders.models._types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "spool",
                "sheet",
                name="stock_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("material_id", sa.String(length=32), nullable=False),
        sa.Column("colour", sa.String(length=32), nullable=False),
        sa.Column("thickness_mm", sa.Float(), nullable=True),
        sa.Column("grams_initial", sa.Float(), nullable=False),
        sa.Column("grams_left", sa.Float(), nullable=False),
        sa.Column("tare_g", sa.Float(), nullable=False),
        sa.Column("sheets_initial", sa.Integer(), nullable=False),
        sa.Column("sheets_left", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("machine_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'spool' AND thickness_mm IS NULL) OR (kind = 'sheet' AND thickness_mm > 0 AND machine_id IS NULL)",
            name=op.f("ck_stock_items_kind_fields"),
        ),
        sa.CheckConstraint(
            "grams_initial >= 0", name=op.f("ck_stock_items_grams_initial_nonnegative")
        ),
        sa.CheckConstraint("grams_left >= 0", name=op.f("ck_stock_items_grams_left_nonnegative")),
        sa.CheckConstraint(
            "sheets_initial >= 0", name=op.f("ck_stock_items_sheets_initial_nonnegative")
        ),
        sa.CheckConstraint("sheets_left >= 0", name=op.f("ck_stock_items_sheets_left_nonnegative")),
        sa.CheckConstraint("tare_g >= 0", name=op.f("ck_stock_items_tare_nonnegative")),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["machines.id"],
            name=op.f("fk_stock_items_machine_id_machines"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_items")),
        sa.UniqueConstraint("machine_id", name=op.f("uq_stock_items_machine_id")),
    )
    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_items_material_id"), ["material_id"], unique=False
        )

    op.create_table(
        "stock_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "receive",
                "load",
                "unload",
                "adjust",
                "consume",
                "discrepancy",
                name="stock_move_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("grams", sa.Float(), nullable=False),
        sa.Column("sheets", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.String(length=64), nullable=True),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", orders.models._types.UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["stock_items.id"],
            name=op.f("fk_stock_moves_item_id_stock_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.id"],
            name=op.f("fk_stock_moves_operation_id_operations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_moves")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_stock_moves_idempotency_key")),
    )
    with op.batch_alter_table("stock_moves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_moves_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_moves_operation_id"), ["operation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_moves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_moves_operation_id"))
        batch_op.drop_index(batch_op.f("ix_stock_moves_item_id"))

    op.drop_table("stock_moves")
    with op.batch_alter_table("stock_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_items_material_id"))

    op.drop_table("stock_items")
