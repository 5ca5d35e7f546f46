"""When an invoice is issued (issue 14): by a business event, never by viewing. Shipping issues
it (a tax invoice at supply), staff may issue it earlier (payment in advance), both through one
command with one gap-free sequence; before that its document is a pro-forma with no number. An
issued invoice fixes the bill: an amend is refused naming it, a cancel records that a credit
note is due. Both engines, real threads."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from factories import make_configuration, make_shop, make_user
from shared_helpers import at_once, pdf_text
from sqlalchemy import func, select

from orders.commands.amend import amend_line
from orders.commands.audit import Actor
from orders.commands.fulfilment import cancel_order, ship_order
from orders.commands.ordering import LineRequest, place_order
from orders.commands.payments import InvoiceIssued, InvoiceRefused, issue_invoice
from orders.context import AppContext
from orders.errors import IllegalTransition, NotFound
from orders.lifecycle import Status
from orders.models import Event, Invoice, Order, OrderLine
from orders.queries.documents import invoice_document
from orders.queries.money import account
from orders.queries.tracking import track_order

CLERK = Actor("accounts clerk")
SHIPPED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


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


def completed(ctx: AppContext, oid: int) -> None:
    """The order and its lines moved straight to completed (the shipping desk's start)."""
    with ctx.db.transaction() as s:
        order = s.get_one(Order, oid)
        for line in order.lines:
            line.status = Status.COMPLETED
        order.status = Status.COMPLETED


def ship(ctx: AppContext, oid: int) -> None:
    with ctx.db.transaction() as s:
        ship_order(s, oid, "TCS", f"TCS-{oid:05d}", CLERK, now=SHIPPED_AT)


def numbers(ctx: AppContext) -> dict[int, int]:
    with ctx.db.sessions() as s:
        return dict(s.execute(select(Invoice.order_id, Invoice.number)).tuples().all())


def invoice_events(ctx: AppContext, to_state: str) -> list[Event]:
    with ctx.db.sessions() as s:
        where = (Event.entity_type == "invoice", Event.to_state == to_state)
        return list(s.scalars(select(Event).where(*where).order_by(Event.id)))


def document(ctx: AppContext, oid: int, customer: int | None = None) -> tuple[str, str]:
    """(filename, text) of the order's invoice document as a download gets it."""
    with ctx.db.sessions() as s:
        doc = invoice_document(s, oid, customer, datetime.now(UTC))
    return doc.filename, pdf_text(doc.pdf)


def test_shipping_issues_the_invoice_and_viewing_before_gives_a_proforma(ctx: AppContext) -> None:
    oid, customer = placed(ctx)
    for _ in range(2):
        name, text = document(ctx, oid, customer)
        assert name == f"hunar-proforma-order-{oid}.pdf", name
        assert f"Pro-forma invoice - order #{oid}" in text and "HUN-INV" not in text
    assert numbers(ctx) == {} and invoice_events(ctx, "issued") == []
    completed(ctx, oid)
    ship(ctx, oid)
    assert numbers(ctx) == {oid: 1}
    with ctx.db.sessions() as s:
        issued = account(s, oid).invoice
    assert issued is not None and issued.issued_at == SHIPPED_AT
    name, text = document(ctx, oid, customer)
    assert name == f"hunar-invoice-{issued.label}.pdf" and f"Invoice {issued.label}" in text
    assert "Invoice date: 2026-03-02" in text and "Pro-forma" not in text
    (event,) = invoice_events(ctx, "issued")
    assert event.entity_id == "1" and event.payload["order_id"] == oid
    assert event.payload["order_status"] == "shipped" and event.actor == CLERK.label


def test_staff_issue_before_shipping_keeps_its_number_gap_free(ctx: AppContext) -> None:
    early, _ = placed(ctx)
    late, _ = placed(ctx, seed=False)
    with ctx.db.transaction() as s:
        first = issue_invoice(s, early, CLERK)
    with ctx.db.transaction() as s:
        again = issue_invoice(s, early, CLERK)
    assert first.created and not again.created and again.label == first.label
    for oid in (late, early):
        completed(ctx, oid)
        ship(ctx, oid)
    assert numbers(ctx) == {early: 1, late: 2}
    assert len(invoice_events(ctx, "issued")) == 2


def test_shipping_and_staff_issue_racing_share_one_gap_free_sequence(ctx: AppContext) -> None:
    orders = [placed(ctx, seed=i == 0)[0] for i in range(4)]
    to_ship, to_issue = orders[:2], orders[2:]
    for oid in to_ship:
        completed(ctx, oid)
    work = iter([*[("ship", o) for o in to_ship], *[("issue", o) for o in to_issue] * 2])
    lock = threading.Lock()

    def act() -> int:
        with lock:
            what, oid = next(work)
        if what == "ship":
            ship(ctx, oid)
            return oid
        with ctx.db.transaction() as s:
            return issue_invoice(s, oid, CLERK).invoice.order_id

    done = at_once(6, act)
    assert all(isinstance(d, int) for d in done), done
    given = numbers(ctx)
    assert set(given) == set(orders) and sorted(given.values()) == [1, 2, 3, 4], given
    assert len(invoice_events(ctx, "issued")) == 4


def test_amend_after_the_invoice_is_refused_naming_it(ctx: AppContext) -> None:
    oid, customer = placed(ctx)
    other, other_customer = placed(ctx, seed=False)
    with ctx.db.sessions() as s:
        lid = s.scalars(select(OrderLine.id).where(OrderLine.order_id == oid)).one()
        other_lid = s.scalars(select(OrderLine.id).where(OrderLine.order_id == other)).one()
        total = s.get_one(Order, oid).total
    with ctx.db.sessions() as s:
        assert track_order(s, oid, customer).lines[0].amendable
    with ctx.db.transaction() as s:
        label = issue_invoice(s, oid, CLERK).label
    with ctx.db.sessions() as s:  # the page and the API stop offering the change
        assert not track_order(s, oid, customer).lines[0].amendable
        assert track_order(s, other, other_customer).lines[0].amendable
    who = Actor("c", customer)
    with pytest.raises(InvoiceIssued) as info, ctx.db.transaction() as s:
        amend_line(s, oid, lid, 5, "standard", who, customer_id=customer)
    assert label in info.value.fields["invoice"] and label in info.value.message
    with ctx.db.transaction() as s:  # the same quantity and tier: nothing to change
        assert not amend_line(s, oid, lid, 2, "standard", who, customer_id=customer).changed
    with ctx.db.sessions() as s:
        assert s.get_one(OrderLine, lid).quantity == 2 and s.get_one(Order, oid).total == total
    with ctx.db.transaction() as s:  # an order not invoiced still changes
        done = amend_line(s, other, other_lid, 5, "standard", Actor("c", other_customer))
    assert done.changed


def test_cancel_after_the_invoice_notes_a_credit_note(ctx: AppContext) -> None:
    oid, customer = placed(ctx)
    plain, _ = placed(ctx, seed=False)
    with ctx.db.transaction() as s:
        label = issue_invoice(s, oid, CLERK).label
    with ctx.db.sessions() as s:
        total = account(s, oid).bill.total
    results = []
    for _ in range(2):  # a second cancel is "already cancelled": no second note
        with ctx.db.transaction() as s:
            results.append(cancel_order(s, oid, CLERK, "customer changed their mind"))
    assert results[0].credit_note_for == label and not results[1].changed
    (note,) = invoice_events(ctx, "credit_note_needed")
    assert note.entity_id == "1" and note.payload["invoice"] == label
    assert note.payload["reason"] == "customer changed their mind"
    name, text = document(ctx, oid, customer)  # the invoice still states what it billed
    assert name == f"hunar-invoice-{label}.pdf" and f"Rs {total:,.2f}" in text
    assert "credit note for it is due" in text
    with ctx.db.transaction() as s:
        first = cancel_order(s, plain, CLERK, "duplicate order")
    assert first.changed and first.credit_note_for is None
    assert len(invoice_events(ctx, "credit_note_needed")) == 1
    with pytest.raises(InvoiceRefused) as refused, ctx.db.transaction() as s:
        issue_invoice(s, plain, CLERK)
    assert isinstance(refused.value, IllegalTransition) and "order_id" in refused.value.fields
    with pytest.raises(NotFound):
        document(ctx, plain)
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Invoice)) == 1


def test_cancel_result_names_the_invoice_to_credit(ctx: AppContext) -> None:
    oid, customer = placed(ctx)
    with ctx.db.transaction() as s:
        label = issue_invoice(s, oid, CLERK).label
    with ctx.db.transaction() as s:
        result = cancel_order(s, oid, Actor("c", customer), None, customer_id=customer)
    assert result.changed and result.credit_note_for == label
