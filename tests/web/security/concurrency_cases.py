"""The concurrency sweep's table: for every state-changing endpoint, who sends it and how
(a builder in `concurrency_requests.py`), how its one effect is counted, and which answers the
duplicates may get. Endpoints without a persistent effect are in EXEMPT with the reason.

Cases run in declaration order on one world per engine, so a case may use what an earlier one
left (`floor.events` reports progress on the job `operator.press` started; release releases
the proposal approve approved; deliver delivers what ship shipped; the stock cases share a spool).
A new state-changing route fails `test_every_state_changing_route_is_covered` until it is here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import concurrency_power as pw
import concurrency_requests as rq
from concurrency_requests import Effect, Request
from pydantic import SecretStr
from security_helpers import World
from sqlalchemy import func, select

import configurator
from orders.adapters.gateways import configured
from orders.adapters.gateways.jazzcash import secure_hash
from orders.commands.audit import Actor
from orders.commands.checkout_payment import Offer, PaymentChoice, start_gateway_payment
from orders.commands.ordering import LineRequest, place_order
from orders.models import (
    Event,
    Invoice,
    JobRecord,
    Payment,
    ProductConfiguration,
    Role,
    User,
)
from orders.models.payments import GatewayTransaction
from orders.queries.artifacts import dedupe_key

REDIRECT = frozenset({302, 303})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Endpoints whose POST leaves nothing behind to count (the reason is the rule).
EXEMPT: dict[str, str] = {
    "shop.login": "a sign-in: no effect but the per-account throttle row, which a right "
    "password resets (tests/web/test_web_integrity.py covers the throttle)",
    "shop.cart_remove": "the cart lives in the signed session cookie: no server state",
    "api.validate": "no persistent effect: a rate-limited validation",
    "api.quote": "no persistent effect: a rate-limited, cached price read",
    "api.promise": "no persistent effect: a rate-limited, cached date read",
}


@dataclass(frozen=True)
class Case:
    """`answers`: every status the N requests may get (the one that acts and the duplicates)."""

    rule: str
    build: Callable[[World], Request]
    effect: Effect
    answers: frozenset[int]
    settle: Callable[[World, Request], None] | None = None


ANON_DESIGN = rq.design(17)  # nobody else in the sweep uses this seed


def _fleet_cancel(w: World) -> Request:
    """A planner cancels a running print from the fleet board (a released print of the current
    plan, marked running); the subject is the job order the printer knows (a plate's lead)."""
    from mes_bridge.job_order_ids import job_order_id
    from orders.models import Operation, OperationStatus
    from orders.queries.plans import current_release

    with w.ctx.db.transaction() as s:
        plan = current_release(s)
        open_ = (OperationStatus.RELEASED, OperationStatus.RUNNING, OperationStatus.PAUSED)
        a = next(
            a
            for a in sorted(plan.assignments, key=lambda x: (x.plate_key is not None, x.start))
            if (op := s.get_one(Operation, a.operation_id)).process == "fdm"
            and op.status in open_
            and op.scrapped_qty < op.quantity
        )
        members = sorted(
            x.operation_id for x in plan.assignments if a.plate_key and x.plate_key == a.plate_key
        ) or [a.operation_id]
        for m in members:
            op = s.get_one(Operation, m)
            if op.status == OperationStatus.RELEASED:
                op.status = OperationStatus.RUNNING
        lead = job_order_id(members[0], plan.version)
        machine = a.machine_id
    form = {"job_order_id": lead, "reason": "sweep", "form_key": "fleet-cancel-1"}
    url = f"/planner/fleet/{machine}/cancel"
    return Request(w.shared("planner"), url, form, subject=lead)


def _anonymous_preview(w: World) -> Request:
    config = configurator.validate("enclosure", ANON_DESIGN).config
    assert config is not None
    body = {"family": "enclosure", "params": ANON_DESIGN}
    return Request(w.login("anonymous"), "/api/preview", json=body, subject=config.config_hash)


def _anonymous_effect(w: World, r: Request) -> int:
    """Rows for the hash times build jobs for it: 1 only when both are exactly one."""
    rows = rq.count(
        w,
        select(func.count())
        .select_from(ProductConfiguration)
        .where(ProductConfiguration.config_hash == r.subject),
    )
    jobs = rq.count(
        w,
        select(func.count())
        .select_from(JobRecord)
        .where(JobRecord.dedupe_key == dedupe_key(r.subject)),
    )
    return rows * jobs


def _wait_anonymous(w: World, r: Request) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = r.who.client.get(f"/api/preview/{r.subject}").json["state"]
        if state not in ("queued", "building"):
            return
        time.sleep(0.5)
    raise AssertionError("the anonymous preview build did not finish in 180 s")


def _issue_invoice(w: World) -> Request:
    """The payments desk's "Issue invoice" for a fresh order, pressed N times at once."""
    oid = rq.fresh_order(w)
    return Request(
        w.shared("planner"), "/planner/payments/invoice", {"order_id": str(oid)}, subject=oid
    )


def _invoices_issued(w: World, r: Request) -> int:
    """Issue events of the order's invoice numbers: 1 only for one number, issued once."""
    with w.ctx.db.sessions() as s:
        numbers = [
            str(n) for n in s.scalars(select(Invoice.number).where(Invoice.order_id == r.subject))
        ]
    issued = (Event.entity_type == "invoice", Event.to_state == "issued")
    return rq.count(
        w, select(func.count()).select_from(Event).where(*issued, Event.entity_id.in_(numbers))
    )


def _switch_language(w: World) -> Request:
    """A signed-in person's first language switch, to Urdu, pressed N times at once."""
    key = f"lang-{uuid.uuid4().hex[:6]}"
    w.add_user(key, Role.CUSTOMER)
    who = w.login(key)
    return Request(who, "/language", {"language": "ur"}, subject=who.user_id)


def _chose_urdu(w: World, r: Request) -> int:
    """1 once the person's saved language is Urdu (it was none before)."""
    return rq.count(
        w, select(func.count()).select_from(User).where(User.id == r.subject, User.language == "ur")
    )


GATEWAY_SALT = "sweep-salt"


def _jazzcash_order(w: World) -> int:
    """A fresh order of the world's customer paying by JazzCash. The world has no gateway
    account, so it gets a fake one: pressing "Pay" only signs a form (no call to JazzCash)."""
    w.ctx.settings.jazzcash_merchant_id = "MC-SWEEP"
    w.ctx.settings.jazzcash_password = SecretStr("sweep-pw")
    w.ctx.settings.jazzcash_integrity_salt = SecretStr(GATEWAY_SALT)
    uid = w.users["customer"][1]
    offers = (Offer("jazzcash", "JazzCash", 100),)
    with w.ctx.db.transaction() as s:
        line = LineRequest(w.config_a, 1, "standard")
        choice = PaymentChoice("jazzcash", offers)
        order = place_order(s, uid, [line], uuid.uuid4().hex, Actor("c", uid), "PKR", choice)
        return order.order.id


def _press_pay(w: World) -> Request:
    """A double click on "Pay" (eight at once): one gateway transaction."""
    oid = _jazzcash_order(w)
    return Request(w.shared("customer"), f"/orders/{oid}/pay", {}, subject=oid)


def _gateway_transactions(w: World, r: Request) -> int:
    query = select(func.count()).select_from(GatewayTransaction)
    return rq.count(w, query.where(GatewayTransaction.order_id == r.subject))


def _gateway_callback(w: World) -> Request:
    """JazzCash's signed "paid" answer, brought back eight times at once (no session)."""
    oid = _jazzcash_order(w)
    with w.ctx.db.transaction() as s:
        provider = configured(w.ctx.settings)["jazzcash"]
        started = start_gateway_payment(s, oid, provider, "http://localhost/", Actor("c"))
    fields = {
        "pp_MerchantID": "MC-SWEEP",
        "pp_TxnRefNo": started.txn_ref,
        "pp_Amount": started.form.fields["pp_Amount"],
        "pp_TxnCurrency": "PKR",
        "pp_ResponseCode": "000",
        "pp_ResponseMessage": "Thank you for Using JazzCash",
    }
    fields["pp_SecureHash"] = secure_hash(fields, GATEWAY_SALT)
    return Request(w.login("anonymous"), "/pay/jazzcash/return", fields, subject=oid)


def _gateway_payments(w: World, r: Request) -> int:
    return rq.count(
        w, select(func.count()).select_from(Payment).where(Payment.order_id == r.subject)
    )


CASES: dict[str, Case] = {
    "shop.signup": Case(
        "one account per e-mail; the rest 422",
        rq.signup,
        rq.users_with_email,
        frozenset({302, 422}),
    ),
    "i18n.choose_language": Case(
        "the saved language becomes Urdu once; every answer redirects back",
        _switch_language,
        _chose_urdu,
        frozenset({303}),
    ),
    "shop.logout": Case(
        "the session version moves once; every answer redirects",
        rq.logout,
        rq.session_version,
        REDIRECT,
    ),
    "shop.change_password": Case(
        "one password_set event; the rest 422 (current no longer right)",
        rq.change_password,
        rq.events("user", "password_set"),
        frozenset({302, 422}),
    ),
    "shop.account": Case(
        "one token per name; the rest 200, the page saying it exists",
        rq.token,
        rq.tokens_of,
        frozenset({200}),
    ),
    "shop.configure_submit": Case(
        "one design saved: one quote for the customer", rq.configure_add, rq.quotes_of, REDIRECT
    ),
    "shop.checkout": Case(
        "one order per idempotency key", rq.checkout, rq.orders_with_key, REDIRECT
    ),
    "shop.cancel": Case(
        "one cancelled transition", rq.cancel_own, rq.events("order", "cancelled"), REDIRECT
    ),
    "shop.amend": Case(
        "one amended event; the rest redirect (the line already has it)",
        rq.amend_own,
        rq.events("order_line", "amended"),
        REDIRECT,
    ),
    "shop.pay": Case(
        "one open gateway transaction per order; every click gets the same signed form",
        _press_pay,
        _gateway_transactions,
        frozenset({200}),
    ),
    "shop.gateway_return": Case(
        "one payment per gateway transaction reference; replays are told it was recorded",
        _gateway_callback,
        _gateway_payments,
        frozenset({200}),
    ),
    "shop.forgot_password": Case(
        "one reset link per form key; every answer the same page",
        rq.forgot,
        rq.reset_links,
        frozenset({200}),
    ),
    "shop.reset_password": Case(
        "one new password per link; the rest 410 (the link is used)",
        rq.reset_link,
        rq.events("user", "password_set_by_link"),
        frozenset({302, 410}),
    ),
    "api.save_configuration": Case(
        "one design saved: one quote for the customer", rq.api_save, rq.quotes_of, frozenset({201})
    ),
    "api.create_order": Case(
        "one order per key; 201 then 200", rq.api_order, rq.orders_with_key, frozenset({200, 201})
    ),
    "api.preview": Case(
        "one build job per design",
        rq.preview,
        rq.build_jobs,
        frozenset({200, 202}),
        rq.wait_for_build,
    ),
    "api.anonymous_preview": Case(
        "one design row and one build job per config hash, for visitors too",
        _anonymous_preview,
        _anonymous_effect,
        frozenset({202}),
        _wait_anonymous,
    ),
    "operator.press": Case(
        "one floor event per event id; the rest 'already done'",
        rq.press,
        rq.events("floor_event"),
        frozenset({303}),
    ),
    "floor.events": Case(
        "one floor event per event id; the rest 409 duplicate",
        rq.floor_event,
        rq.events("floor_event"),
        frozenset({200, 409}),
    ),
    "operator.bed_clear": Case(
        "one confirmation per print; the rest 303 already confirmed",
        rq.bed_clear,
        rq.events("bed_clear"),
        frozenset({303}),
    ),
    "operator.fail_object": Case(
        "one remake of the failed line per event id; the rest 303 already done",
        rq.fail_object,
        rq.remakes_of,
        frozenset({303}),
    ),
    "operator.plate_clear": Case(
        "one confirmation per finished print, from the traveler's QR; the rest 303",
        rq.plate_clear,
        rq.events("bed_clear"),
        frozenset({303}),
    ),
    "planner.machine_state": Case(
        "one floor event per event id", rq.machine_down, rq.events("floor_event"), REDIRECT
    ),
    "planner.add_maintenance": Case(
        "one window per (machine, start, end); the rest redirect",
        rq.maintenance,
        rq.windows,
        REDIRECT,
    ),
    "planner.add_outage": Case(
        "one outage per (feeder, start, end); the rest redirect",
        pw.outage,
        pw.outages_on(6),
        REDIRECT,
    ),
    "planner.import_outages": Case(
        "a calendar's events imported once (unique per feeder and uid); the rest redirect",
        pw.import_ics,
        pw.outages_on(8),
        REDIRECT,
    ),
    "planner.remove_outage": Case(
        "one removal; the rest 404 (it is gone)",
        pw.removal,
        rq.events("power_outage", "removed"),
        REDIRECT | {404},
    ),
    "planner.power_state": Case(
        "one floor event per event id, one open outage",
        pw.power_lost,
        rq.events("floor_event"),
        REDIRECT,
        settle=pw.power_restored,
    ),
    "planner.pin": Case(
        "one pinned event per pin in place; the rest redirect",
        rq.pin,
        rq.events("operation", "pinned"),
        REDIRECT,
    ),
    "planner.propose": Case(
        "one proposal per form key; the rest redirect to it", rq.propose, rq.schedules, REDIRECT
    ),
    "planner.approve_schedule": Case(
        "one approval; the rest redirect (already approved)",
        rq.approve,
        rq.events("schedule", "approved"),
        REDIRECT,
    ),
    "planner.release_schedule": Case(
        "one release; the rest redirect (the released plan back)",
        rq.release,
        rq.events("schedule", "released"),
        REDIRECT,
    ),
    "planner.ship": Case(
        "one shipment; the rest 409 already shipped",
        rq.ship,
        rq.events("order", "shipped"),
        frozenset({*REDIRECT, 409}),
    ),
    "planner.deliver": Case(
        "one delivery; the rest 409",
        rq.deliver,
        rq.events("order", "delivered"),
        frozenset({*REDIRECT, 409}),
    ),
    "planner.cancel": Case(
        "one cancelled transition", rq.staff_cancel, rq.events("order", "cancelled"), REDIRECT
    ),
    "planner.payment_record": Case(
        "one payment per idempotency key", rq.pay, rq.payments_with_key, REDIRECT
    ),
    "planner.payment_void": Case("one void event", rq.void, rq.events("payment", "void"), REDIRECT),
    "planner.payment_issue_invoice": Case(
        "one invoice number, issued once; the rest redirect (already issued)",
        _issue_invoice,
        _invoices_issued,
        REDIRECT,
    ),
    "planner.stock_receive": Case(
        "one item per idempotency key", rq.receive, rq.received, frozenset({303})
    ),
    "planner.stock_load": Case(
        "one load", rq.load, rq.events("stock_item", "loaded"), frozenset({303})
    ),
    "planner.stock_unload": Case(
        "one unload", rq.unload, rq.events("stock_item", "unloaded"), frozenset({303})
    ),
    "planner.stock_adjust": Case(
        "one weigh-in per key", rq.adjust, rq.events("stock_item", "adjusted"), frozenset({303})
    ),
    "admin.add_user": Case(
        "one account per e-mail; the rest 422",
        rq.add_user,
        rq.users_with_email,
        frozenset({201, 422}),
    ),
    "admin.set_role": Case(
        "one role change; the rest redirect (no change, no event)",
        rq.admin_form("role", {"role": "planner"}),
        rq.events("user", "role:planner"),
        REDIRECT,
    ),
    "admin.set_stations": Case(
        "one stations change; the rest redirect (no change, no event)",
        rq.admin_form("stations", {"stations": "pack-01"}),
        rq.events("user", "stations"),
        REDIRECT,
    ),
    "admin.set_active": Case(
        "one deactivation; the rest redirect (no change, no event)",
        rq.admin_form("active", {"active": "0"}),
        rq.events("user", "inactive"),
        REDIRECT,
    ),
    "admin.reset_password": Case(
        "one reset per form (its key); the rest 409 already reset",
        rq.admin_form("password", {"password": "a reset passphrase", "request_key": "k1"}),
        rq.events("user", "password_reset"),
        frozenset({200, 409}),
    ),
    "planner.fleet_cancel": Case(  # last: it ends a running print of the released plan
        "one cancel per running print (any form key); the rest 303 already cancelled",
        _fleet_cancel,
        rq.events("job_order", "print_cancelled"),
        frozenset({303}),
    ),
}
