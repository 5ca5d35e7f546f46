"""What an order costs and what is still owed: its lines as placed, tax lines, payments, balance.

Money is Decimal in the order's currency, every amount rounded to the paisa (half up), so a
document, the staff page and the payment rule all compute the same figures from one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.errors import NotFound
from orders.lifecycle import Status
from orders.models import Invoice, Order, Payment, PaymentState, ProductConfiguration, Quote
from orders.shop import TaxLine, shop_numbers

PAISA = Decimal("0.01")


def to_paisa(amount: Decimal) -> Decimal:
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class BillLine:
    line_id: int
    family: str
    quantity: int
    tier: str
    unit_price: Decimal
    amount: Decimal
    promised_ship_date: date | None


@dataclass(frozen=True)
class TaxAmount:
    name: str
    rate_percent: Decimal
    base: Decimal
    amount: Decimal

    @property
    def label(self) -> str:
        return f"{self.name} {self.rate_percent.normalize():f}%"


@dataclass(frozen=True)
class Bill:
    currency: str
    lines: tuple[BillLine, ...]
    subtotal: Decimal
    taxes: tuple[TaxAmount, ...]
    total: Decimal


@dataclass(frozen=True)
class IssuedInvoice:
    """An order's tax invoice: its number as printed and when it was issued."""

    number: int
    label: str
    issued_at: datetime


@dataclass(frozen=True)
class Account:
    """An order's bill with its payments: what was paid (recorded, not void) and the balance."""

    order_id: int
    customer_id: int
    status: str
    bill: Bill
    payments: tuple[Payment, ...]
    paid: Decimal
    balance: Decimal
    invoice: IssuedInvoice | None  # None: not issued yet, its document is a pro-forma

    @property
    def invoice_number(self) -> str | None:
        return self.invoice.label if self.invoice is not None else None


def taxes_on(subtotal: Decimal, lines: tuple[TaxLine, ...] | None = None) -> tuple[TaxAmount, ...]:
    """Each configured tax line on its base: the goods, or the goods with the taxes above it."""
    out: list[TaxAmount] = []
    for tax in shop_numbers().taxes if lines is None else lines:
        base = subtotal if tax.applies_to == "goods" else subtotal + sum(t.amount for t in out)
        out.append(
            TaxAmount(tax.name, tax.rate_percent, base, to_paisa(base * tax.rate_percent / 100))
        )
    return tuple(out)


def make_bill(currency: str, lines: tuple[BillLine, ...]) -> Bill:
    subtotal = to_paisa(sum((ln.amount for ln in lines), Decimal(0)))
    taxes = taxes_on(subtotal)
    return Bill(currency, lines, subtotal, taxes, subtotal + sum(t.amount for t in taxes))


def bill_for(session: Session, order: Order, *, as_invoiced: bool = False) -> Bill:
    """The order's lines as placed (remakes are free, cancelled lines are not charged).

    `as_invoiced`: the bill its issued invoice states, cancelled lines included: lines are only
    cancelled with their order, and an invoiced order's lines no longer change."""
    lines = []
    for ln in order.lines:
        if ln.parent_line_id is not None or (ln.status == Status.CANCELLED and not as_invoiced):
            continue
        quoted = session.get(Quote, ln.quote_id) if ln.quote_id is not None else None
        amount = quoted.total if quoted is not None else ln.unit_price * ln.quantity
        family = session.get_one(ProductConfiguration, ln.configuration_id).family_key
        lines.append(
            BillLine(
                ln.id,
                family,
                ln.quantity,
                ln.tier,
                ln.unit_price,
                to_paisa(amount),
                ln.promised_ship_date,
            )
        )
    return make_bill(order.currency, tuple(lines))


def invoice_label(number: int) -> str:
    return f"{shop_numbers().money.invoice_prefix}-{number:06d}"


def issued_invoice(session: Session, order_id: int) -> IssuedInvoice | None:
    """The order's issued invoice, or None while its document is a pro-forma."""
    row = session.scalar(select(Invoice).where(Invoice.order_id == order_id))
    if row is None:
        return None
    return IssuedInvoice(row.number, invoice_label(row.number), row.issued_at)


def account(session: Session, order_id: int, customer_id: int | None = None) -> Account:
    """The order's money; with `customer_id`, only that customer's order (others: NotFound)."""
    order = session.get(Order, order_id)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"order {order_id} not found", fields={"order_id": "no such order"})
    bill = bill_for(session, order)
    payments = tuple(
        session.scalars(select(Payment).where(Payment.order_id == order_id).order_by(Payment.id))
    )
    paid = sum((p.amount for p in payments if p.state == PaymentState.RECORDED), Decimal(0))
    return Account(
        order.id,
        order.customer_id,
        order.status.value,
        bill,
        payments,
        to_paisa(paid),
        to_paisa(bill.total - paid),
        issued_invoice(session, order_id),
    )
