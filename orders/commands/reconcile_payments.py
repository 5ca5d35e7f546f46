"""Payments whose gateway answer never came: ask the gateway (its status inquiry) and apply the
answer exactly as a callback would be (`checkout_payment.apply_answer`: once per transaction
reference, so a callback arriving later changes nothing). Run by `hunar payments reconcile` and
by every pass of `hunar dispatch --loop`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from orders.adapters.gateways import configured
from orders.adapters.gateways.base import GatewayUnavailable
from orders.commands.audit import Actor
from orders.commands.checkout_payment import Applied, apply_answer
from orders.models.payments import GatewayState, GatewayTransaction
from orders.shop import PaymentRules, payment_rules

if TYPE_CHECKING:
    from orders.context import AppContext


@dataclass(frozen=True)
class Reconciled:
    asked: int
    settled: list[Applied]
    unreachable: list[str]  # txn refs whose gateway could not be asked (tried again later)


def reconcile(
    ctx: AppContext, *, now: datetime | None = None, rules: PaymentRules | None = None
) -> Reconciled:
    """Ask the gateway about every open transaction older than `inquire_after_minutes` (and
    not asked within that time), and apply what it says; each in its own transaction."""
    rules = rules or payment_rules()
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(minutes=rules.inquire_after_minutes)
    providers = configured(ctx.settings)
    with ctx.db.sessions() as s:
        due = s.execute(
            select(GatewayTransaction.txn_ref, GatewayTransaction.provider).where(
                GatewayTransaction.state == GatewayState.PENDING,
                GatewayTransaction.created_at <= cutoff,
                (GatewayTransaction.inquired_at.is_(None))
                | (GatewayTransaction.inquired_at <= cutoff),
            )
        ).all()
    settled, unreachable, actor = [], [], Actor.system("payments-reconcile")
    for ref, method in due:
        provider = providers.get(method.value)
        try:
            if provider is None:
                raise GatewayUnavailable(f"{method.value} is not configured")
            answer = provider.inquire(ref)
        except GatewayUnavailable:
            unreachable.append(ref)
            _asked(ctx, ref, now)  # asked again after inquire_after_minutes, not every pass
            continue
        with ctx.db.transaction() as s:
            done = apply_answer(s, method.value, answer, actor, inquiry=True)
        if done.changed:
            settled.append(done)
    return Reconciled(len(due), settled, unreachable)


def _asked(ctx: AppContext, txn_ref: str, now: datetime) -> None:
    with ctx.db.transaction() as s:
        row = s.scalar(select(GatewayTransaction).where(GatewayTransaction.txn_ref == txn_ref))
        if row is not None:
            row.inquired_at = now
