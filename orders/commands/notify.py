"""What customers and staff are told, and when: each function is called by the service that makes
the change (place, hold, ship, deliver, cancel) inside its transaction, and writes e-mails to
the outbox (`orders.adapters.mail`). An order that commits has its e-mail; one that rolls back
has none. The texts say what happened and what the reader can do, in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import configurator
from orders.adapters.mail import Link, add_email
from orders.lifecycle import Status
from orders.models import Event, Order, OrderLine, ProductConfiguration, Role, User
from orders.models.orders import Shipment
from orders.queries.designs import finding_text

SIGN_OFF = "\n\nThank you,\nHunar"


def _customer(session: Session, order: Order) -> User:
    return session.get_one(User, order.customer_id)


def _order_link(order: Order) -> Link:
    return Link("Your order", f"/orders/{order.id}")


def _design_name(session: Session, configuration_id: int) -> str:
    key = session.get_one(ProductConfiguration, configuration_id).family_key
    try:
        return configurator.get_family(key).name
    except configurator.UnknownFamilyError:
        return key.replace("_", " ")


def _tell_customer(session: Session, order: Order, event: str, subject: str, text: str) -> None:
    who = _customer(session, order)
    body = f"Hello {who.display_name},\n\n{text}{SIGN_OFF}"
    add_email(
        session,
        key=f"mail:{event}:order{order.id}:user{who.id}",
        to=who.email,
        subject=subject,
        body=body,
        link=_order_link(order),
    )


def order_placed(session: Session, order: Order) -> None:
    """The customer's confirmation: what they ordered, the total and the promised dates."""
    rows = []
    for ln in order.lines:
        when = f", ships by {ln.promised_ship_date.isoformat()}" if ln.promised_ship_date else ""
        name = _design_name(session, ln.configuration_id)
        rows.append(f"  - {ln.quantity} x {name} ({ln.tier}){when}")
    text = (
        f"we have received your order #{order.id}:\n\n"
        + "\n".join(rows)
        + f"\n\nTotal: {order.total:.2f} {order.currency}\n\n"
        "We are preparing your designs for production now and will write again when the order "
        "ships, or if anything needs your attention."
    )
    _tell_customer(session, order, "placed", f"Order #{order.id} received", text)


def order_held(
    session: Session, lines: Sequence[OrderLine], reason: str, payload: dict[str, Any] | None
) -> None:
    """Tell each affected customer why their order waits and what they can do, and every active
    planner what to look at (with the technical reason). One e-mail per order and hold."""
    by_order: dict[int, list[OrderLine]] = {}
    for ln in lines:
        by_order.setdefault(ln.order_id, []).append(ln)
    planners = list(
        session.scalars(
            select(User).where(User.role == Role.PLANNER, User.active.is_(True)).order_by(User.id)
        )
    )
    for order_lines in by_order.values():
        order = order_lines[0].order
        first = min(order_lines, key=lambda ln: ln.id)
        holds = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(
                Event.entity_type == "order_line",
                Event.entity_id == str(first.id),
                Event.to_state == Status.ON_HOLD.value,
            )
        )
        event = f"held{first.id}.{holds}"
        design = _design_name(session, first.configuration_id)
        plain, todo = explain_hold(reason, payload)
        text = (
            f"your order #{order.id} ({design}) is on hold: we cannot start making it yet.\n\n"
            f"Why: {plain}\n\nWhat you can do: {todo}"
        )
        _tell_customer(session, order, event, f"Order #{order.id} is on hold", text)
        customer = _customer(session, order)
        for planner in planners:
            add_email(
                session,
                key=f"mail:{event}:order{order.id}:user{planner.id}",
                to=planner.email,
                subject=f"Order #{order.id} on hold: {design}",
                body=(
                    f"Order #{order.id} of {customer.display_name} <{customer.email}> is on hold "
                    f"(lines {', '.join(str(ln.id) for ln in order_lines)}).\n\n"
                    f"Reason: {reason}\n\nThe customer was told: {plain}"
                ),
                link=Link("Planning board", "/planner/board"),
            )


def explain_hold(reason: str, payload: dict[str, Any] | None) -> tuple[str, str]:
    """(why in plain words, what the customer can do) for a hold reason as the CAD worker
    records it: DFM findings, a failed CAD build, or no machine able to make the design."""
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
    return (
        reason.rstrip(".") + ".",
        "our planners will contact you; you can reply to this e-mail with questions.",
    )


def order_shipped(session: Session, order: Order, shipment: Shipment) -> None:
    text = (
        f"your order #{order.id} has shipped.\n\n"
        f"Carrier: {shipment.carrier}\nTracking number: {shipment.tracking_number}\n\n"
        "The delivery note is on the order's page."
    )
    _tell_customer(session, order, "shipped", f"Order #{order.id} has shipped", text)


def order_delivered(session: Session, order: Order, shipment: Shipment) -> None:
    text = (
        f"{shipment.carrier} reports your order #{order.id} as delivered. If anything is "
        "missing or damaged, reply to this e-mail."
    )
    _tell_customer(session, order, "delivered", f"Order #{order.id} delivered", text)


def order_cancelled(session: Session, order: Order, reason: str, by_customer: bool) -> None:
    who = "As you asked, we have" if by_customer else "We have"
    text = (
        f"{who} cancelled your order #{order.id}.\n\nReason: {reason}\n\n"
        "Work that had not started has been stopped. Reply to this e-mail if this is a mistake."
    )
    _tell_customer(session, order, "cancelled", f"Order #{order.id} cancelled", text)
