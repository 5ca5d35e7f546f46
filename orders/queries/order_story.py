"""An order's history in plain words for its customer, read from the audit events.

Customers never see internal status names ("cad_ready", "released"): each transition of the
order, and what happened to a line on the way (a hold, the customer's own change, a part remade
after a fault), becomes a sentence such as "We are making your part" or "Shipped with TCS,
tracking 123". A hold reason as the CAD worker or planner writes it ("DFM: THIN_WALL: ...") is
explained here too (`explain_hold`), for the order page and the e-mails alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.lifecycle import Status
from orders.models import Event, Order
from orders.models.orders import Shipment
from orders.queries.designs import finding_text

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
        return f"{HEADLINES[status]}: {explain_hold(order.hold_reason, None)[0]}"
    if status == Status.CANCELLED and cancel_reason:
        return f"Cancelled: {cancel_reason}"
    return HEADLINES[status]


def _order_sentence(ev: Event, shipment: Shipment | None, customer_id: int) -> str | None:
    to = ev.to_state or ""
    reason = (ev.payload or {}).get("reason")
    if to == Status.SHIPPED.value:
        return _shipped(shipment)
    if to == Status.ON_HOLD.value:
        return "We paused your order" + (
            f": {explain_hold(str(reason), ev.payload)[0]}" if reason else ""
        )
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
    if ev.to_state == AMENDED:
        return amended_text(ev.entity_id, payload)
    if "remake_of" in payload:
        n = int(payload.get("scrapped") or 0)
        parts = "part" if n == 1 else "parts"
        return (
            f"{n} {parts} of line {payload['remake_of']} did not pass our checks; "
            f"we are making {'it' if n == 1 else 'them'} again at no cost to you (line {ev.entity_id})"
        )
    if ev.to_state == Status.ON_HOLD.value:
        reason = payload.get("reason")
        plain = explain_hold(str(reason), payload)[0] if reason else ""
        return f"Line {ev.entity_id} is paused" + (f": {plain}" if plain else "")
    return None


AMENDED = "amended"  # the event of a customer's change to a line (quantity, lead-time tier)


def amended_text(line_id: object, payload: dict[str, Any]) -> str:
    """A customer's change in one sentence, from the `amended` event's [old, new] pairs, e.g.
    'You changed line 4: quantity 2 → 5; it now ships by 2027-01-08; the new total is PKR 900'."""
    changes = []
    for key, label in (("quantity", "quantity"), ("tier", "lead time")):
        old, new = (payload.get(key) or [None, None])[:2]
        if old != new:
            changes.append(f"{label} {old} → {new}")
    text = f"You changed line {line_id}: " + (", ".join(changes) or "no change")
    date = (payload.get("promised_ship_date") or [None, None])[1]
    total = (payload.get("order_total") or [None, None])[1]
    if date:
        text += f"; it now ships by {date}"
    if total:
        money = " ".join(str(x) for x in (payload.get("currency"), total) if x)
        text += f"; the order's new total is {money}"
    return text


# A line's quantity and lead time may change until its design goes to CAD: its operations (and
# so the plan and the floor) are sized from them once it is cad_ready.
AMENDABLE = frozenset({Status.QUOTED, Status.PLACED})


def amend_blocker(
    status: Status, has_operations: bool, reason: str | None, payload: dict[str, Any] | None
) -> str | None:
    """None when the customer may change the line's quantity or lead time; else why not:
    "design" (on hold for its design: a new design is needed), "started" (CAD is done and
    the work is being prepared or made) or "closed" (cancelled, or finished)."""
    if status in AMENDABLE:
        return None
    if status == Status.ON_HOLD:
        if design_problem(reason, payload):
            return "design"
        return "started" if has_operations else None
    if status in (Status.CANCELLED, Status.SHIPPED, Status.DELIVERED):
        return "closed"
    return "started"


def design_problem(reason: str | None, payload: dict[str, Any] | None = None) -> bool:
    """Whether a hold is the design's own fault (DFM findings, no machine can make it): only a
    new design cures it, never a different quantity or lead time."""
    findings = (payload or {}).get("findings")
    text = reason or ""
    return bool(findings) or text.startswith(("DFM:", "no machine can make it"))


def explain_hold(reason: str, payload: dict[str, Any] | None) -> tuple[str, str]:
    """(why in plain words, what the customer can do) for a hold reason as the CAD worker or
    the planner records it: DFM findings, a failed CAD build, no machine able to make the
    design, or no room in the plan."""
    findings = [f for f in (payload or {}).get("findings", []) if isinstance(f, dict)]
    if findings or reason.startswith("DFM:"):
        problems = "; ".join(finding_text(f) for f in findings if finding_text(f))
        why = "the design cannot be made reliably as it is" + (
            f": {problems}." if problems else "."
        )
        return why, (
            "change the design in the configurator as described (for example thicker walls or "
            "larger holes) and order the changed design; you can cancel this order from its "
            "page. Or reply to this e-mail and we will help you adjust it."
        )
    if reason.startswith("no machine can make it"):
        detail = reason.partition(":")[2].strip()
        return (
            "none of our machines can make this design as configured"
            + (f" ({detail})." if detail else "."),
            "choose a smaller size or another material in the configurator and order again, or "
            "cancel this order from its page. Reply to this e-mail if you need help.",
        )
    if reason.startswith("CAD "):
        return (
            "our system could not build the 3D model of your design automatically.",
            "nothing for now: our planners have been told and will contact you. You can also "
            "cancel this order from its page.",
        )
    if reason.startswith("cannot be planned"):
        return (
            "we could not find room for it in our production plan yet.",
            "nothing for now: our planners will find a place or contact you. You can also "
            "cancel this order from its page.",
        )
    return (
        reason.rstrip(".") + ".",
        "our planners will contact you; you can reply to this e-mail with questions.",
    )


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
