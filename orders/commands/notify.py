"""What customers and staff are told, and when: each function is called by the service that makes
the change (place, amend, hold, ready, ship, deliver, cancel, a password-reset link) inside its
transaction, and writes e-mails to the outbox (`orders.adapters.mail`). An order that commits
has its e-mail; one that rolls back has none. The texts say what happened and what the reader
can do, in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import configurator
from orders.adapters.mail import Link, add_email
from orders.formats import money
from orders.lifecycle import Status
from orders.models import Event, Order, OrderLine, ProductConfiguration, Role, User
from orders.models.orders import Shipment
from orders.queries.order_story import amended_text, explain_hold

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
        + f"\n\nTotal: {money(order.total, order.currency)}\n\n"
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


def order_amended(session: Session, order: Order, event: Event) -> None:
    """The customer's own change to a line, confirmed with the new date and total (one e-mail
    per change: the key names the event)."""
    text = (
        amended_text(event.entity_id, dict(event.payload or {})).replace(
            "You changed", "you changed", 1
        )
        + ".\n\nThe order's page shows the new price and date."
    )
    event_key = f"amended{event.id}"
    _tell_customer(session, order, event_key, f"Order #{order.id} changed", text)


def order_ready(session: Session, order: Order) -> None:
    """Every line is made, checked and packed: the parcel goes out next (one e-mail per order:
    an order reaches completed once)."""
    text = (
        f"your order #{order.id} is made, checked and packed: it is ready to ship. We will "
        "write again with the carrier and tracking number when it leaves us."
    )
    _tell_customer(session, order, "ready", f"Order #{order.id} is ready to ship", text)


def password_reset_link(
    session: Session, user: User, token: str, reset_id: int, minutes: int
) -> None:
    """The one-time link (its token in clear exists only here and in the e-mail). The link is
    made absolute from HUNAR_PUBLIC_URL, else from the asking request's address only when its
    host is one of HUNAR_TRUSTED_HOSTS: a forged Host header gets an e-mail without a link."""
    body = (
        f"Hello {user.display_name},\n\nsomeone (we hope you) asked to reset the password of "
        f"your Hunar account. The link below lets you choose a new one; it works once, for "
        f"{minutes} minutes, and signs you out everywhere.\n\nIf you did not ask, ignore this "
        f"e-mail: your password stays as it is.{SIGN_OFF}"
    )
    add_email(
        session,
        key=f"mail:reset{reset_id}:user{user.id}",
        to=user.email,
        subject="Choose a new Hunar password",
        body=body,
        link=Link("Choose a new password", f"/reset/{token}"),
    )
