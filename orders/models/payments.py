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


class GatewayState(enum.StrEnum):
    PENDING = "pending"  # the customer was sent to the gateway; no verified answer yet
    PAID = "paid"  # a verified success for the right amount: a payment row was written
    FAILED = "failed"  # the gateway said no (declined, cancelled, expired)
    REFUSED = "refused"  # a verified answer for a wrong amount or currency: never paid


class PaymentTerms(Base):
    """How an order placed at checkout is paid, and when it may go to production.

    `upfront_percent` of the total must be received before production (0: it may pay later,
    such as cash on delivery or a trusted account). `released_at` is set once, when that is met;
    until then no design of the order goes to CAD (the one gate, `checkout_payment.may_produce`).
    """

    __tablename__ = "payment_terms"
    __table_args__ = (
        CheckConstraint("upfront_percent BETWEEN 0 AND 100", name="upfront_percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    upfront_percent: Mapped[int] = mapped_column()
    reference: Mapped[str] = mapped_column(String(32), doc="What a transfer must quote.")
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerTerms(Base):
    """Per-customer payment terms: a trusted business account may go to production unpaid."""

    __tablename__ = "customer_terms"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    pay_later: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(String(255))


class GatewayTransaction(Base):
    """One hosted-checkout attempt at JazzCash or Easypaisa; `txn_ref` is the gateway's
    transaction reference and the idempotency key of its answer (unique), so a callback, a
    replay and a status inquiry all land on one row and write at most one payment."""

    __tablename__ = "gateway_transactions"
    __table_args__ = (CheckConstraint("amount > 0", name="gateway_amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    provider: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    txn_ref: Mapped[str] = mapped_column(String(40), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[GatewayState] = mapped_column(
        str_enum(GatewayState, "gateway_state"), default=GatewayState.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    inquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_code: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL"), unique=True
    )
