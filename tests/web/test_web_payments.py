"""The payment step at checkout and paying online, through the shop's pages (issue 15, item 5).

The real JazzCash and Easypaisa sandboxes cannot be reached from here, so the gateways are a
local stand-in that follows their published protocols (tests/orders/gateway_standin.py: it
checks the shop's signed form, renders its hosted page, signs its answer and answers status
inquiries). The test client plays the customer's browser between the shop and the stand-in.
Both engines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from shared_helpers import at_once
from sqlalchemy import func, select
from webshop_helpers import (  # noqa: F401  (the make_shop fixture)
    ENCLOSURE,
    PASSWORD,
    MakeShop,
    Shopper,
    WebShop,
    csrf_of,
    shop_fixture,
)

from orders.models import Order, Payment
from orders.models.payments import GatewayTransaction
from orders.queries.money import account
from tests.orders.gateway_standin import GatewayStandIn, start

N = 8
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def standin() -> Iterator[GatewayStandIn]:
    server = start()
    yield server
    server.close()


def _fields(html: str) -> dict[str, str]:
    import html as h

    return {k: h.unescape(v) for k, v in HIDDEN.findall(html) if k != "csrf_token"}


def _order(shop: WebShop, alice: Shopper, method: str | None) -> Any:
    form = {"action": "add", "quantity": "2", "tier": "standard"}
    form |= {k: str(v) for k, v in ENCLOSURE.items()}
    assert alice.post_form("/shop/enclosure", form).status_code == 302
    cart = alice.client.get("/cart").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', cart)
    assert key, cart
    body = {"idempotency_key": key.group(1)} | ({"payment_method": method} if method else {})
    return alice.post_form("/checkout", body)


def _placed(shop: WebShop, alice: Shopper, method: str) -> int:
    resp = _order(shop, alice, method)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    return int(resp.headers["Location"].split("/orders/")[1].split("?")[0])


def _same_customer(shop: WebShop, alice: Shopper) -> Shopper:
    client = shop.app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login", data={"csrf_token": token, "email": alice.email, "password": PASSWORD}
    )
    assert resp.status_code == 302
    return Shopper(client, alice.user_id, alice.email, csrf_of(client.get("/account").text))


def _paid(shop: WebShop, oid: int) -> list[Payment]:
    with shop.ctx.db.sessions() as s:
        return list(s.scalars(select(Payment).where(Payment.order_id == oid)))


def test_checkout_offers_the_methods_and_refuses_an_unknown_one(
    make_shop: MakeShop, backend: str, standin: GatewayStandIn
) -> None:
    shop = make_shop(backend, **standin.settings())
    alice = shop.shopper()
    bad = _order(shop, alice, "bitcoin")
    assert bad.status_code == 422 and b"payment_method must be one of" in bad.data
    with shop.ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0  # nothing was ordered
    cart = alice.client.get("/cart").get_data(as_text=True)
    for method in ("cash_on_delivery", "bank_transfer", "raast", "jazzcash", "easypaisa"):
        assert f'value="{method}"' in cart
    cod = alice.client.get(f"/orders/{_placed(shop, alice, 'cash_on_delivery')}").text
    assert 'data-released="yes"' in cod and 'id="payment-gate"' not in cod
    raast = alice.client.get(f"/orders/{_placed(shop, alice, 'raast')}").text
    assert (
        'data-released="no"' in raast and 'id="raast-qr"' in raast and "data:image/svg+xml" in raast
    )
    assert re.search(r'id="payment-reference">HUN-\d+<', raast)


def test_pay_online_double_click_forged_replayed_and_paid(
    make_shop: MakeShop, backend: str, standin: GatewayStandIn
) -> None:
    shop = make_shop(backend, **standin.settings())
    alice = shop.shopper()
    oid = _placed(shop, alice, "jazzcash")
    page = alice.client.get(f"/orders/{oid}").text
    assert 'id="payment-gate"' in page and 'id="pay-button"' in page
    browsers = [_same_customer(shop, alice) for _ in range(N)]
    clicks = iter(browsers)
    answers = at_once(N, lambda: next(clicks).post_form(f"/orders/{oid}/pay", {}))
    assert [getattr(r, "status_code", r) for r in answers] == [200] * N
    forms = [_fields(r.get_data(as_text=True)) for r in answers]
    assert len({f["pp_TxnRefNo"] for f in forms}) == 1  # eight clicks, one transaction
    csp = answers[0].headers["Content-Security-Policy"]
    assert f"form-action 'self' {standin.base}" in csp
    with shop.ctx.db.sessions() as s:
        rows = select(func.count()).select_from(GatewayTransaction)
        assert s.scalar(rows.where(GatewayTransaction.order_id == oid)) == 1
        total = account(s, oid).bill.total
    ref = forms[0]["pp_TxnRefNo"]
    assert httpx.post(standin.jazz_url(), data=forms[0]).status_code == 200  # the hosted page
    good = standin.answer(ref)
    anon = shop.app.test_client()  # the customer returns from the gateway's site: no session
    forged = anon.post("/pay/jazzcash/return", data=good | {"pp_Amount": "100"})
    assert forged.status_code == 400 and b"could not be verified" in forged.data
    assert _paid(shop, oid) == []
    first = anon.post("/pay/jazzcash/return", data=good)
    assert first.status_code == 200 and b"Payment received" in first.data
    replay = anon.post("/pay/jazzcash/return", data=good)
    assert replay.status_code == 200 and b"we had already recorded it" in replay.data
    assert [p.amount for p in _paid(shop, oid)] == [total]
    page = alice.client.get(f"/orders/{oid}").text
    assert 'data-released="yes"' in page and 'id="pay-button"' not in page
    again = alice.post_form(f"/orders/{oid}/pay", {})
    assert again.status_code == 422 and b"paid in full" in again.data


def test_a_wrong_amount_is_not_counted_and_the_customer_is_told(
    make_shop: MakeShop, backend: str, standin: GatewayStandIn
) -> None:
    shop = make_shop(backend, **standin.settings())
    alice = shop.shopper()
    oid = _placed(shop, alice, "jazzcash")
    form = _fields(alice.post_form(f"/orders/{oid}/pay", {}).get_data(as_text=True))
    httpx.post(standin.jazz_url(), data=form)
    ref = form["pp_TxnRefNo"]
    short = standin.answer(ref, paid_paisa=standin.txns[ref].amount_paisa - 1)
    resp = shop.app.test_client().post("/pay/jazzcash/return", data=short)
    assert resp.status_code == 200 and b"was not counted" in resp.data
    assert _paid(shop, oid) == []
    page = alice.client.get(f"/orders/{oid}").text
    assert 'data-state="refused"' in page and 'id="payment-gate"' in page


def test_easypaisa_confirm_step_then_the_inquiry_decides(
    make_shop: MakeShop, backend: str, standin: GatewayStandIn
) -> None:
    shop = make_shop(backend, **standin.settings())
    alice = shop.shopper()
    oid = _placed(shop, alice, "easypaisa")
    form = _fields(alice.post_form(f"/orders/{oid}/pay", {}).get_data(as_text=True))
    assert httpx.post(f"{standin.base}/easypaisa/Index.jsf", data=form).status_code == 200
    anon = shop.app.test_client()
    step = anon.get("/pay/easypaisa/return", query_string={"auth_token": "abc"})
    assert step.status_code == 200 and b"/easypaisa/Confirm.jsf" in step.data
    final = standin.easypaisa_final(form["orderRefNum"])
    unpaid_claim = anon.get("/pay/easypaisa/return", query_string=final | {"orderRefNumber": "X"})
    assert unpaid_claim.status_code == 404 and _paid(shop, oid) == []
    done = anon.get("/pay/easypaisa/return", query_string=final)
    assert done.status_code == 200 and b"Payment received" in done.data
    assert len(_paid(shop, oid)) == 1


def test_the_api_has_the_same_payment_step_and_gate(make_shop: MakeShop, backend: str) -> None:
    """`POST /api/orders` is not a way around paying: it takes `payment_method` (default the
    shop's first, as the page preselects), an unknown one is a 422 naming it with nothing
    ordered, and a method paid up front holds the order from production like the page does."""
    from orders.commands.checkout_payment import may_produce

    shop = make_shop(backend)
    alice = shop.shopper()
    design = shop.save_design(alice)

    def order(key: str, **extra: str) -> Any:
        body = {"idempotency_key": key, "lines": [{"configuration_id": design, "quantity": 1}]}
        return alice.api("POST", "/api/orders", body | extra)

    bad = order("k-bad", payment_method="bitcoin")
    assert bad.status_code == 422 and "payment_method" in bad.json["error"]["fields"]
    wrong = order("k-type", payment_method=7)  # type: ignore[arg-type]
    assert wrong.status_code == 422 and "payment_method" in wrong.json["error"]["fields"]
    with shop.ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
    plain, transfer = order("k-cod"), order("k-transfer", payment_method="bank_transfer")
    assert plain.status_code == transfer.status_code == 201
    with shop.ctx.db.sessions() as s:
        assert may_produce(s, plain.json["id"]), "cash on delivery may pay later"
        assert not may_produce(s, transfer.json["id"]), "a transfer is paid before production"
