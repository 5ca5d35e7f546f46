"""The shipping desk's lists: orders ready to ship, and parcels on their way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.lifecycle import Status
from orders.models import Order, User
from orders.models.orders import Shipment


@dataclass(frozen=True)
class ShippingRow:
    order_id: int
    customer: str
    parts: int
    promised: date | None  # the earliest promised ship date of its lines
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None


def _row(order: Order, email: str, shipment: Shipment | None = None) -> ShippingRow:
    lines = [ln for ln in order.lines if ln.status != Status.CANCELLED]
    dates = [ln.promised_ship_date for ln in lines if ln.promised_ship_date]
    return ShippingRow(
        order.id,
        email,
        sum(ln.quantity for ln in lines if ln.parent_line_id is None),
        min(dates) if dates else None,
        shipment.carrier if shipment else None,
        shipment.tracking_number if shipment else None,
        shipment.shipped_at if shipment else None,
    )


def ready_to_ship(session: Session, limit: int = 200) -> list[ShippingRow]:
    """Completed orders, the most urgent promise first."""
    rows = session.execute(
        select(Order, User.email)
        .join(User, User.id == Order.customer_id)
        .where(Order.status == Status.COMPLETED)
        .order_by(Order.id)
        .limit(limit)
    ).all()
    out = [_row(o, email) for o, email in rows]
    return sorted(out, key=lambda r: (r.promised or date.max, r.order_id))


def in_transit(session: Session, limit: int = 200) -> list[ShippingRow]:
    """Shipped orders not yet marked delivered, oldest parcel first."""
    rows = session.execute(
        select(Order, User.email, Shipment)
        .join(User, User.id == Order.customer_id)
        .join(Shipment, Shipment.order_id == Order.id)
        .where(Order.status == Status.SHIPPED)
        .order_by(Shipment.shipped_at)
        .limit(limit)
    ).all()
    return [_row(o, email, sh) for o, email, sh in rows]
