"""What customers bought: orders and their lines, each with its own lifecycle status."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orders.db import Base
from orders.lifecycle import Status
from orders.models._types import UTCDateTime, str_enum, utcnow


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("customer_id", "idempotency_key", name="uq_orders_idem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_sha256: Mapped[str] = mapped_column(String(64), doc="Hash of the submitted content.")
    status: Mapped[Status] = mapped_column(str_enum(Status, "order_status"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    hold_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity >= 1", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    configuration_id: Mapped[int] = mapped_column(ForeignKey("configurations.id"), index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    quantity: Mapped[int]
    tier: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[Status] = mapped_column(str_enum(Status, "line_status"), index=True)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    promised_ship_date: Mapped[date | None] = mapped_column(Date)
    parent_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_lines.id", ondelete="SET NULL"), doc="Set on a re-make of scrapped parts."
    )

    order: Mapped[Order] = relationship(back_populates="lines")


class Shipment(Base):
    """The parcel of a shipped order: carrier, tracking and the delivery note handed over with it.

    One per order (the unique key is what makes a second, concurrent ship fail). The note is a
    few kilobytes of PDF kept in the row, so it is written in the same transaction as the ship.
    """

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shipped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note_pdf: Mapped[bytes] = mapped_column(LargeBinary, doc="The delivery note (PDF).")
    note_sha256: Mapped[str] = mapped_column(String(64))
