"""Money that came in: staff record payments (bank transfer, cash on delivery), void mistakes,
and an order's tax invoice is issued once, by a business event (shipping it, or staff issuing
it for an advance payment), never by viewing it.

Every command locks the order row first (`FOR UPDATE` on PostgreSQL; SQLite write transactions
hold the write lock from their start), so two submits of one form, or two payments racing for
the same balance, are decided one after the other against the balance as it then stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.commands.audit import Actor, record_event
from orders.commands.checkout_payment import release_if_due
from orders.errors import DomainError, DuplicateSubmission, IllegalTransition, NotFound
from orders.lifecycle import Status
from orders.models import Invoice, Order, Payment, PaymentMethod, PaymentState
from orders.queries.money import account, invoice_label, to_paisa

STAFF_METHODS = (PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH_ON_DELIVERY)
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]{2,63}")
MAX_AMOUNT = Decimal("999999999999.99")  # what Numeric(14, 2) holds
CLOCK_SKEW = timedelta(minutes=5)
NUMBER_ATTEMPTS = 5


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    created: bool  # False: the same form was submitted before and recorded then


def _locked(session: Session, order_id: int, customer_id: int | None = None) -> Order:
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"order {order_id} not found", fields={"order_id": "no such order"})
    return order


def parse_amount(raw: object) -> Decimal:
    """A positive amount with at most two decimals (paisa), as typed: '1500', '1,500.50'."""
    text = str(raw).strip().replace(",", "") if raw is not None else ""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        raise DomainError(
            "amount must be a positive number like 1500 or 1500.50",
            fields={"amount": "positive number"},
        )
    if amount != to_paisa(amount):
        raise DomainError("amount has more than two decimals", fields={"amount": "to the paisa"})
    return to_paisa(amount)


def parse_method(raw: object) -> PaymentMethod:
    if raw not in {m.value for m in STAFF_METHODS}:
        choices = ", ".join(m.value for m in STAFF_METHODS)
        raise DomainError(f"method must be one of {choices}", fields={"method": choices})
    return PaymentMethod(str(raw))


def _reference(method: PaymentMethod, raw: str | None) -> str | None:
    text = " ".join((raw or "").split())
    if not text and method != PaymentMethod.BANK_TRANSFER:
        return None
    if not text:
        raise DomainError(
            "reference is required for a bank transfer: the bank's transaction number",
            fields={"reference": "required for a bank transfer"},
        )
    if not REFERENCE.fullmatch(text):
        raise DomainError(
            "reference must be 3-64 letters, digits, spaces or . / _ -",
            fields={"reference": "3-64 letters, digits, spaces or . / _ -"},
        )
    return text


def _key(raw: str | None) -> str:
    key = (raw or "").strip()
    if not key or len(key) > 128:
        raise DomainError(
            "idempotency key is required (1-128 characters): reload the form",
            fields={"idempotency_key": "1-128 characters"},
        )
    return key


def record_payment(
    session: Session,
    order_id: int,
    *,
    method: str,
    amount: object,
    reference: str | None,
    idempotency_key: str | None,
    actor: Actor,
    received_at: datetime | None = None,
) -> Recorded:
    """Record money received for an order; the same form (key) submitted again records once.

    Refused, naming the field: an unknown method, an amount that is not positive paisa or is
    more than the balance due, a bank transfer without its reference, a future receipt time.
    """
    kind = parse_method(method)
    value = parse_amount(amount)
    ref = _reference(kind, reference)
    key = _key(idempotency_key)
    now = datetime.now(UTC)
    when = received_at or now
    if when.tzinfo is None or when > now + CLOCK_SKEW:
        raise DomainError("received at cannot be in the future", fields={"received_at": "past"})
    order = _locked(session, order_id)
    same = session.scalar(
        select(Payment).where(Payment.order_id == order.id, Payment.idempotency_key == key)
    )
    if same is not None:
        if (same.method, same.amount, same.reference) != (kind, value, ref):
            raise DuplicateSubmission(
                "this form was already used for a different payment: reload it",
                fields={"idempotency_key": "already used"},
            )
        return Recorded(same, created=False)
    balance = account(session, order.id).balance
    if value > balance:
        raise DomainError(
            f"amount {value} is more than the balance due ({order.currency} {balance})",
            fields={"amount": f"at most {balance}"},
        )
    payment = Payment(
        order_id=order.id,
        idempotency_key=key,
        method=kind,
        reference=ref,
        amount=value,
        currency=order.currency,
        received_at=when,
        recorded_by_id=actor.user_id,
        recorded_by=actor.label[:255],
        state=PaymentState.RECORDED,
    )
    session.add(payment)
    session.flush()
    body = {"order_id": order.id, "method": kind.value, "amount": str(value), "reference": ref}
    record_event(session, actor, "payment", payment.id, None, PaymentState.RECORDED.value, body)
    release_if_due(session, order.id, actor)  # a transfer received may release production
    return Recorded(payment, created=True)


def void_payment(session: Session, payment_id: int, reason: str | None, actor: Actor) -> Payment:
    """Void a payment recorded by mistake (the balance goes back up); voiding twice is no-op."""
    text = " ".join((reason or "").split())[:500]
    if not text:
        raise DomainError("reason is required: say why it is void", fields={"reason": "required"})
    row = session.get(Payment, payment_id)
    if row is None:
        raise NotFound(f"payment {payment_id} not found", fields={"payment_id": "no such payment"})
    _locked(session, row.order_id)
    session.refresh(row)
    if row.state == PaymentState.VOID:
        return row
    row.state, row.void_reason, row.voided_at = PaymentState.VOID, text, datetime.now(UTC)
    body = {"order_id": row.order_id, "amount": str(row.amount), "reason": text}
    record_event(session, actor, "payment", row.id, PaymentState.RECORDED.value, "void", body)
    return row


class InvoiceIssued(DomainError):
    """The order's invoice is issued: it is the legal record of the bill, so the bill is fixed."""

    code = "invoice_issued"


class InvoiceRefused(IllegalTransition):
    """The order is in no state to be invoiced (a cancelled order, an unplaced draft): 409."""

    code = "invoice_not_allowed"

    def __init__(self, order: Order, message: str) -> None:
        super().__init__("order", Status(order.status).value, "invoiced")
        self.message = message
        self.args = (message,)
        self.fields = {"order_id": message}


@dataclass(frozen=True)
class Issued:
    invoice: Invoice
    label: str  # as printed, e.g. HUN-INV-000012
    created: bool  # False: it was issued before (a second press, or the order shipped)


NOT_INVOICEABLE = (Status.DRAFT, Status.QUOTED, Status.CANCELLED)


def issue_invoice(
    session: Session, order_id: int, actor: Actor, now: datetime | None = None
) -> Issued:
    """Issue the order's tax invoice: at supply (`ship_order`), or earlier when staff press
    "Issue invoice" (a customer paying in advance). Viewing never issues; a second call gives
    the first's number.

    The number comes from one gap-free sequence: the order row lock makes concurrent requests
    for one order wait and find the first's number; two orders racing for the next number meet
    at the unique key, and the loser takes the one after (a savepoint keeps its transaction).
    A number rolled back (with the shipment it belonged to) is never seen.
    """
    order = _locked(session, order_id)
    for _ in range(NUMBER_ATTEMPTS):
        existing = session.scalar(select(Invoice).where(Invoice.order_id == order.id))
        if existing is not None:
            return Issued(existing, invoice_label(existing.number), created=False)
        if order.status in NOT_INVOICEABLE:
            raise InvoiceRefused(
                order, f"order {order.id} is {order.status.value}: it cannot be invoiced"
            )
        number = (session.scalar(select(func.max(Invoice.number))) or 0) + 1
        invoice = Invoice(order_id=order.id, number=number, issued_at=now or datetime.now(UTC))
        try:
            with session.begin_nested():
                session.add(invoice)
        except IntegrityError:
            continue
        label = invoice_label(number)
        body = {"order_id": order.id, "invoice": label, "order_status": order.status.value}
        record_event(session, actor, "invoice", number, None, "issued", body)
        return Issued(invoice, label, created=True)
    raise DomainError("the invoice number is busy; try again", fields={"order_id": "busy"})


def refuse_if_invoiced(session: Session, order_id: int) -> None:
    """An issued invoice is the legal record of the bill: the order's lines no longer change
    (a change would need a credit note and a new invoice). The caller holds the order lock."""
    number = session.scalar(select(Invoice.number).where(Invoice.order_id == order_id))
    if number is not None:
        label = invoice_label(number)
        raise InvoiceIssued(
            f"order {order_id} can no longer be changed: invoice {label} was issued for it and "
            "is the legal record of the bill. Please contact us",
            fields={"invoice": f"{label} is issued"},
        )


def credit_note_needed(session: Session, order_id: int, reason: str, actor: Actor) -> str | None:
    """On cancelling an invoiced order: an event on the invoice saying a credit note is due
    (none is issued here); the invoice's label, or None when the order was never invoiced."""
    number = session.scalar(select(Invoice.number).where(Invoice.order_id == order_id))
    if number is None:
        return None
    label = invoice_label(number)
    body = {"order_id": order_id, "invoice": label, "reason": reason}
    record_event(session, actor, "invoice", number, "issued", "credit_note_needed", body)
    return label
