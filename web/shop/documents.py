"""The customer's money papers: a quote for a saved design, the order confirmation, the invoice.

Each is the signed-in customer's own (someone else's design or order is not found, 404); an
admin reaches every one, as on the order page. Downloading never writes: before the invoice is
issued (when the order ships, or by staff on the payments page) it is a pro-forma, no number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from orders.models import Order, Role
from orders.queries.catalog import check_quantity_tier, load_config
from orders.queries.designs import get_design, live_quote
from orders.queries.documents import (
    invoice_document,
    render_confirmation_pdf,
    render_quote_pdf,
)
from orders.queries.money import IssuedInvoice, account, issued_invoice
from web import last_value, whole_number
from web.auth import hunar, page_roles
from web.shop import bp
from web.shop.ordering import _me, _scope


def pdf_response(pdf: bytes, filename: str) -> Response:
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f"attachment; filename={filename}"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/designs/<id:config_id>/quote.pdf")
@page_roles(Role.CUSTOMER)
def quote_pdf(config_id: int) -> Response:
    """A live quote of one of my designs at ?quantity= and ?tier= (bad input: 422 naming it)."""
    ctx, me = hunar(), _me()
    qty, tier = check_quantity_tier(
        whole_number(last_value(request.args, "quantity", "1")),
        last_value(request.args, "tier", "standard"),
    )
    with ctx.db.sessions() as s:
        row = get_design(s, me, config_id)
        lq = live_quote(s, load_config(row), qty, tier, ctx.settings.currency, viewer=me)
    return pdf_response(render_quote_pdf(lq, datetime.now(UTC)), f"hunar-quote-{config_id}.pdf")


@bp.get("/orders/<id:order_id>/confirmation.pdf")
@page_roles(Role.CUSTOMER)
def confirmation_pdf(order_id: int) -> Response:
    with hunar().db.sessions() as s:
        acct = account(s, order_id, _scope(_me()))
        pdf = render_confirmation_pdf(s, s.get_one(Order, order_id), acct.bill)
    return pdf_response(pdf, f"hunar-order-{order_id}.pdf")


@bp.get("/orders/<id:order_id>/invoice.pdf")
@page_roles(Role.CUSTOMER)
def invoice_pdf(order_id: int) -> Response:
    return invoice_response(order_id, _scope(_me()))


def invoice_response(order_id: int, customer_id: int | None) -> Response:
    """The invoice as issued, or the pro-forma before it is (shared with the staff page)."""
    with hunar().db.sessions() as s:
        doc = invoice_document(s, order_id, customer_id, datetime.now(UTC))
    return pdf_response(doc.pdf, doc.filename)


def _order_invoice(order_id: int) -> IssuedInvoice | None:
    """For the order page: the order's issued invoice, or None while it is a pro-forma (the page
    has already checked that the viewer may see the order)."""
    with hunar().db.sessions() as s:
        return issued_invoice(s, order_id)


@bp.context_processor
def _invoice_helpers() -> dict[str, Any]:
    return {"order_invoice": _order_invoice}
