"""Money records: payments staff record against an order, and the order's one invoice number.

A payment is never deleted or edited: a mistake is voided with a reason, so the order's paid
amount is always the sum of its recorded (not void) rows. The method list already holds the
online gateways (JazzCash, Easypaisa, Raast), which will write the same row.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import UTCDateTime, str_enum, utcnow


class PaymentMethod(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH_ON_DELIVERY = "cash_on_delivery"
    JAZZCASH = "jazzcash"
    EASYPAISA = "easypaisa"
    RAAST = "raast"


class PaymentState(enum.StrEnum):
    RECORDED = "recorded"
    VOID = "void"


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("order_id", "idempotency_key", name="uq_payments_idem"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), doc="One per form: a re-submit.")
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    reference: Mapped[str | None] = mapped_column(String(64), doc="Bank or gateway reference.")
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_by: Mapped[str] = mapped_column(String(255), doc="The actor's label, kept as said.")
    state: Mapped[PaymentState] = mapped_column(
        str_enum(PaymentState, "payment_state"), default=PaymentState.RECORDED
    )
    void_reason: Mapped[str | None] = mapped_column(Text)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invoice(Base):
    """An order's invoice number, given once (unique order) from one gap-free sequence."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    number: Mapped[int] = mapped_column(unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
