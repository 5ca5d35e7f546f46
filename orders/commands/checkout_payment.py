"""The payment step at checkout, the one production gate, and gateway answers applied once.

- `offered_methods`: what the shop offers ([payments] in data/shop.toml) that can work here
  (a gateway only with its credentials, Raast only with an account), with the share of the
  total each needs before production; a customer with pay-later terms needs none.
- `choose_method` (called by `place_order`): the order's `PaymentTerms`, once.
- `may_produce`: **the one gate**. An order chosen at checkout goes to CAD and production only
  once its terms are released: at once when nothing is due up front (cash on delivery, a trusted
  account), else when the payments received reach the upfront share (`release_if_due`, run by
  every payment: a gateway answer, or staff recording a transfer). Orders placed without the
  checkout's payment step (staff tools, the API) have no terms and are not gated.
- `start_gateway_payment`: one open gateway transaction per order (a double click reuses it).
- `apply_answer`: a verified gateway answer (callback or status inquiry) applied once per
  gateway transaction reference: the order row is locked, the transaction re-read, and a
  settled one is left alone; a paid answer writes one `Payment` (unique per order and
  `provider:txn_ref`). A wrong amount or currency is refused and recorded, never paid.
- `reconcile_payments.reconcile`: asks the gateway about transactions whose answer never came.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.adapters.gateways import REGISTRY, configured
from orders.adapters.gateways.base import Answer, Checkout, HostedForm, Provider
from orders.adapters.outbox import enqueue_later
from orders.commands.audit import Actor, record_event
from orders.errors import DomainError, IllegalTransition, NotFound
from orders.lifecycle import Status
from orders.models import Order, Payment, PaymentMethod, PaymentState, ProductConfiguration
from orders.models.payments import CustomerTerms, GatewayState, GatewayTransaction, PaymentTerms
from orders.queries.money import account, to_paisa
from orders.queries.payment_view import LABELS
from orders.settings import Settings
from orders.shop import PaymentRules, payment_rules


@dataclass(frozen=True)
class Offer:
    method: str
    label: str
    upfront_percent: int  # of the total, before production


@dataclass(frozen=True)
class PaymentChoice:
    """The customer's pick at checkout, with what was offered to them."""

    method: str
    offers: tuple[Offer, ...]


def pay_later(session: Session, customer_id: int) -> bool:
    terms = session.get(CustomerTerms, customer_id)
    return bool(terms is not None and terms.pay_later)


def offered_methods(
    session: Session, settings: Settings, customer_id: int, rules: PaymentRules | None = None
) -> tuple[Offer, ...]:
    rules = rules or payment_rules()
    gateways = configured(settings)
    trusted = pay_later(session, customer_id)
    out = []
    for m in rules.methods:
        if (m in REGISTRY and m not in gateways) or (
            m == "raast" and not (rules.raast_iban or rules.raast_alias)
        ):
            continue
        out.append(Offer(m, LABELS[m], 0 if trusted else rules.upfront(m)))
    return tuple(out)


def choice_for(
    session: Session, settings: Settings, customer_id: int, method: str | None
) -> PaymentChoice:
    """The payment step for any door (the checkout page, `POST /api/orders`): the method named,
    or the first the shop offers this customer (the page preselects it). An order placed by a
    customer always has terms, so no door skips the production gate."""
    offers = offered_methods(session, settings, customer_id)
    chosen = (method or "").strip()[:32] or (offers[0].method if offers else "")
    return PaymentChoice(chosen, offers)


def bill_reference(order_id: int) -> str:
    """What a transfer or Raast payment quotes, so staff can match it to the order."""
    return f"HUN-{order_id}"


def choose_method(session: Session, order: Order, choice: PaymentChoice, actor: Actor) -> None:
    """The order's payment terms, once (the first choice stands). Released at once when
    nothing is due up front; `place_order` then asks for CAD under `may_produce`."""
    offer = next((o for o in choice.offers if o.method == choice.method), None)
    if offer is None:
        names = ", ".join(o.method for o in choice.offers) or "none"
        raise DomainError(
            f"payment_method must be one of: {names}", fields={"payment_method": names}
        )
    if session.scalar(select(PaymentTerms).where(PaymentTerms.order_id == order.id)) is not None:
        return
    terms = PaymentTerms(
        order_id=order.id,
        method=PaymentMethod(offer.method),
        upfront_percent=offer.upfront_percent,
        reference=bill_reference(order.id),
    )
    session.add(terms)
    session.flush()
    body = {"method": offer.method, "upfront_percent": offer.upfront_percent}
    record_event(session, actor, "payment_terms", order.id, None, "awaiting_payment", body)
    release_if_due(session, order.id, actor, request=False)


def may_produce(session: Session, order_id: int) -> bool:
    """The one gate: may this order's designs go to CAD and production?"""
    row = session.execute(
        select(PaymentTerms.released_at).where(PaymentTerms.order_id == order_id)
    ).first()
    return row is None or row.released_at is not None


def request_cad(session: Session, order: Order) -> None:
    """Ask for every design's CAD build in this transaction (outbox), so none is ever lost."""
    for line in order.lines:
        config = session.get_one(ProductConfiguration, line.configuration_id)
        enqueue_later(
            session,
            "build_artifacts",
            config.id,
            queue="cad",
            dedupe_key=f"cad:{config.config_hash}",
            key=f"cad:{config.config_hash}:order{order.id}",
        )


def release_if_due(session: Session, order_id: int, actor: Actor, *, request: bool = True) -> bool:
    """Release the order to production once the payments received reach its upfront share;
    True when this call released it. `request`: ask for CAD now (a payment after placing)."""
    terms = session.scalar(select(PaymentTerms).where(PaymentTerms.order_id == order_id))
    if terms is None or terms.released_at is not None:
        return False
    money = account(session, order_id)
    due = to_paisa(money.bill.total * terms.upfront_percent / 100)
    if money.paid < due:
        return False
    terms.released_at = datetime.now(UTC)
    body = {"paid": str(money.paid), "due_before_production": str(due)}
    record_event(session, actor, "payment_terms", order_id, "awaiting_payment", "released", body)
    order = session.get_one(Order, order_id)
    if request and order.status == Status.PLACED:
        request_cad(session, order)
    return True


def _locked_order(session: Session, order_id: int, customer_id: int | None = None) -> Order:
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"order {order_id} not found", fields={"order_id": "no such order"})
    return order


class NothingToPay(DomainError):
    """The order owes nothing (already paid), or is cancelled: no payment is started."""

    code = "nothing_to_pay"


class PaymentOpen(IllegalTransition):
    """Another gateway's payment for this order is still open: paying again could pay twice."""

    code = "payment_open"

    def __init__(self, message: str) -> None:
        super().__init__("payment", "pending", "started")
        self.message = message
        self.args = (message,)
        self.fields = {"payment_method": message}


@dataclass(frozen=True)
class Started:
    txn_ref: str
    form: HostedForm
    created: bool  # False: an open transaction was reused (a second click on "Pay")


def new_txn_ref(now: datetime) -> str:
    """A 20-character reference (JazzCash's pp_TxnRefNo limit): T, the time, 5 random."""
    return f"T{now:%Y%m%d%H%M%S}{secrets.token_hex(3)[:5].upper()}"


def start_gateway_payment(
    session: Session,
    order_id: int,
    provider: Provider,
    return_url: str,
    actor: Actor,
    customer_id: int | None = None,
) -> Started:
    """The signed form that sends the customer to the gateway for the balance due.

    One open transaction per order: under the order lock, a pending one for this gateway and
    amount is reused (a double click, a reload), and one at another gateway is refused."""
    order = _locked_order(session, order_id, customer_id)
    money = account(session, order.id)
    if order.status == Status.CANCELLED or money.balance <= 0:
        why = "it is cancelled" if order.status == Status.CANCELLED else "it is paid in full"
        raise NothingToPay(f"order {order.id} has nothing to pay: {why}", fields={"order_id": why})
    pending = session.scalars(
        select(GatewayTransaction).where(
            GatewayTransaction.order_id == order.id,
            GatewayTransaction.state == GatewayState.PENDING,
        )
    ).all()
    for txn in pending:  # another open payment could be paid too: wait for its answer
        if txn.provider != provider.name or txn.amount != money.balance:
            raise PaymentOpen(
                f"a {LABELS[txn.provider.value]} payment of {txn.currency} {txn.amount} "
                f"({txn.txn_ref}) for this order is still open; we are checking it with them, "
                "so you are not charged twice"
            )
    created = not pending
    if pending:
        txn = pending[0]
    else:
        now = datetime.now(UTC)
        txn = GatewayTransaction(
            order_id=order.id,
            provider=PaymentMethod(provider.name),
            txn_ref=new_txn_ref(now),
            amount=money.balance,
            currency=order.currency,
            state=GatewayState.PENDING,
            created_at=now,
        )
        session.add(txn)
        session.flush()
        body = {"order_id": order.id, "amount": str(txn.amount), "provider": provider.name}
        record_event(session, actor, "gateway_transaction", txn.txn_ref, None, "pending", body)
    checkout = Checkout(
        txn.txn_ref,
        txn.amount,
        txn.currency,
        bill_reference(order.id),
        f"Hunar order {order.id}",
        return_url,
        txn.created_at,
    )
    return Started(txn.txn_ref, provider.hosted_form(checkout), created)


@dataclass(frozen=True)
class Applied:
    order_id: int
    txn_ref: str
    provider: str
    state: GatewayState
    changed: bool  # False: the answer was applied before (a replay) or says "still pending"
    amount: str
    currency: str


def _applied(txn: GatewayTransaction, changed: bool) -> Applied:
    return Applied(
        txn.order_id,
        txn.txn_ref,
        txn.provider.value,
        txn.state,
        changed,
        str(txn.amount),
        txn.currency,
    )


def apply_answer(
    session: Session, provider: str, answer: Answer, actor: Actor, *, inquiry: bool = False
) -> Applied:
    """Apply a verified gateway answer once: a settled transaction is left as it is."""
    if not answer.verified:
        raise DomainError("an unverified answer is never applied", fields={"answer": "verify"})
    found = session.scalar(
        select(GatewayTransaction).where(GatewayTransaction.txn_ref == answer.txn_ref)
    )
    if found is None or found.provider.value != provider:
        raise NotFound(
            f"no {provider} payment {answer.txn_ref!r}", fields={"txn_ref": "unknown reference"}
        )
    _locked_order(session, found.order_id)
    txn = session.get_one(GatewayTransaction, found.id, populate_existing=True)
    now = datetime.now(UTC)
    if inquiry:
        txn.inquired_at = now
    # Settled is final, except that a verified "paid" beats an earlier "failed" (the gateway
    # took the money after all: it is recorded, never lost).
    was = txn.state
    late_paid = was == GatewayState.FAILED and answer.outcome == "paid"
    if (was != GatewayState.PENDING and not late_paid) or answer.outcome == "pending":
        return _applied(txn, changed=False)
    txn.response_code, txn.message, txn.settled_at = answer.code[:16], answer.message, now
    body: dict[str, object] = {
        "order_id": txn.order_id,
        "code": answer.code,
        "via": "inquiry" if inquiry else "callback",
    }
    if answer.outcome == "failed":
        txn.state = GatewayState.FAILED
        record_event(session, actor, "gateway_transaction", txn.txn_ref, "pending", "failed", body)
        return _applied(txn, changed=True)
    amount = answer.amount if answer.amount is not None else txn.amount
    currency = answer.currency or txn.currency
    if amount != txn.amount or currency != txn.currency:
        txn.state = GatewayState.REFUSED
        txn.message = (
            f"the gateway reported {currency} {amount}, the payment asked for "
            f"{txn.currency} {txn.amount}: not counted ({answer.message})"
        )
        body |= {"reported": f"{currency} {amount}", "expected": f"{txn.currency} {txn.amount}"}
        record_event(session, actor, "gateway_transaction", txn.txn_ref, was.value, "refused", body)
        return _applied(txn, changed=True)
    txn.payment_id = _payment(session, txn, actor, now).id
    txn.state = GatewayState.PAID
    record_event(session, actor, "gateway_transaction", txn.txn_ref, was.value, "paid", body)
    release_if_due(session, txn.order_id, actor)
    return _applied(txn, changed=True)


def _payment(session: Session, txn: GatewayTransaction, actor: Actor, now: datetime) -> Payment:
    """The order's payment for this gateway transaction: one per (order, provider:txn_ref)."""
    key = f"{txn.provider.value}:{txn.txn_ref}"
    payment = Payment(
        order_id=txn.order_id,
        idempotency_key=key,
        method=txn.provider,
        reference=txn.txn_ref,
        amount=txn.amount,
        currency=txn.currency,
        received_at=now,
        recorded_by_id=None,
        recorded_by=actor.label[:255],
        state=PaymentState.RECORDED,
    )
    try:
        with session.begin_nested():
            session.add(payment)
    except IntegrityError:
        return session.scalars(
            select(Payment).where(Payment.order_id == txn.order_id, Payment.idempotency_key == key)
        ).one()
    body = {"order_id": txn.order_id, "method": txn.provider.value, "amount": str(txn.amount)}
    record_event(session, actor, "payment", payment.id, None, PaymentState.RECORDED.value, body)
    return payment


def set_customer_terms(
    session: Session, user_id: int, pay_later_ok: bool, note: str | None, actor: Actor
) -> None:
    """A customer's terms: `pay_later_ok` lets a trusted business account's orders go to
    production before they are paid (each change an audit event)."""
    row = session.get(CustomerTerms, user_id)
    before = None if row is None else row.pay_later
    if row is None:
        row = CustomerTerms(user_id=user_id)
        session.add(row)
    row.pay_later, row.note = pay_later_ok, (note or "").strip()[:255] or None
    session.flush()
    body = {"pay_later": pay_later_ok}
    record_event(session, actor, "customer_terms", user_id, str(before), str(pay_later_ok), body)
