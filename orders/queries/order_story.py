"""An order's history in plain words for its customer, read from the audit events.

Customers never see internal status names ("cad_ready", "released"): each transition of the
order, and what happened to a line on the way (a hold, a part remade after a fault), becomes a
sentence such as "We are making your part" or "Shipped with TCS, tracking 123".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.lifecycle import Status
from orders.models import Event, Order
from orders.models.orders import Shipment

# What the order's current state means to the customer (the headline of the order page).
HEADLINES: dict[Status, str] = {
    Status.DRAFT: "Not ordered yet",
    Status.QUOTED: "Not ordered yet",
    Status.PLACED: "We have your order and are preparing your design for making",
    Status.CAD_READY: "Your design is checked and ready to make",
    Status.SCHEDULED: "Your order has a place in our production plan",
    Status.RELEASED: "Your parts are planned on our machines and will be made soon",
    Status.IN_PRODUCTION: "We are making your part",
    Status.QC: "We are checking your parts",
    Status.COMPLETED: "Your parts are made and being packed",
    Status.SHIPPED: "Shipped",
    Status.DELIVERED: "Delivered",
    Status.ON_HOLD: "Paused: we need to sort something out before we go on",
    Status.CANCELLED: "Cancelled",
}
# Each step the order reached, as one line of its history.
STEPS: dict[str, str] = {
    Status.PLACED.value: "We received your order",
    Status.CAD_READY.value: "Your design was checked and is ready to make",
    Status.SCHEDULED.value: "Your order got a place in our production plan",
    Status.RELEASED.value: "Your parts were planned on our machines",
    Status.IN_PRODUCTION.value: "We are making your part",
    Status.QC.value: "We are checking your parts",
    Status.COMPLETED.value: "Your parts are made and being packed",
    Status.DELIVERED.value: "Delivered",
}


@dataclass(frozen=True)
class StoryItem:
    at: datetime
    text: str


def _shipped(shipment: Shipment | None) -> str:
    if shipment is None:
        return "Shipped"
    return f"Shipped with {shipment.carrier}, tracking {shipment.tracking_number}"


def headline(order: Order, shipment: Shipment | None, cancel_reason: str | None = None) -> str:
    status = Status(order.status)
    if status == Status.SHIPPED:
        return _shipped(shipment)
    if status == Status.DELIVERED and shipment is not None:
        return f"Delivered (sent with {shipment.carrier}, tracking {shipment.tracking_number})"
    if status == Status.ON_HOLD and order.hold_reason:
        return f"{HEADLINES[status]}: {order.hold_reason}"
    if status == Status.CANCELLED and cancel_reason:
        return f"Cancelled: {cancel_reason}"
    return HEADLINES[status]


def _order_sentence(ev: Event, shipment: Shipment | None, customer_id: int) -> str | None:
    to = ev.to_state or ""
    reason = (ev.payload or {}).get("reason")
    if to == Status.SHIPPED.value:
        return _shipped(shipment)
    if to == Status.ON_HOLD.value:
        return "We paused your order" + (f": {reason}" if reason else "")
    if to == Status.CANCELLED.value:
        who = (
            "You cancelled this order" if ev.actor_id == customer_id else "We cancelled this order"
        )
        return who + (f": {reason}" if reason else "")
    if ev.from_state == Status.ON_HOLD.value:
        return "We resumed your order"
    if ev.from_state == Status.RELEASED.value and to == Status.SCHEDULED.value:
        return None  # a new plan replaced the old one: the customer's order did not go back
    return STEPS.get(to)


def _line_sentence(ev: Event) -> str | None:
    payload = ev.payload or {}
    if "remake_of" in payload:
        n = int(payload.get("scrapped") or 0)
        parts = "part" if n == 1 else "parts"
        return (
            f"{n} {parts} of line {payload['remake_of']} did not pass our checks; "
            f"we are making {'it' if n == 1 else 'them'} again at no cost to you (line {ev.entity_id})"
        )
    if ev.to_state == Status.ON_HOLD.value:
        reason = payload.get("reason")
        return f"Line {ev.entity_id} is paused" + (f": {reason}" if reason else "")
    return None


def story(session: Session, order: Order, shipment: Shipment | None) -> list[StoryItem]:
    """The order's history, oldest first: its own steps, plus holds and remakes of its lines."""
    line_ids = [str(ln.id) for ln in order.lines]
    events = session.scalars(
        select(Event)
        .where(
            ((Event.entity_type == "order") & (Event.entity_id == str(order.id)))
            | ((Event.entity_type == "order_line") & Event.entity_id.in_(line_ids))
        )
        .order_by(Event.at, Event.id)
    )
    out: list[StoryItem] = []
    for ev in events:
        if ev.entity_type == "order":
            text = _order_sentence(ev, shipment, order.customer_id)
        else:
            text = _line_sentence(ev)
        if text and (not out or out[-1].text != text):
            out.append(StoryItem(ev.at, text))
    return out


def cancel_reason(session: Session, order: Order) -> str | None:
    if order.status != Status.CANCELLED:
        return None
    ev = session.scalars(
        select(Event)
        .where(
            Event.entity_type == "order",
            Event.entity_id == str(order.id),
            Event.to_state == Status.CANCELLED.value,
        )
        .order_by(Event.id.desc())
    ).first()
    return (ev.payload or {}).get("reason") if ev is not None else None


def shipment_of(session: Session, order_id: int) -> Shipment | None:
    return session.scalars(select(Shipment).where(Shipment.order_id == order_id)).first()
