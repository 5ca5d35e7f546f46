"""Money records (issue 14): tax lines from shop.toml on the confirmation and the invoice (a
pro-forma until issued), one gap-free invoice number per order under concurrent requests,
payments recorded by staff that reduce the balance, a double submit recorded once, refusals
naming the field, void restoring the balance. Both engines, real threads."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from factories import make_configuration, make_shop, make_user
from shared_helpers import at_once, pdf_text
from sqlalchemy import func, select

from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.commands.payments import issue_invoice, record_payment, void_payment
from orders.context import AppContext
from orders.errors import DomainError, DuplicateSubmission, NotFound
from orders.models import Event, Invoice, Order, Payment, PaymentState
from orders.queries.catalog import load_config
from orders.queries.designs import live_quote
from orders.queries.documents import (
    render_confirmation_pdf,
    render_invoice_pdf,
    render_quote_pdf,
)
from orders.queries.money import account, bill_for, taxes_on
from orders.shop import TaxLine

CLERK = Actor("accounts clerk")
N = 8


def placed(ctx: AppContext, qty: int = 2, seed: bool = True) -> tuple[int, int]:
    """(order id, customer id) of a freshly placed one-line order."""
    with ctx.db.transaction() as s:
        if seed:
            make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        order = place_order(
            s, user.id, [LineRequest(cfg.id, qty)], uuid.uuid4().hex, Actor("c", user.id), "PKR"
        ).order
        return order.id, user.id


def pay(ctx: AppContext, oid: int, amount: object, key: str | None = None, **kw: Any) -> Any:
    with ctx.db.transaction() as s:
        kw.setdefault("method", "bank_transfer")
        kw.setdefault("reference", "MEZN-2026-0001")
        return record_payment(
            s, oid, amount=amount, idempotency_key=key or uuid.uuid4().hex, actor=CLERK, **kw
        )


def balance(ctx: AppContext, oid: int) -> Decimal:
    with ctx.db.sessions() as s:
        return account(s, oid).balance


def test_tax_lines_are_computed_to_the_paisa() -> None:
    gst = TaxLine("GST", Decimal("18"), "goods")
    further = TaxLine("Further tax", Decimal("4"), "goods")
    compound = TaxLine("Provincial", Decimal("2.5"), "goods_and_tax")
    taxes = taxes_on(Decimal("1000.05"), (gst, further, compound))
    assert [t.amount for t in taxes] == [Decimal("180.01"), Decimal("40.00"), Decimal("30.50")]
    assert taxes[2].base == Decimal("1220.06") and taxes[0].label == "GST 18%"


def test_confirmation_and_invoice_show_tax_lines_payments_and_balance(ctx: AppContext) -> None:
    oid, customer = placed(ctx)
    with ctx.db.sessions() as s:
        order = s.get_one(Order, oid)
        bill = bill_for(s, order)
        confirmation = pdf_text(render_confirmation_pdf(s, order, bill))
    gst = (bill.subtotal * Decimal("0.18")).quantize(Decimal("0.01"))
    assert bill.subtotal == order.total and bill.total == bill.subtotal + gst
    assert f"Order confirmation - order #{oid}" in confirmation
    assert "GST 18%" in confirmation and f"Rs {gst:,.2f}" in confirmation
    assert f"Rs {bill.total:,.2f}" in confirmation and "Promised ship date: 20" in confirmation
    pay(ctx, oid, "100.50", reference="IBFT 778899")
    due = f"Rs {bill.total - Decimal('100.50'):,.2f}"
    with ctx.db.sessions() as s:  # not issued yet: the same bill as a pro-forma, no number
        acct = account(s, oid, customer)
        text = pdf_text(render_invoice_pdf(s, s.get_one(Order, oid), acct, datetime.now(UTC)))
    assert acct.invoice is None and f"Pro-forma invoice - order #{oid}" in text
    assert "HUN-INV" not in text and "not a tax invoice" in text
    assert "bank transfer, ref IBFT 778899" in text and due in text and "Balance due" in text
    with ctx.db.transaction() as s:
        issued = issue_invoice(s, oid, CLERK)
    with ctx.db.sessions() as s:
        acct = account(s, oid, customer)
        text = pdf_text(render_invoice_pdf(s, s.get_one(Order, oid), acct, datetime.now(UTC)))
    assert acct.invoice_number == issued.label and f"Invoice {issued.label}" in text
    assert "Pro-forma" not in text and f"Invoice date: {issued.invoice.issued_at:%Y-%m-%d}" in text
    assert "GST 18%" in text and "bank transfer, ref IBFT 778899" in text
    assert due in text and "Balance due" in text


def test_quote_pdf_from_the_live_quote(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
        cfg = make_configuration(s)
        lq = live_quote(s, load_config(cfg), 5, "standard", "PKR")
    text = pdf_text(render_quote_pdf(lq, datetime.now(UTC)))
    assert "Quote - enclosure x 5" in text and "GST 18%" in text
    assert f"Rs {lq.quote.total:,.2f}" in text and "Ships by:" in text


def test_invoice_number_is_given_once_under_concurrent_requests(ctx: AppContext) -> None:
    oid, _ = placed(ctx)
    others = [placed(ctx, seed=False)[0] for _ in range(3)]

    def issue(order_id: int) -> int:
        with ctx.db.transaction() as s:
            return issue_invoice(s, order_id, CLERK).invoice.number

    numbers = at_once(N, lambda: issue(oid))
    assert len(set(numbers)) == 1 and isinstance(numbers[0], int), numbers
    queue = iter(others * 2)
    lock = threading.Lock()

    def next_order() -> int:
        with lock:
            return next(queue)

    more = at_once(6, lambda: issue(next_order()))
    assert all(isinstance(n, int) for n in more), more
    with ctx.db.sessions() as s:
        rows = s.scalars(select(Invoice.number).order_by(Invoice.number)).all()
        issued = s.scalar(select(func.count()).where(Event.entity_type == "invoice"))
    assert rows == [1, 2, 3, 4] and issued == 4  # gap-free, one per order


def test_payments_reduce_the_balance_and_a_double_submit_records_once(ctx: AppContext) -> None:
    oid, _ = placed(ctx)
    total = balance(ctx, oid)
    key = uuid.uuid4().hex
    results = at_once(N, lambda: pay(ctx, oid, "500", key))
    assert sum(1 for r in results if r.created) == 1, results
    assert balance(ctx, oid) == total - 500
    cod = pay(ctx, oid, "250.25", method="cash_on_delivery", reference="")
    assert cod.payment.reference is None and balance(ctx, oid) == total - Decimal("750.25")
    with pytest.raises(DuplicateSubmission) as info:
        pay(ctx, oid, "501", key)  # the same form with other content
    assert "idempotency_key" in info.value.fields
    with ctx.db.sessions() as s:
        rows = s.scalars(select(Payment)).all()
        events = s.scalars(select(Event).where(Event.entity_type == "payment")).all()
    assert len(rows) == 2 and len(events) == 2
    assert events[0].actor == "accounts clerk" and events[0].payload["amount"] == "500.00"


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "99999999999999"}, "amount"),
        ({"amount": "10", "method": "bitcoin"}, "method"),
        ({"amount": "10", "method": "jazzcash"}, "method"),  # gateways record themselves later
        ({"amount": "10", "reference": ""}, "reference"),
        ({"amount": "10", "reference": "<script>"}, "reference"),
        ({"amount": "10", "key": ""}, "idempotency_key"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    ctx: AppContext, kw: dict[str, Any], field: str
) -> None:
    oid, _ = placed(ctx)
    kw = dict(kw)  # the parameter is shared by both engines' runs
    key = kw.pop("key", uuid.uuid4().hex)
    with pytest.raises(DomainError) as info, ctx.db.transaction() as s:
        kw.setdefault("method", "bank_transfer")
        kw.setdefault("reference", "REF-123")
        record_payment(s, oid, idempotency_key=key, actor=CLERK, **kw)
    assert field in info.value.fields, info.value.fields


def test_overpayment_refused_and_void_restores_the_balance(ctx: AppContext) -> None:
    oid, _ = placed(ctx)
    total = balance(ctx, oid)
    with pytest.raises(DomainError) as info:
        pay(ctx, oid, total + Decimal("0.01"))
    assert "amount" in info.value.fields and "balance" in info.value.message
    with pytest.raises(DomainError, match="future"):
        pay(ctx, oid, "1", received_at=datetime.now(UTC) + timedelta(days=1))
    full = pay(ctx, oid, total).payment.id
    assert balance(ctx, oid) == 0
    with pytest.raises(DomainError, match="more than the balance"):
        pay(ctx, oid, "1")
    with pytest.raises(DomainError) as why, ctx.db.transaction() as s:
        void_payment(s, full, "  ", CLERK)
    assert "reason" in why.value.fields
    for _ in range(2):  # voiding twice changes nothing more
        with ctx.db.transaction() as s:
            void_payment(s, full, "typed the wrong order", CLERK)
    assert balance(ctx, oid) == total
    with ctx.db.sessions() as s:
        row = s.get_one(Payment, full)
        voids = s.scalar(select(func.count()).where(Event.to_state == "void"))
    assert row.state == PaymentState.VOID and row.void_reason == "typed the wrong order"
    assert voids == 1


def test_another_customers_order_is_not_found(ctx: AppContext) -> None:
    oid, customer = placed(ctx)
    with pytest.raises(NotFound), ctx.db.sessions() as s:
        account(s, oid, customer + 1000)
    with pytest.raises(NotFound), ctx.db.transaction() as s:
        issue_invoice(s, 10**6, CLERK)
    with pytest.raises(NotFound), ctx.db.transaction() as s:
        void_payment(s, 10**6, "no such", CLERK)


def test_hunar_pay_records_once_and_refuses_naming_the_field(ctx: AppContext) -> None:
    from click.testing import CliRunner

    from orders.cli import main

    oid, _ = placed(ctx)
    env = {
        "HUNAR_DATABASE_URL": ctx.settings.resolved_database_url(),
        "HUNAR_VAR_DIR": str(ctx.settings.var_dir),
    }
    runner = CliRunner()
    args = ["pay", str(oid), "--method", "bank_transfer", "--amount", "750"]
    bad = runner.invoke(main, args, env=env)
    assert bad.exit_code == 1 and "reference" in bad.output
    for _ in range(2):
        ok = runner.invoke(main, [*args, "--reference", "HBL 12345", "--key", "k1"], env=env)
        assert ok.exit_code == 0, ok.output
    assert "already recorded" in ok.output
    with ctx.db.sessions() as s:
        assert len(s.scalars(select(Payment)).all()) == 1
