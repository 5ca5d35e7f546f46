"""The shipping desk for staff: ship completed orders, mark parcels delivered, cancel an order.

Order numbers travel in the form (not the URL), as the pin form's operation id does; every
refusal names its field (422) or the state that refused it (409), never a 500.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from orders.adapters.outbox import flush_enqueues
from orders.commands.fulfilment import cancel_order, deliver_order, delivery_note, ship_order
from orders.errors import DomainError, NotFound
from orders.models import Role
from orders.queries.shipping import in_transit, ready_to_ship
from web import MAX_ID, last_value, whole_number
from web.auth import hunar
from web.errors import domain_status
from web.planner import _refused, bp
from web.planner.access import actor, staff_page
from web.shop.ordering import note_response

# Why staff cancel: the kind is chosen from these, the details are written by hand.
CANCEL_KINDS = {
    "customer_request": "the customer asked",
    "cannot_make": "we cannot make it",
    "payment": "payment failed",
    "duplicate": "duplicate order",
    "other": "other",
}


def _order_field(name: str = "order_id") -> int:
    raw = last_value(request.form if request.method == "POST" else request.args, name, "")
    number = whole_number((raw or "").strip().removeprefix("#"))
    if number is None or number > MAX_ID:
        raise DomainError(
            "order number must be a whole number like 42", fields={name: "whole number"}
        )
    return number


def _refuse(exc: DomainError) -> Response | tuple[str, int]:
    return _refused(domain_status(exc), exc)


@bp.get("/shipping")
@staff_page(Role.PLANNER)
def shipping() -> str:
    with hunar().db.sessions() as s:
        return render_template(
            "planner/shipping.html",
            ready=ready_to_ship(s),
            transit=in_transit(s),
            kinds=CANCEL_KINDS,
        )


@bp.post("/shipping/ship")
@staff_page(Role.PLANNER)
def ship() -> Response | tuple[str, int]:
    form = request.form
    try:
        order_id = _order_field()
        with hunar().db.transaction() as s:
            shipment = ship_order(
                s,
                order_id,
                last_value(form, "carrier", ""),
                last_value(form, "tracking_number", ""),
                actor(),
            )
            carrier, number = shipment.carrier, shipment.tracking_number
    except DomainError as exc:
        return _refuse(exc)
    flash(f"Order #{order_id} shipped with {carrier}, tracking {number}.")
    return redirect(url_for("planner.shipping"))


@bp.post("/shipping/deliver")
@staff_page(Role.PLANNER)
def deliver() -> Response | tuple[str, int]:
    try:
        order_id = _order_field()
        with hunar().db.transaction() as s:
            deliver_order(s, order_id, actor())
    except DomainError as exc:
        return _refuse(exc)
    flash(f"Order #{order_id} is delivered.")
    return redirect(url_for("planner.shipping"))


@bp.post("/orders/cancel")
@staff_page(Role.PLANNER)
def cancel() -> Response | tuple[str, int]:
    """Staff cancel at any time before shipping, with a reason kind and the details."""
    ctx, form = hunar(), request.form
    try:
        order_id = _order_field()
        kind = last_value(form, "reason_kind", "") or ""
        if kind not in CANCEL_KINDS:
            raise DomainError(
                "choose why the order is cancelled",
                fields={"reason_kind": "one of " + ", ".join(CANCEL_KINDS)},
            )
        details = " ".join((last_value(form, "reason", "") or "").split())
        if not details:
            raise DomainError(
                "reason is required: say what happened", fields={"reason": "required"}
            )
        with ctx.db.transaction() as s:
            result = cancel_order(s, order_id, actor(), f"{CANCEL_KINDS[kind]}: {details}"[:500])
    except DomainError as exc:
        return _refuse(exc)
    if result.proposal_id is not None:
        flush_enqueues(ctx)
        flash(f"Order #{order_id} is cancelled; a re-plan is proposed.")
        return redirect(url_for("planner.schedule", schedule_id=result.proposal_id))
    flash(f"Order #{order_id} is cancelled." if result.changed else "It was already cancelled.")
    return redirect(url_for("planner.shipping"))


@bp.get("/shipping/delivery-note")
@staff_page(Role.PLANNER)
def delivery_note_pdf() -> Response | tuple[str, int]:
    try:
        order_id = _order_field("order")
        with hunar().db.sessions() as s:
            pdf = delivery_note(s, order_id).note_pdf
    except NotFound as exc:
        return _refused(404, exc)
    except DomainError as exc:
        return _refuse(exc)
    return note_response(order_id, pdf)
