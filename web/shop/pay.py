"""Paying online: the "Pay" button (to the gateway's hosted page) and the page the gateway sends
the customer back to. The return is not behind login or CSRF: the customer arrives from the
gateway's site (no session cookie on a cross-site POST), and what it carries is believed only
once its signature is verified (or, for Easypaisa, once the inquiry API confirms it)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import abort, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from orders.adapters.gateways import configured
from orders.adapters.gateways.base import BadSignature, GatewayUnavailable, HostedForm
from orders.commands.audit import Actor
from orders.commands.checkout_payment import Applied, apply_answer
from orders.commands.checkout_payment import start_gateway_payment as start_payment
from orders.errors import DomainError, NotFound
from orders.models import Role
from orders.models.payments import GatewayState
from orders.queries.payment_view import LABELS, payment_panel
from orders.queries.tracking import track_order
from web import CSP, public_base_url
from web.auth import hunar, page_roles
from web.shop import bp
from web.shop.order_page import _me, _refused, _scope

log = logging.getLogger(__name__)


@bp.post("/orders/<id:order_id>/pay")
@page_roles(Role.CUSTOMER)
def pay(order_id: int) -> ResponseReturnValue:
    """Send the customer to the gateway chosen at checkout for the balance due. A second click
    (or eight) reuses the open payment, so nothing is charged twice."""
    ctx, me = hunar(), _me()
    scope = _scope(me)
    with ctx.db.sessions() as s:
        track_order(s, order_id, scope)  # another customer's order is not found (404)
        panel = payment_panel(s, order_id)
    provider = configured(ctx.settings).get(panel.method) if panel is not None else None
    try:
        if provider is None:
            raise DomainError(
                "this order is not paid online: see how to pay on this page",
                fields={"payment_method": "not an online gateway here"},
            )
        back = public_base_url() + url_for("shop.gateway_return", provider=provider.name)
        with ctx.db.transaction() as s:
            started = start_payment(s, order_id, provider, back, Actor(me.email, me.id), scope)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(order_id, scope, exc)
    return _to_gateway(started.form, provider.label, order_id)


def _to_gateway(form: HostedForm, label: str, order_id: int | None) -> ResponseReturnValue:
    """The auto-posting form to the gateway; this page's CSP lets forms go to that origin only."""
    page = render_template("shop/pay_redirect.html", form=form, label=label, order_id=order_id)
    resp = make_response(page)
    url = urlsplit(form.url)
    origin = f"{url.scheme}://{url.netloc}"
    resp.headers["Content-Security-Policy"] = CSP.replace(
        "form-action 'self'", f"form-action 'self' {origin}"
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _message(done: Applied) -> tuple[str, str]:
    """(kind, text) the customer reads about a gateway answer applied (or applied before)."""
    label = LABELS[done.provider]
    if done.state == GatewayState.PAID:
        again = "" if done.changed else " (we had already recorded it)"
        return "paid", (
            f"Payment received: {done.currency} {done.amount} by {label}, reference "
            f"{done.txn_ref}{again}. Thank you. Nothing more is charged."
        )
    if done.state == GatewayState.FAILED:
        return "failed", (
            f"{label} did not take the payment ({done.txn_ref}), so nothing was charged. You "
            "can try again from your order page."
        )
    if done.state == GatewayState.REFUSED:
        return "refused", (
            f"{label} reported an amount or currency that is not this payment's "
            f"({done.currency} {done.amount}), so it was not counted. We recorded it and will "
            "contact you; please do not pay again."
        )
    return "pending", (
        f"{label} has not confirmed payment {done.txn_ref} yet. We check with them and update "
        "your order; please do not pay again."
    )


def _result(kind: str, text: str, order_id: int | None, code: int = 200) -> ResponseReturnValue:
    return render_template("shop/pay_result.html", kind=kind, text=text, order_id=order_id), code


@bp.route("/pay/<provider>/return", methods=["GET", "POST"])
def gateway_return(provider: str) -> ResponseReturnValue:
    """Where the gateway sends the customer back: verify, apply once, say what happened."""
    ctx = hunar()
    gateway = configured(ctx.settings).get(provider)
    if gateway is None:
        abort(404)
    source = request.form if request.method == "POST" else request.args
    fields = {k: str(source.get(k, "")) for k in source}
    try:
        answer = gateway.read_callback(fields)
        if isinstance(answer, HostedForm):  # a further step at the gateway (Easypaisa)
            return _to_gateway(answer, gateway.label, None)
        if not answer.verified:
            answer = gateway.inquire(answer.txn_ref)
    except BadSignature as exc:
        log.warning("%s answer refused: %s", provider, exc)
        text = (
            "This payment answer could not be verified, so it was ignored and nothing was "
            "recorded. If you paid, we confirm it with the gateway and update your order; "
            "please do not pay again."
        )
        return _result("unverified", text, None, 400)
    except GatewayUnavailable:
        text = (
            f"{LABELS[provider]} could not be reached to confirm your payment. We check again "
            "shortly and update your order; please do not pay again."
        )
        return _result("pending", text, None, 503)
    try:
        with ctx.db.transaction() as s:
            done = apply_answer(s, provider, answer, Actor.system(f"{provider}-return"))
    except NotFound:
        text = f"No payment with reference {answer.txn_ref!r} was started here: nothing changed."
        return _result("unknown", text, None, 404)
    kind, text = _message(done)
    return _result(kind, text, done.order_id)


bp.record_once(  # signed by the gateway, posted from its site: no session, no CSRF token
    lambda state: state.app.extensions["hunar_csrf"].exempt(gateway_return)
)
