"""The customer's order page (tracking, money, the payment panel) and the refusal that
re-renders it, shared by the ordering and paying views."""

from __future__ import annotations

import segno
from flask import render_template

from orders.errors import DomainError
from orders.models import Role
from orders.queries.catalog import tiers
from orders.queries.payment_view import PaymentPanel, payment_panel, raast_payload
from orders.queries.tracking import OrderTracking, track_order
from orders.shop import payment_rules, shop_numbers
from web.auth import SessionUser, hunar
from web.errors import domain_status


def _me() -> SessionUser:
    from flask_login import current_user

    return current_user._get_current_object()


def _scope(me: SessionUser) -> int | None:
    """A customer sees their own orders only (others are not found); admin sees every order."""
    return None if me.role != Role.CUSTOMER else me.id


def raast_svg(panel: PaymentPanel) -> str:
    """The order's Raast QR (the balance and the reference to quote) as an SVG data URI for an
    <img>: nothing the template marks safe, and the page's CSP allows data: images."""
    payload = raast_payload(payment_rules(), f"{panel.balance}", panel.currency, panel.reference)
    return str(segno.make(payload, error="m").svg_data_uri(scale=4, title="Raast QR"))


def _order_page(
    t: OrderTracking, owner: bool, placed: bool = False, refusal: DomainError | None = None
) -> str:
    """The tracked order; `owner` shows the customer's own forms (amend, cancel, pay)."""
    with hunar().db.sessions() as s:
        pay = payment_panel(s, t.order_id)
    qr = raast_svg(pay) if pay is not None and pay.method == "raast" and pay.balance > 0 else ""
    return render_template(
        "shop/order.html",
        t=t,
        placed=placed,
        owner=owner,
        refusal=refusal,
        tiers=tiers(),
        pay=pay,
        raast_qr=qr,
        bank_details=shop_numbers().money.bank_details,
    )


def _refused(order_id: int, scope: int | None, exc: DomainError) -> tuple[str, int]:
    """The order page again, with the rule that refused the change and its 4xx status."""
    with hunar().db.sessions() as s:
        tracking = track_order(s, order_id, scope)
    return _order_page(tracking, scope is not None, refusal=exc), domain_status(exc)
