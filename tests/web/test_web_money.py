"""Money papers and the payments desk over HTTP (issue 14): the customer's confirmation,
invoice and quote PDFs (tax lines in their text, someone else's are 404), the staff desk that
records and voids payments and issues the invoice (a download never does: until then it is a
pro-forma), double submits recorded once, refusals as 4xx naming the field."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from factories import make_configuration
from shared_helpers import pdf_text
from webshop_helpers import WebShop, csrf_of, shop_fixture  # noqa: F401  (the make_shop fixture)

from orders.commands.audit import Actor
from orders.commands.fulfilment import cancel_order
from orders.commands.ordering import LineRequest, place_order
from orders.db import Base
from orders.models import Invoice, OrderLine, Payment, Role
from orders.queries.money import account


def order_for(shop: WebShop, user_id: int) -> tuple[int, int]:
    """(order id, configuration id) of a one-line order placed by the user."""
    with shop.ctx.db.transaction() as s:
        cfg = make_configuration(s)
        oid = place_order(
            s, user_id, [LineRequest(cfg.id, 3)], uuid.uuid4().hex, Actor("c", user_id), "PKR"
        ).order.id
        return oid, cfg.id


def balance(shop: WebShop, oid: int) -> Decimal:
    with shop.ctx.db.sessions() as s:
        return account(s, oid).balance


@pytest.fixture
def shop(make_shop: Any) -> WebShop:
    return make_shop("sqlite")


def test_customer_gets_confirmation_invoice_and_quote_pdfs_others_get_404(shop: WebShop) -> None:
    alice, bob = shop.shopper(), shop.shopper()
    oid, cfg = order_for(shop, alice.user_id)
    page = alice.client.get(f"/orders/{oid}").get_data(as_text=True)
    assert f"/orders/{oid}/confirmation.pdf" in page and f"/orders/{oid}/invoice.pdf" in page
    conf = alice.client.get(f"/orders/{oid}/confirmation.pdf")
    assert conf.status_code == 200 and conf.mimetype == "application/pdf"
    text = pdf_text(conf.data)
    assert f"Order confirmation - order #{oid}" in text and "GST 18%" in text
    proforma = alice.client.get(f"/orders/{oid}/invoice.pdf")  # not issued: a pro-forma
    assert proforma.status_code == 200 and "proforma" in proforma.headers["Content-Disposition"]
    assert f"Pro-forma invoice - order #{oid}" in pdf_text(proforma.data)
    quote = alice.client.get(f"/designs/{cfg}/quote.pdf?quantity=4&tier=express")
    assert quote.status_code == 200 and "Quote - enclosure x 4" in pdf_text(quote.data)
    bad = alice.client.get(f"/designs/{cfg}/quote.pdf?quantity=0")
    assert bad.status_code == 422 and "quantity" in bad.get_data(as_text=True)
    for url in (
        f"/orders/{oid}/confirmation.pdf",
        f"/orders/{oid}/invoice.pdf",
        f"/designs/{cfg}/quote.pdf?quantity=1&tier=standard",
    ):
        assert bob.client.get(url).status_code == 404, url


def test_staff_record_pay_void_with_refusals_naming_the_field(shop: WebShop) -> None:
    alice, clerk = shop.shopper(), shop.shopper(Role.PLANNER)
    oid, _ = order_for(shop, alice.user_id)
    total = balance(shop, oid)
    page = clerk.client.get(f"/planner/payments?order={oid}").get_data(as_text=True)
    assert "GST 18%" in page and f'data-balance="{total}"' in page
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key is not None and csrf_of(page)
    form = {
        "order_id": oid,
        "method": "bank_transfer",
        "amount": "1000",
        "reference": "IBFT 4455",
        "idempotency_key": key.group(1),
    }
    for _ in range(2):  # a double submit of one form records once
        assert clerk.post_form("/planner/payments/record", form).status_code == 302
    assert balance(shop, oid) == total - 1000
    refusals = [
        ({"amount": str(total)}, "amount"),  # more than what is left
        ({"amount": "abc"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"reference": ""}, "reference"),
        ({"method": "bitcoin"}, "method"),
        ({"order_id": "x"}, "order_id"),
    ]
    for change, field in refusals:
        data = form | {"idempotency_key": uuid.uuid4().hex} | change
        resp = clerk.post_form("/planner/payments/record", data)
        assert resp.status_code == 422, (change, resp.status_code)
        assert field in resp.get_data(as_text=True), change
    with shop.ctx.db.sessions() as s:
        (pid,) = s.query(Payment.id).all()[0]
    no_reason = clerk.post_form("/planner/payments/void", {"payment_id": pid, "reason": ""})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_data(as_text=True)
    gone = clerk.post_form("/planner/payments/void", {"payment_id": 10**6, "reason": "x"})
    assert gone.status_code == 404
    ok = clerk.post_form("/planner/payments/void", {"payment_id": pid, "reason": "wrong order"})
    assert ok.status_code == 302 and balance(shop, oid) == total
    staff_pdf = clerk.client.get(f"/planner/payments/invoice.pdf?order={oid}")
    assert staff_pdf.status_code == 200 and "Balance due" in pdf_text(staff_pdf.data)
    assert alice.client.get(f"/planner/payments?order={oid}").status_code == 404
    assert alice.post_form("/planner/payments/record", form).status_code == 404


def row_counts(shop: WebShop) -> dict[str, int]:
    """Rows in every table of the schema."""
    with shop.ctx.db.sessions() as s:
        return {
            t.name: int(s.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def test_invoice_download_writes_nothing_until_staff_or_shipping_issue_it(shop: WebShop) -> None:
    alice, clerk = shop.shopper(), shop.shopper(Role.PLANNER)
    oid, _ = order_for(shop, alice.user_id)
    page = alice.client.get(f"/orders/{oid}").get_data(as_text=True)
    assert 'id="invoice-state" data-state="proforma"' in page and "amend-line" in page
    desk = clerk.client.get(f"/planner/payments?order={oid}").get_data(as_text=True)
    assert 'data-state="proforma"' in desk and 'id="issue-invoice"' in desk
    before = row_counts(shop)
    for who, url in (
        (alice, f"/orders/{oid}/invoice.pdf"),
        (clerk, f"/planner/payments/invoice.pdf?order={oid}"),
    ):
        resp = who.client.get(url)
        assert resp.status_code == 200, url
        name = resp.headers["Content-Disposition"]
        assert name.endswith(f"filename=hunar-proforma-order-{oid}.pdf"), name
        text = pdf_text(resp.data)
        assert f"Pro-forma invoice - order #{oid}" in text and "HUN-INV" not in text
        assert "Balance due" in text and "GST 18%" in text
    assert row_counts(shop) == before  # a GET creates no legal record, nor anything else
    issued = [clerk.post_form("/planner/payments/invoice", {"order_id": oid}) for _ in range(2)]
    assert [r.status_code for r in issued] == [302, 302]
    desk = clerk.client.get(f"/planner/payments?order={oid}").get_data(as_text=True)
    label = re.search(r"Invoice <strong>(HUN-INV-\d{6})</strong> issued (\d{4}-\d\d-\d\d)", desk)
    assert label is not None and 'id="issue-invoice"' not in desk, desk
    assert "was already issued" in desk  # the second press: the same number
    resp = alice.client.get(f"/orders/{oid}/invoice.pdf")
    name, text = resp.headers["Content-Disposition"], pdf_text(resp.data)
    assert name.endswith(f"hunar-invoice-{label.group(1)}.pdf") and "Pro-forma" not in text
    assert f"Invoice {label.group(1)}" in text and f"Invoice date: {label.group(2)}" in text
    page = alice.client.get(f"/orders/{oid}").get_data(as_text=True)
    assert f"Invoice {label.group(1)} issued {label.group(2)}" in page
    assert "amend-line" not in page  # the bill is fixed: no amend form
    with shop.ctx.db.sessions() as s:
        lid = s.scalars(sa.select(OrderLine.id).where(OrderLine.order_id == oid)).one()
    amend = alice.post_form(
        f"/orders/{oid}/amend", {"line_id": lid, "quantity": 5, "tier": "standard"}
    )
    assert amend.status_code == 422 and label.group(1) in amend.get_data(as_text=True)


def test_issue_invoice_refusals(shop: WebShop) -> None:
    alice, clerk = shop.shopper(), shop.shopper(Role.PLANNER)
    oid, _ = order_for(shop, alice.user_id)
    assert alice.post_form("/planner/payments/invoice", {"order_id": oid}).status_code == 404
    bad = clerk.post_form("/planner/payments/invoice", {"order_id": "x"})
    assert bad.status_code == 422 and "order_id" in bad.get_data(as_text=True)
    assert clerk.post_form("/planner/payments/invoice", {"order_id": 10**6}).status_code == 404
    with shop.ctx.db.transaction() as s:
        cancel_order(s, oid, Actor("clerk"), "duplicate order")
    gone = clerk.post_form("/planner/payments/invoice", {"order_id": oid})
    assert gone.status_code == 409 and "cancelled" in gone.get_data(as_text=True)
    assert alice.client.get(f"/orders/{oid}/invoice.pdf").status_code == 404
    desk = clerk.client.get(f"/planner/payments?order={oid}").get_data(as_text=True)
    assert 'data-state="none"' in desk and 'id="issue-invoice"' not in desk
    with shop.ctx.db.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0
