"""payment_gateways: checkout payment terms (the production gate), trusted customers, and one
row per JazzCash/Easypaisa hosted-checkout attempt (unique gateway transaction reference)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import orders.models._types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

METHODS = ("bank_transfer", "cash_on_delivery", "jazzcash", "easypaisa", "raast")


def _method(name: str) -> sa.Column[str]:
    kind = sa.Enum(
        *METHODS, name="payment_method", native_enum=False, create_constraint=True, length=32
    )
    return sa.Column(name, kind, nullable=False)


def upgrade() -> None:
    op.create_table(
        "customer_terms",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pay_later", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_customer_terms_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_customer_terms")),
    )
    op.create_table(
        "payment_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        _method("method"),
        sa.Column("upfront_percent", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("chosen_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.Column("released_at", orders.models._types.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "upfront_percent BETWEEN 0 AND 100",
            name=op.f("ck_payment_terms_upfront_percent_range"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payment_terms_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_terms")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payment_terms_order_id")),
    )
    op.create_table(
        "gateway_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        _method("provider"),
        sa.Column("txn_ref", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "paid",
                "failed",
                "refused",
                name="gateway_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", orders.models._types.UTCDateTime(), nullable=False),
        sa.Column("settled_at", orders.models._types.UTCDateTime(), nullable=True),
        sa.Column("inquired_at", orders.models._types.UTCDateTime(), nullable=True),
        sa.Column("response_code", sa.String(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "amount > 0", name=op.f("ck_gateway_transactions_gateway_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_gateway_transactions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_gateway_transactions_payment_id_payments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_transactions")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_gateway_transactions_payment_id")),
        sa.UniqueConstraint("txn_ref", name=op.f("uq_gateway_transactions_txn_ref")),
    )
    with op.batch_alter_table("gateway_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_transactions_order_id"), ["order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("gateway_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_transactions_order_id"))
    op.drop_table("gateway_transactions")
    op.drop_table("payment_terms")
    op.drop_table("customer_terms")
