"""What the order page says about paying: the method chosen at checkout, what is paid and
owed, what must be paid before production, and each online payment attempt."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.models.payments import GatewayState, GatewayTransaction, PaymentTerms
from orders.queries.money import account, to_paisa
from orders.shop import PaymentRules

LABELS = {
    "cash_on_delivery": "Cash on delivery",
    "bank_transfer": "Bank transfer",
    "raast": "Raast QR (any Pakistani banking app)",
    "jazzcash": "JazzCash",
    "easypaisa": "Easypaisa",
}
GATEWAYS = frozenset({"jazzcash", "easypaisa"})


@dataclass(frozen=True)
class Attempt:
    txn_ref: str
    provider: str
    state: str
    amount: Decimal
    message: str | None


@dataclass(frozen=True)
class PaymentPanel:
    method: str
    label: str
    upfront_percent: int
    reference: str
    released: bool  # the order may go to production
    currency: str
    total: Decimal
    paid: Decimal
    balance: Decimal
    due_before_production: Decimal
    attempts: tuple[Attempt, ...]

    @property
    def gateway(self) -> bool:
        return self.method in GATEWAYS

    @property
    def open_attempt(self) -> Attempt | None:
        return next((a for a in self.attempts if a.state == GatewayState.PENDING.value), None)


def payment_panel(session: Session, order_id: int) -> PaymentPanel | None:
    """None for an order placed without the checkout's payment step (staff tools, the API)."""
    terms = session.scalar(select(PaymentTerms).where(PaymentTerms.order_id == order_id))
    if terms is None:
        return None
    money = account(session, order_id)
    rows = session.scalars(
        select(GatewayTransaction)
        .where(GatewayTransaction.order_id == order_id)
        .order_by(GatewayTransaction.id.desc())
    )
    attempts = tuple(
        Attempt(t.txn_ref, t.provider.value, t.state.value, t.amount, t.message) for t in rows
    )
    return PaymentPanel(
        method=terms.method.value,
        label=LABELS[terms.method.value],
        upfront_percent=terms.upfront_percent,
        reference=terms.reference,
        released=terms.released_at is not None,
        currency=money.bill.currency,
        total=money.bill.total,
        paid=money.paid,
        balance=money.balance,
        due_before_production=to_paisa(money.bill.total * terms.upfront_percent / 100),
        attempts=attempts,
    )


def raast_payload(rules: PaymentRules, amount: str, currency: str, reference: str) -> str:
    """The text of the order's Raast QR. SBP's Raast P2M merchant QR layout (EMVCo-based) is
    shared with regulated entities only, so this is a plain, readable payload: the account
    (IBAN or Raast alias), its title, the amount and the reference to quote."""
    account_id = rules.raast_iban or rules.raast_alias
    parts = (
        "RAAST",
        f"IBAN:{rules.raast_iban}" if rules.raast_iban else f"ALIAS:{account_id}",
        f"NAME:{rules.account_title}",
        f"AMOUNT:{currency} {amount}",
        f"REF:{reference}",
    )
    return "\n".join(parts)
