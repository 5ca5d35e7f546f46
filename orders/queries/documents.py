"""The money papers a customer keeps: a quote, an order confirmation and an invoice (PDFs).

All three share the look of the delivery note (`queries/pdf.py`) and one set of figures
(`queries/money.py`): the lines, the configured tax lines, the total. A quote is priced live
(it binds nothing); a confirmation shows the order as placed; an invoice adds its number,
the payments received and the balance due, so it is drawn afresh on every download. Until the
invoice is issued (`commands/payments.issue_invoice`) the same document is a pro-forma.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reportlab.lib.units import mm
from sqlalchemy.orm import Session

from orders import formats
from orders.errors import NotFound
from orders.lifecycle import Status
from orders.models import Order, PaymentState, User
from orders.queries.designs import LiveQuote
from orders.queries.money import Account, Bill, account, bill_for, taxes_on, to_paisa
from orders.queries.pdf import Cell, PdfWriter
from orders.shop import shop_numbers

SHOP_NAME = "Hunar made-to-order manufacturing"
QTY_X, UNIT_X, AMOUNT_X = 125.0, 155.0, 190.0


@dataclass(frozen=True)
class Document:
    pdf: bytes
    filename: str


def money(currency: str, amount: Decimal) -> str:
    return formats.money(amount, currency)


def _header(pdf: PdfWriter, title: str, facts: Iterable[str]) -> None:
    pdf.text(title, 16, bold=True)
    pdf.text(SHOP_NAME, 9)
    pdf.gap(6)
    for fact in facts:
        pdf.text(fact)
    pdf.gap(6)


def _amount_row(
    pdf: PdfWriter, label: str, value: str, bold: bool = False, x: float = UNIT_X - 40
) -> None:
    pdf.row([(x, label, False), (AMOUNT_X, value, True)], bold=bold)


def _totals(pdf: PdfWriter, currency: str, subtotal: Decimal, bill: Bill) -> None:
    pdf.gap(4)
    _amount_row(pdf, "Subtotal", money(currency, subtotal))
    for tax in bill.taxes:
        _amount_row(pdf, tax.label, money(currency, tax.amount))
    _amount_row(pdf, "Total", money(currency, bill.total), bold=True)


def _lines_table(pdf: PdfWriter, bill: Bill, dates: bool) -> None:
    head: list[Cell] = [(20, "Item", False), (QTY_X, "Qty", True), (UNIT_X, "Unit price", True)]
    pdf.row([*head, (AMOUNT_X, "Amount", True)], bold=True)
    for ln in bill.lines:
        pdf.row(
            [
                (20, f"Line {ln.line_id}: {ln.family.replace('_', ' ')} ({ln.tier})", False),
                (QTY_X, str(ln.quantity), True),
                (UNIT_X, f"{ln.unit_price:,.2f}", True),
                (AMOUNT_X, money(bill.currency, ln.amount), True),
            ]
        )
        if dates:
            promised = ln.promised_ship_date.isoformat() if ln.promised_ship_date else "not yet"
            pdf.text(f"Promised ship date: {promised}", 8, x=26 * mm)


def _customer(session: Session, order: Order) -> str:
    user = session.get_one(User, order.customer_id)
    return f"For: {user.display_name} <{user.email}>"


def render_quote_pdf(lq: LiveQuote, now: datetime) -> bytes:
    """A quote for a design at a quantity and tier, priced live: it binds nothing until ordered."""
    q = lq.quote
    pdf = PdfWriter(f"Quote, {q.family_key} x {q.qty}")
    design = f"Design: #{lq.configuration_id}" if lq.configuration_id else "Design: not saved yet"
    _header(
        pdf,
        f"Quote - {q.family_key.replace('_', ' ')} x {q.qty}",
        [design, f"Lead-time tier: {q.tier}", f"Quoted: {now:%Y-%m-%d %H:%M} UTC"],
    )
    if not lq.makeable:  # no price and no date for what cannot be made, as on the page
        pdf.text("This design cannot be made here, so it has no price:", bold=True)
        for reason in lq.reasons():
            pdf.text(f"- {reason['message']}", 9)
        return pdf.finish()
    pdf.row([(20, "Item", False), (AMOUNT_X, "Amount", True)], bold=True)
    for ln in q.lines:
        pdf.row([(20, ln.label, False), (AMOUNT_X, money(q.currency, ln.amount), True)])
    subtotal = to_paisa(q.total)
    taxes = taxes_on(subtotal)
    bill = Bill(q.currency, (), subtotal, taxes, subtotal + sum(t.amount for t in taxes))
    _totals(pdf, q.currency, subtotal, bill)
    pdf.text(f"Unit price before tax: {money(q.currency, q.unit_price)}")
    pdf.gap(6)
    if lq.promise.ok and lq.promise.ship_date is not None:
        pdf.text(f"Ships by: {lq.promise.ship_date.isoformat()} if ordered now")
    else:
        pdf.text(f"No ship date: {'; '.join(lq.promise.reasons)}"[:110])
    pdf.text("Prices and dates are confirmed when you place the order.", 9)
    return pdf.finish()


def render_confirmation_pdf(session: Session, order: Order, bill: Bill) -> bytes:
    """The order as placed: lines, prices, promised dates, tax lines and the total."""
    pdf = PdfWriter(f"Order confirmation, order {order.id}")
    _header(
        pdf,
        f"Order confirmation - order #{order.id}",
        [_customer(session, order), f"Placed: {order.created_at:%Y-%m-%d %H:%M} UTC"],
    )
    _lines_table(pdf, bill, dates=True)
    _totals(pdf, bill.currency, bill.subtotal, bill)
    pdf.gap(6)
    pdf.text(f"Pay by bank transfer to {shop_numbers().money.bank_details}", 9)
    pdf.text(f"quoting order #{order.id}, or in cash on delivery.", 9)
    return pdf.finish()


def render_invoice_pdf(session: Session, order: Order, acct: Account, now: datetime) -> bytes:
    """The issued invoice: its number and date, the bill, the payments so far, the balance due.
    Before it is issued, the same figures as a pro-forma dated `now`: marked as such, with no
    number, because only a business event (shipping, or staff issuing it) issues the invoice."""
    inv, bill = acct.invoice, acct.bill
    cancelled = inv is not None and order.status == Status.CANCELLED
    if cancelled:  # the invoice still states what it billed; a credit note cancels it
        bill = bill_for(session, order, as_invoiced=True)
    if inv is None:
        title = f"Pro-forma invoice - order #{order.id}"
        dated = f"Date: {formats.when(now, 'day')} (pro-forma: no invoice number yet)"
    else:
        title, dated = f"Invoice {inv.label}", f"Invoice date: {formats.when(inv.issued_at, 'day')}"
    pdf = PdfWriter(title.replace(" - ", ", "))
    _header(pdf, title, [_customer(session, order), f"Order: #{order.id}", dated])
    _lines_table(pdf, bill, dates=False)
    _totals(pdf, bill.currency, bill.subtotal, bill)
    pdf.gap(6)
    pdf.text("Payments received", 12, bold=True)
    received = [p for p in acct.payments if p.state == PaymentState.RECORDED]
    for p in received:
        ref = f", ref {p.reference}" if p.reference else ""
        when = f"{formats.when(p.received_at, 'day')} {p.method.value.replace('_', ' ')}{ref}"
        _amount_row(pdf, when[:60], money(p.currency, p.amount), x=20)
    if not received:
        pdf.text("None yet.", 9)
    _amount_row(pdf, "Paid", money(bill.currency, acct.paid))
    if cancelled:
        pdf.gap(4)
        pdf.text("The order was cancelled after this invoice was issued:", bold=True)
        pdf.text("a credit note for it is due.", bold=True)
    else:
        _amount_row(pdf, "Balance due", money(bill.currency, acct.balance), bold=True)
    pdf.gap(6)
    if inv is None:
        pdf.text("This pro-forma is not a tax invoice. The invoice, with its number, is", 9)
        pdf.text("issued when the order ships (or on request, for payment in advance).", 9)
    pdf.text(f"Bank transfer: {shop_numbers().money.bank_details}", 9)
    return pdf.finish()


def invoice_document(
    session: Session, order_id: int, customer_id: int | None, now: datetime
) -> Document:
    """The order's invoice if issued, else its pro-forma (the filename says which); with
    `customer_id`, only that customer's order. Only reads: viewing never issues an invoice.
    A cancelled order that was never invoiced has neither (NotFound)."""
    acct = account(session, order_id, customer_id)
    order = session.get_one(Order, order_id)
    if acct.invoice is None and order.status == Status.CANCELLED:
        raise NotFound(f"order {order_id} was cancelled before it was invoiced")
    pdf = render_invoice_pdf(session, order, acct, now)
    if acct.invoice is None:
        return Document(pdf, f"hunar-proforma-order-{order_id}.pdf")
    return Document(pdf, f"hunar-invoice-{acct.invoice.label}.pdf")
