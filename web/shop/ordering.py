"""Cart, checkout (idempotent), my orders, the tracked order page and file downloads."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response as FlaskResponse
from flask import flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from orders.adapters.outbox import flush_enqueues
from orders.commands.amend import amend_line
from orders.commands.audit import Actor
from orders.commands.checkout_payment import Offer, choice_for, offered_methods
from orders.commands.fulfilment import cancel_order, delivery_note
from orders.commands.ordering import LineRequest, place_order
from orders.errors import DomainError, NotFound
from orders.models import Role
from orders.queries.catalog import load_config
from orders.queries.designs import get_design, live_quote
from orders.queries.tracking import list_orders, order_for_key, track_order
from web import last_value, whole_number
from web.auth import hunar, page_roles
from web.files import send_artifact
from web.shop import (
    bp,
    pay,  # noqa: F401  (registers the payment routes)
)
from web.shop.cart import clear, lines, remove_line
from web.shop.order_page import _me, _order_page, _refused, _scope


def _priced_cart() -> list[dict[str, Any]]:
    """Cart lines with a fresh live price, feasibility and date (the cart never goes stale)."""
    ctx, out = hunar(), []
    with ctx.db.sessions() as s:
        for line in lines(session):
            try:
                row = get_design(s, _me(), int(line["configuration_id"]))
            except (NotFound, KeyError, TypeError, ValueError):
                continue
            lq = live_quote(
                s,
                load_config(row),
                int(line["quantity"]),
                str(line["tier"]),
                ctx.settings.currency,
                viewer=_me(),
            )
            out.append(
                line
                | {
                    "quote": lq.quote,
                    "orderable": lq.orderable,
                    "ship_date": lq.promise.ship_date,
                    "reasons": [r.message for r in lq.feasibility.reasons],
                }
            )
    return out


def _offers() -> tuple[Offer, ...]:
    """The payment methods this customer may choose (the shop's, per their terms)."""
    ctx = hunar()
    with ctx.db.sessions() as s:
        return offered_methods(s, ctx.settings, _me().id)


def _cart_page(priced: list[dict[str, Any]], offers: tuple[Offer, ...], error: str = "") -> str:
    return render_template(
        "shop/cart.html",
        lines=priced,
        idempotency_key=uuid.uuid4().hex,
        orderable=bool(priced) and all(x["orderable"] for x in priced) and bool(offers),
        methods=offers,
        payment_error=error,
    )


@bp.get("/cart")
@page_roles(Role.CUSTOMER)
def cart() -> str:
    return _cart_page(_priced_cart(), _offers())


@bp.post("/cart/remove/<id:index>")
@page_roles(Role.CUSTOMER)
def cart_remove(index: int) -> Response:
    remove_line(session, index)
    return redirect(url_for("shop.cart"))


@bp.post("/checkout")
@page_roles(Role.CUSTOMER)
def checkout() -> Response | tuple[str, int]:
    key = request.form.get("idempotency_key", "").strip()[:128]
    ctx, me = hunar(), _me()
    if key:
        with ctx.db.sessions() as s:
            existing = order_for_key(s, me.id, key)
        if existing is not None:  # a double click: the first submit already placed it
            return redirect(url_for("shop.order", order_id=existing))
    priced = _priced_cart()
    if not priced:
        flash("Your cart is empty; nothing was ordered.")
        return redirect(url_for("shop.cart"))
    reqs = [
        LineRequest(int(x["configuration_id"]), int(x["quantity"]), str(x["tier"])) for x in priced
    ]
    # The form preselects the first method, so a form without the field means that one.
    with ctx.db.sessions() as s:
        method = last_value(request.form, "payment_method", "")
        choice = choice_for(s, ctx.settings, me.id, method)
    offers = choice.offers
    if choice.method not in {o.method for o in offers}:
        names = ", ".join(o.method for o in offers) or "none is set up"
        error = f"Nothing was ordered: payment_method must be one of {names}."
        return _cart_page(priced, offers, error), 422
    try:
        with ctx.db.transaction() as s:
            actor = Actor(me.email, me.id)
            result = place_order(s, me.id, reqs, key, actor, ctx.settings.currency, choice)
            order_id = result.order.id
    except DomainError as exc:  # the service's orderability rule: nothing was ordered
        flash(f"Nothing was ordered: {exc.message}")
        return redirect(url_for("shop.cart"))
    clear(session)
    flash(f"Thank you! Order #{order_id} is placed.")
    return redirect(url_for("shop.order", order_id=order_id, placed=1))


@bp.get("/orders")
@page_roles(Role.CUSTOMER)
def my_orders() -> str:
    with hunar().db.sessions() as s:
        orders = list_orders(s, _me().id)
    return render_template("shop/orders.html", orders=orders)


@bp.get("/orders/<id:order_id>")
@page_roles(Role.CUSTOMER)
def order(order_id: int) -> str:
    me = _me()
    with hunar().db.sessions() as s:
        tracking = track_order(s, order_id, _scope(me))
    return _order_page(tracking, me.role == Role.CUSTOMER, bool(request.args.get("placed")))


@bp.post("/orders/<id:order_id>/cancel")
@page_roles(Role.CUSTOMER)
def cancel(order_id: int) -> Response | tuple[str, int]:
    """The customer cancels their own order (until it goes to the floor); an admin here cancels
    as staff, with a reason. A refusal re-renders the page with the rule that refused it."""
    ctx, me = hunar(), _me()
    reason = (last_value(request.form, "reason", "") or "")[:500]
    scope = _scope(me)
    try:
        with ctx.db.transaction() as s:
            result = cancel_order(s, order_id, Actor(me.email, me.id), reason, customer_id=scope)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(order_id, scope, exc)
    if result.proposal_id is not None:
        flush_enqueues(ctx)  # the re-plan's solve is requested; a failure waits for dispatch
    flash(
        f"Order #{order_id} is cancelled."
        if result.changed
        else "This order was already cancelled."
    )
    return redirect(url_for("shop.order", order_id=order_id))


@bp.post("/orders/<id:order_id>/amend")
@page_roles(Role.CUSTOMER)
def amend(order_id: int) -> Response | tuple[str, int]:
    """The customer changes a line's quantity or lead time (before its design goes to CAD):
    re-priced and re-promised by `amend_line`; a refusal shows the rule on the order page."""
    ctx, me = hunar(), _me()
    scope = _scope(me)
    line_id = whole_number(last_value(request.form, "line_id"))
    quantity = whole_number(last_value(request.form, "quantity"), max_digits=6)
    tier = (last_value(request.form, "tier", "") or "").strip()[:16]
    try:
        if line_id is None:
            raise DomainError("choose the line to change", fields={"line_id": "whole number"})
        if quantity is None:
            raise DomainError(
                "quantity must be a whole number", fields={"quantity": "whole number"}
            )
        with ctx.db.transaction() as s:
            actor = Actor(me.email, me.id)
            done = amend_line(s, order_id, line_id, quantity, tier, actor, customer_id=scope)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(order_id, scope, exc)
    if done.changed:
        when = f", ships by {done.promised_ship_date}" if done.promised_ship_date else ""
        flash(f"Line {line_id} changed: {quantity} units, {tier}{when}. New total {done.total}.")
    else:
        flash(f"Line {line_id} already has {quantity} units at {tier}: nothing changed.")
    return redirect(url_for("shop.order", order_id=order_id))


@bp.get("/orders/<id:order_id>/delivery-note.pdf")
@page_roles(Role.CUSTOMER)
def delivery_note_pdf(order_id: int) -> FlaskResponse:
    """The delivery note of a shipped order (the customer's own; admin any)."""
    with hunar().db.sessions() as s:
        shipment = delivery_note(s, order_id, _scope(_me()))
        return note_response(order_id, shipment.note_pdf)


def note_response(order_id: int, pdf: bytes) -> FlaskResponse:
    resp = FlaskResponse(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f"attachment; filename=hunar-delivery-note-{order_id}.pdf"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/files/<id:artifact_id>")
@page_roles(Role.CUSTOMER)
def download(artifact_id: int) -> Response:
    """A file of a design the signed-in user may see (their own; staff see every design)."""
    return send_artifact(_me(), artifact_id)
