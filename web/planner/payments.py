"""Payments desk for staff: look up an order's bill, record money received, void a mistake,
issue the invoice ahead of shipping (a customer paying in advance by bank transfer).

Order and payment numbers travel in the form or query (as on the shipping desk). Every form
carries a fresh idempotency key, so a double click records once; every refusal names its
field (422) or the state that refused it (404/409), never a 500.
"""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from orders.commands.payments import (
    STAFF_METHODS,
    issue_invoice,
    record_payment,
    void_payment,
)
from orders.errors import DomainError, NotFound
from orders.models import Role
from orders.queries.money import account
from web import MAX_ID, last_value, whole_number
from web.auth import hunar
from web.planner import _refused, bp
from web.planner.access import actor, staff_page
from web.planner.shipping import _order_field, _refuse
from web.shop.documents import invoice_response

METHOD_NAMES = {m.value: m.value.replace("_", " ") for m in STAFF_METHODS}


@bp.get("/payments")
@staff_page(Role.PLANNER)
def payments() -> str | Response | tuple[str, int]:
    """The lookup form; with ?order=N, that order's bill, payments and the record form."""
    acct = None
    if (last_value(request.args, "order", "") or "").strip():
        try:
            order_id = _order_field("order")
            with hunar().db.sessions() as s:
                acct = account(s, order_id)
        except DomainError as exc:
            return _refuse(exc)
    return render_template(
        "planner/payments.html",
        acct=acct,
        methods=METHOD_NAMES,
        idempotency_key=uuid.uuid4().hex,
    )


@bp.post("/payments/record")
@staff_page(Role.PLANNER)
def payment_record() -> Response | tuple[str, int]:
    form = request.form
    try:
        order_id = _order_field()
        with hunar().db.transaction() as s:
            done = record_payment(
                s,
                order_id,
                method=last_value(form, "method", "") or "",
                amount=last_value(form, "amount", ""),
                reference=last_value(form, "reference", ""),
                idempotency_key=last_value(form, "idempotency_key", ""),
                actor=actor(),
            )
            amount, currency, created = done.payment.amount, done.payment.currency, done.created
    except DomainError as exc:
        return _refuse(exc)
    flash(
        f"Recorded {currency} {amount} for order #{order_id}."
        if created
        else "That payment was already recorded."
    )
    return redirect(url_for("planner.payments", order=order_id))


@bp.post("/payments/void")
@staff_page(Role.PLANNER)
def payment_void() -> Response | tuple[str, int]:
    form = request.form
    payment_id = whole_number((last_value(form, "payment_id", "") or "").strip())
    if payment_id is None or payment_id > MAX_ID:
        exc = DomainError("payment id must be a whole number", fields={"payment_id": "number"})
        return _refused(422, exc)
    try:
        with hunar().db.transaction() as s:
            row = void_payment(s, payment_id, last_value(form, "reason", ""), actor())
            order_id = row.order_id
    except DomainError as exc:
        return _refuse(exc)
    flash(f"Payment {payment_id} is void; the balance is restored.")
    return redirect(url_for("planner.payments", order=order_id))


@bp.post("/payments/invoice")
@staff_page(Role.PLANNER)
def payment_issue_invoice() -> Response | tuple[str, int]:
    """The "Issue invoice" button: the order's tax invoice now, before it ships; pressing it
    again (or at once from several tabs) gives the one number the order already has."""
    try:
        order_id = _order_field()
        with hunar().db.transaction() as s:
            done = issue_invoice(s, order_id, actor())
            label, created = done.label, done.created
    except DomainError as exc:
        return _refuse(exc)
    flash(
        f"Invoice {label} is issued for order #{order_id}."
        if created
        else f"Invoice {label} was already issued for order #{order_id}."
    )
    return redirect(url_for("planner.payments", order=order_id))


@bp.get("/payments/invoice.pdf")
@staff_page(Role.PLANNER)
def payment_invoice_pdf() -> Response | tuple[str, int]:
    """Any order's invoice for staff, or its pro-forma until issued (like the customer's)."""
    try:
        return invoice_response(_order_field("order"), None)
    except NotFound as exc:
        return _refused(404, exc)
    except DomainError as exc:
        return _refuse(exc)
