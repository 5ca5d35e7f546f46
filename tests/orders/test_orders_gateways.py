"""Online payments (issue 15, item 5) against a local gateway stand-in.

The real JazzCash and Easypaisa sandboxes cannot be reached from the test machines, so these
tests run against `gateway_standin.py`: a local HTTP server that follows the published
protocols (JazzCash HTTP POST page redirection v1.1 with pp_SecureHash and its status inquiry;
Easypaisa's hosted checkout with merchantHashedReq and inquire-transaction). It checks the
shop's signed requests, renders its hosted page, signs its answers and answers inquiries.

Cases: a forged signature, a replayed callback (eight at once), a wrong amount, a late callback
(reconciled by inquiry first, then the callback arrives), a double click on "Pay" (eight at
once), and the production gate (cash on delivery, a deposit, a trusted account). In every case
nothing is paid twice and nothing is lost. Both engines, real threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import make_configuration, make_settings, make_shop, make_user
from shared_helpers import at_once
from sqlalchemy import func, select

from orders.adapters.gateways import configured
from orders.adapters.gateways.base import BadSignature
from orders.adapters.gateways.jazzcash import secure_hash
from orders.commands.audit import Actor
from orders.commands.checkout_payment import (
    Applied,
    PaymentChoice,
    apply_answer,
    may_produce,
    offered_methods,
    set_customer_terms,
    start_gateway_payment,
)
from orders.commands.ordering import LineRequest, place_order
from orders.commands.payments import record_payment
from orders.commands.reconcile_payments import reconcile
from orders.context import AppContext
from orders.errors import DomainError
from orders.models import Event, OutboxMessage, Payment
from orders.models.payments import GatewayState, GatewayTransaction
from orders.queries.money import account
from orders.shop import PaymentRules, ShopDataError, parse_payments, payment_rules
from tests.orders.gateway_standin import SALT, GatewayStandIn, start

N = 8
RETURN = "http://shop.test/pay/jazzcash/return"


@pytest.fixture
def standin() -> Iterator[GatewayStandIn]:
    server = start()
    yield server
    server.close()


@pytest.fixture
def pctx(
    backend: str, db_factory: Any, tmp_path: Path, artifact_cache: Path, standin: GatewayStandIn
) -> Iterator[AppContext]:
    url = db_factory.url(backend)
    settings = make_settings(tmp_path, url, artifact_dir=artifact_cache, **standin.settings())
    ctx = AppContext.from_settings(settings)
    with ctx.db.transaction() as s:
        make_shop(s)
    yield ctx
    ctx.close()


def order_paying_by(
    ctx: AppContext, method: str, rules: PaymentRules | None = None, trusted: bool = False
) -> int:
    with ctx.db.transaction() as s:
        user = make_user(s)
        if trusted:
            set_customer_terms(s, user.id, True, "net 30", Actor("admin"))
        cfg = make_configuration(s)
        offers = offered_methods(s, ctx.settings, user.id, rules)
        return place_order(
            s,
            user.id,
            [LineRequest(cfg.id, 2)],
            uuid.uuid4().hex,
            Actor("c", user.id),
            "PKR",
            PaymentChoice(method, offers),
        ).order.id


def cad_requested(ctx: AppContext, oid: int) -> int:
    with ctx.db.sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.idempotency_key.like(f"cad:%:order{oid}"))
            )
            or 0
        )


def payments_of(ctx: AppContext, oid: int) -> list[Payment]:
    with ctx.db.sessions() as s:
        return list(s.scalars(select(Payment).where(Payment.order_id == oid)))


def to_gateway(ctx: AppContext, oid: int, provider: str = "jazzcash") -> str:
    """Press "Pay": the signed form goes to the stand-in's hosted page, which accepts it."""
    with ctx.db.transaction() as s:
        started = start_gateway_payment(
            s, oid, configured(ctx.settings)[provider], RETURN, Actor("c")
        )
    page = httpx.post(started.form.url, data=started.form.fields)
    assert page.status_code == 200, page.text
    return started.txn_ref


def callback(ctx: AppContext, fields: dict[str, str]) -> Applied:
    answer = configured(ctx.settings)["jazzcash"].read_callback(fields)
    assert not isinstance(answer, type(None))
    with ctx.db.transaction() as s:
        return apply_answer(s, "jazzcash", answer, Actor.system("jazzcash-return"))  # type: ignore[arg-type]


def txn(ctx: AppContext, ref: str) -> GatewayTransaction:
    with ctx.db.sessions() as s:
        row = s.scalar(select(GatewayTransaction).where(GatewayTransaction.txn_ref == ref))
        assert row is not None
        return row


def test_secure_hash_is_hmac_sha256_of_the_salt_and_sorted_values() -> None:
    fields = {"pp_b": "2", "pp_a": "1", "pp_Empty": "", "other": "x", "pp_SecureHash": "zz"}
    import hashlib
    import hmac

    want = hmac.new(b"salt", b"salt&1&2", hashlib.sha256).hexdigest().upper()
    assert secure_hash(fields, "salt") == want


def test_a_gateway_is_offered_only_with_credentials(pctx: AppContext, tmp_path: Path) -> None:
    bare = make_settings(tmp_path, pctx.settings.database_url)
    with pctx.db.sessions() as s:
        assert {o.method for o in offered_methods(s, pctx.settings, 1)} >= {"jazzcash", "easypaisa"}
        assert {o.method for o in offered_methods(s, bare, 1)}.isdisjoint({"jazzcash", "easypaisa"})


def test_a_paid_callback_releases_the_order_to_production(
    pctx: AppContext, standin: GatewayStandIn
) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    with pctx.db.sessions() as s:
        assert not may_produce(s, oid)
        total = account(s, oid).bill.total
    assert cad_requested(pctx, oid) == 0  # the gate: no CAD until paid
    ref = to_gateway(pctx, oid)
    assert standin.txns[ref].amount_paisa == int(total * 100)  # amounts in paisa
    done = callback(pctx, standin.answer(ref))
    assert (done.state, done.changed) == (GatewayState.PAID, True)
    assert [p.amount for p in payments_of(pctx, oid)] == [total]
    with pctx.db.sessions() as s:
        assert may_produce(s, oid) and account(s, oid).balance == 0
    assert cad_requested(pctx, oid) == 1


def test_cash_on_delivery_a_deposit_and_a_trusted_account(pctx: AppContext) -> None:
    cod = order_paying_by(pctx, "cash_on_delivery")
    assert cad_requested(pctx, cod) == 1  # pays later: production at once
    trusted = order_paying_by(pctx, "bank_transfer", trusted=True)
    assert cad_requested(pctx, trusted) == 1
    rules = replace(payment_rules(), upfront_percent={"bank_transfer": 30})
    deposit = order_paying_by(pctx, "bank_transfer", rules)
    assert cad_requested(pctx, deposit) == 0
    with pctx.db.sessions() as s:
        total = account(s, deposit).bill.total
    part = (total * Decimal("0.29")).quantize(Decimal("0.01"))
    for amount, released in ((part, False), (total * Decimal("0.3") - part, True)):
        with pctx.db.transaction() as s:
            record_payment(
                s,
                deposit,
                method="bank_transfer",
                amount=amount.quantize(Decimal("0.01")),
                reference="MEZN-1",
                idempotency_key=uuid.uuid4().hex,
                actor=Actor("clerk"),
            )
        with pctx.db.sessions() as s:
            assert may_produce(s, deposit) is released
    assert cad_requested(pctx, deposit) == 1


def test_a_forged_signature_is_refused_and_changes_nothing(
    pctx: AppContext, standin: GatewayStandIn
) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    ref = to_gateway(pctx, oid)
    good = standin.answer(ref)
    provider = configured(pctx.settings)["jazzcash"]
    tampered = good | {"pp_Amount": "100"}  # a cheaper amount, the old signature
    wrong_key = good | {"pp_SecureHash": secure_hash(good, "not-the-" + SALT)}
    unsigned = {k: v for k, v in good.items() if k != "pp_SecureHash"}
    for forged in (tampered, wrong_key, unsigned):
        with pytest.raises(BadSignature):
            provider.read_callback(forged)
    assert payments_of(pctx, oid) == [] and txn(pctx, ref).state == GatewayState.PENDING


def test_a_replayed_callback_is_applied_once(pctx: AppContext, standin: GatewayStandIn) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    ref = to_gateway(pctx, oid)
    fields = standin.answer(ref)
    results = at_once(N, lambda: callback(pctx, fields))
    assert all(isinstance(r, Applied) for r in results), results
    assert sum(r.changed for r in results) == 1
    assert {r.state for r in results} == {GatewayState.PAID}
    assert len(payments_of(pctx, oid)) == 1
    again = callback(pctx, fields)  # and once more, later
    assert (again.changed, len(payments_of(pctx, oid))) == (False, 1)


def test_a_wrong_amount_is_refused_and_recorded_never_paid(
    pctx: AppContext, standin: GatewayStandIn
) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    ref = to_gateway(pctx, oid)
    short = standin.txns[ref].amount_paisa - 100
    done = callback(pctx, standin.answer(ref, paid_paisa=short))
    assert (done.state, done.changed) == (GatewayState.REFUSED, True)
    assert payments_of(pctx, oid) == []
    assert "not counted" in (txn(pctx, ref).message or "")
    with pctx.db.sessions() as s:
        assert not may_produce(s, oid)
        refused = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.entity_type == "gateway_transaction", Event.to_state == "refused")
        )
    assert refused == 1
    assert cad_requested(pctx, oid) == 0


def test_a_late_callback_after_the_inquiry_is_applied_once(
    pctx: AppContext, standin: GatewayStandIn
) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    ref = to_gateway(pctx, oid)
    fields = standin.answer(ref)  # the gateway took the money; its callback is delayed
    early = reconcile(pctx)  # too soon to ask: nothing is asked
    assert (early.asked, ref in standin.inquiries) == (0, False)
    later = datetime.now(UTC) + timedelta(minutes=payment_rules().inquire_after_minutes + 1)
    done = reconcile(pctx, now=later)
    assert ref in standin.inquiries and [a.txn_ref for a in done.settled] == [ref]
    assert txn(pctx, ref).state == GatewayState.PAID and len(payments_of(pctx, oid)) == 1
    late = callback(pctx, fields)  # now the callback arrives
    assert (late.state, late.changed) == (GatewayState.PAID, False)
    assert len(payments_of(pctx, oid)) == 1 and cad_requested(pctx, oid) == 1
    assert reconcile(pctx, now=later + timedelta(hours=1)).asked == 0  # settled: never asked


def test_a_silent_decline_is_reconciled_as_failed_and_paying_again_is_possible(
    pctx: AppContext, standin: GatewayStandIn
) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    ref = to_gateway(pctx, oid)
    standin.settle_silently(ref, ok=False)
    reconcile(pctx, now=datetime.now(UTC) + timedelta(hours=1))
    assert txn(pctx, ref).state == GatewayState.FAILED
    second = to_gateway(pctx, oid)
    assert second != ref and payments_of(pctx, oid) == []
    late = callback(pctx, standin.answer(ref))  # JazzCash took that money after all: not lost
    assert (late.state, late.changed, len(payments_of(pctx, oid))) == (GatewayState.PAID, True, 1)
    assert callback(pctx, standin.answer(ref)).changed is False


def test_a_double_click_on_pay_starts_one_transaction(
    pctx: AppContext, standin: GatewayStandIn
) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    refs = at_once(N, lambda: to_gateway(pctx, oid))
    assert all(isinstance(r, str) for r in refs), refs
    assert len(set(refs)) == 1
    with pctx.db.sessions() as s:
        rows = s.scalar(
            select(func.count())
            .select_from(GatewayTransaction)
            .where(GatewayTransaction.order_id == oid)
        )
    assert rows == 1
    callback(pctx, standin.answer(refs[0]))
    with pytest.raises(DomainError, match="paid in full"):  # nothing left to pay
        to_gateway(pctx, oid)


def test_another_gateway_is_refused_while_one_is_open(pctx: AppContext) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    to_gateway(pctx, oid)
    with pytest.raises(DomainError, match="still open"):
        to_gateway(pctx, oid, "easypaisa")


def test_easypaisa_answers_are_believed_only_from_the_inquiry(
    pctx: AppContext, standin: GatewayStandIn
) -> None:
    oid = order_paying_by(pctx, "easypaisa")
    ref = to_gateway(pctx, oid, "easypaisa")  # the stand-in decrypted merchantHashedReq
    provider = configured(pctx.settings)["easypaisa"]
    step = provider.read_callback({"auth_token": "tok", "postBackURL": RETURN})
    assert not hasattr(step, "verified") and "Confirm.jsf" in getattr(step, "url", "")
    final = provider.read_callback(standin.easypaisa_final(ref))
    assert not isinstance(final, type(step)) and final.verified is False  # type: ignore[union-attr]
    with pctx.db.transaction() as s, pytest.raises(DomainError, match="unverified"):
        apply_answer(s, "easypaisa", final, Actor.system("t"))  # type: ignore[arg-type]
    answer = provider.inquire(ref)
    with pctx.db.transaction() as s:
        done = apply_answer(s, "easypaisa", answer, Actor.system("t"), inquiry=True)
    assert done.state == GatewayState.PAID and len(payments_of(pctx, oid)) == 1


def test_hunar_payments_reconcile_settles_a_lost_callback(
    pctx: AppContext, standin: GatewayStandIn, tmp_path: Path
) -> None:
    oid = order_paying_by(pctx, "jazzcash")
    ref = to_gateway(pctx, oid)
    standin.settle_silently(ref)  # paid at JazzCash; the callback is lost
    with pctx.db.transaction() as s:  # the payment was started an hour ago
        row = s.scalars(select(GatewayTransaction).where(GatewayTransaction.txn_ref == ref)).one()
        row.created_at = datetime.now(UTC) - timedelta(hours=1)
    env = {**os.environ, "HUNAR_DATABASE_URL": pctx.settings.database_url}
    env |= {f"HUNAR_{k.upper()}": str(v) for k, v in standin.settings().items()}
    run = [sys.executable, "-m", "orders.cli", "payments", "reconcile"]
    out = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"jazzcash {ref} (order {oid}): paid" in out.stdout and "settled: 1" in out.stdout
    assert len(payments_of(pctx, oid)) == 1 and cad_requested(pctx, oid) == 1


def test_the_payments_table_refuses_unknown_methods_and_percents_over_100() -> None:
    good = {
        "methods": ["cash_on_delivery", "jazzcash"],
        "upfront_percent": {"jazzcash": 100, "cash_on_delivery": 0},
        "account_title": "Hunar",
        "inquire_after_minutes": 10,
    }
    assert parse_payments(good).upfront("bank_transfer") == 100  # unlisted: paid in full
    for bad in (
        good | {"methods": ["bitcoin"]},
        good | {"upfront_percent": {"jazzcash": 150}},
        {k: v for k, v in good.items() if k != "account_title"},
    ):
        with pytest.raises(ShopDataError):
            parse_payments(bad)


def test_the_dispatcher_loop_reconciles_too(pctx: AppContext, standin: GatewayStandIn) -> None:
    from orders.cli import _reconcile_payments

    oid = order_paying_by(pctx, "jazzcash")
    ref = to_gateway(pctx, oid)
    standin.settle_silently(ref)
    _reconcile_payments(pctx)  # too soon: not asked
    assert ref not in standin.inquiries and payments_of(pctx, oid) == []
    with pctx.db.transaction() as s:
        row = s.scalars(select(GatewayTransaction).where(GatewayTransaction.txn_ref == ref)).one()
        row.created_at = datetime.now(UTC) - timedelta(hours=1)
    _reconcile_payments(pctx)
    assert txn(pctx, ref).state == GatewayState.PAID and len(payments_of(pctx, oid)) == 1
