"""Configured designs and the quotes given for them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import JsonDict, JSONType, UTCDateTime, utcnow


class ProductConfiguration(Base):
    """Family + normalised parameters; the config hash makes equal designs share artifacts."""

    __tablename__ = "configurations"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_key: Mapped[str] = mapped_column(String(64), index=True)
    family_version: Mapped[int]
    params_json: Mapped[str] = mapped_column(Text, doc="Canonical JSON of the parameters.")
    config_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Quote(Base):
    __tablename__ = "quotes"
    __table_args__ = (CheckConstraint("quantity >= 1", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    configuration_id: Mapped[int] = mapped_column(
        ForeignKey("configurations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    quantity: Mapped[int]
    tier: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    lines: Mapped[JsonDict] = mapped_column(JSONType, default=dict)
    source: Mapped[str] = mapped_column(String(16), doc="analytic or measured")
    promised_ship_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
