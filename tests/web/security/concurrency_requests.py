"""Requests and counters for the concurrency sweep (`concurrency_cases.py` holds the table).

Each builder makes a valid request against the seeded world (and its preconditions: a fresh
order, user or proposal of its own, so cases do not disturb one another); each counter counts
one kind of effect before and after the N requests. Values a later case needs (the approved
proposal, the shipped order) are left in the world app's config under SWEEP_*.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from security_helpers import Client, World
from sqlalchemy import func, select

from mes_bridge.transports.webhook import signed_headers
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.commands.password_reset import request_reset
from orders.commands.planning import request_plan
from orders.lifecycle import Status
from orders.models import (
    ApiToken,
    CalendarWindow,
    Event,
    JobRecord,
    Operation,
    Order,
    OrderLine,
    OutboxMessage,
    PasswordReset,
    Payment,
    ProductConfiguration,
    Quote,
    Role,
    Schedule,
    StockItem,
    StockMove,
    User,
)
from orders.queries.artifacts import dedupe_key

Effect = Callable[[World, "Request"], int]


@dataclass
class Request:
    """One request as the browser or script sends it; `subject` is what the effect counts."""

    who: Client
    url: str
    form: dict[str, Any] | None = None  # the CSRF token is added
    json: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    subject: Any = None
    method: str = "POST"


def count(w: World, query: Any) -> int:
    with w.ctx.db.sessions() as s:
        return int(s.scalar(query) or 0)


def events(entity: str, to_state: str | None = None) -> Effect:
    """Audit events of `entity` about the request's subject (optionally of one kind)."""

    def effect(w: World, r: Request) -> int:
        where = [Event.entity_type == entity, Event.entity_id == str(r.subject)]
        if to_state is not None:
            where.append(Event.to_state == to_state)
        return count(w, select(func.count()).select_from(Event).where(*where))

    return effect


def fresh_user(w: World, role: Role = Role.OPERATOR, station: str | None = "qc-01") -> int:
    return w.add_user(f"sweep-{uuid.uuid4().hex[:6]}", role, station)


def fresh_order(w: World, customer: str = "customer") -> int:
    """A placed order of the world's customer (design A, already built)."""
    uid = w.users[customer][1]
    with w.ctx.db.transaction() as s:
        line = LineRequest(w.config_a, 1, "standard")
        actor = Actor(customer, uid)
        return place_order(s, uid, [line], uuid.uuid4().hex, actor, "PKR").order.id


def completed_order(w: World) -> int:
    """A fresh order moved straight to completed (the shipping desk's starting point)."""
    oid = fresh_order(w)
    with w.ctx.db.transaction() as s:
        order = s.get_one(Order, oid)
        for line in order.lines:
            line.status = Status.COMPLETED
        order.status = Status.COMPLETED
    return oid


def design(seed: int) -> dict[str, Any]:
    """A design nobody saved yet (each engine's world starts empty, so seeds may repeat)."""
    return {"inner_length": 60 + seed, "inner_width": 40, "inner_height": 25, "wall": 2.0}


def quotes_of(w: World, r: Request) -> int:
    uid = r.who.user_id
    return count(w, select(func.count()).select_from(Quote).where(Quote.customer_id == uid))


def wait_for_build(w: World, r: Request) -> None:
    """The preview build runs in a thread: poll until it has finished (or failed)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = r.who.client.get(r.url).json["state"]
        if state not in ("queued", "started", "running", "none"):
            return
        time.sleep(0.5)
    raise AssertionError("the preview build did not finish in 180 s")


def build_jobs(w: World, r: Request) -> int:
    with w.ctx.db.sessions() as s:
        key = dedupe_key(s.get_one(ProductConfiguration, r.subject).config_hash)
    return count(w, select(func.count()).select_from(JobRecord).where(JobRecord.dedupe_key == key))


def signup(w: World) -> Request:
    email = f"dup-{uuid.uuid4().hex[:8]}@example.com"
    form = {"email": email, "name": "Dup", "password": "correct horse battery"}
    return Request(w.login("anonymous"), "/signup", form, subject=email)


def users_with_email(w: World, r: Request) -> int:
    return count(w, select(func.count()).select_from(User).where(User.email == r.subject))


def session_version(w: World, r: Request) -> int:
    return count(w, select(User.session_version).where(User.id == r.subject))


def _own_user(w: World, role: Role = Role.CUSTOMER) -> Client:
    key = f"own-{uuid.uuid4().hex[:6]}"
    w.add_user(key, role, None)
    return w.login(key)


def logout(w: World) -> Request:
    who = _own_user(w)
    return Request(who, "/logout", {}, subject=who.user_id)


def change_password(w: World) -> Request:
    who = _own_user(w)
    form = {
        "current_password": "correct horse battery",
        "password": "another long passphrase",
        "password_again": "another long passphrase",
    }
    return Request(who, "/account/password", form, subject=who.user_id)


def token(w: World) -> Request:
    who = _own_user(w)
    return Request(who, "/account", {"name": "my ERP"}, subject=who.user_id)


def tokens_of(w: World, r: Request) -> int:
    return count(w, select(func.count()).select_from(ApiToken).where(ApiToken.user_id == r.subject))


def configure_add(w: World) -> Request:
    form = {**{k: str(v) for k, v in design(1).items()}, "quantity": "1", "action": "add"}
    return Request(w.shared("customer"), "/shop/enclosure", form)


def checkout(w: World) -> Request:
    who = w.login("customer")  # a session of its own: the cart is in its cookie
    form = {**{k: str(v) for k, v in design(1).items()}, "quantity": "2", "action": "add"}
    assert who.form("/shop/enclosure", form).status_code == 302
    key = uuid.uuid4().hex
    return Request(who, "/checkout", {"idempotency_key": key}, subject=key)


def orders_with_key(w: World, r: Request) -> int:
    query = select(func.count()).select_from(Order).where(Order.idempotency_key == r.subject)
    return count(w, query)


def cancel_own(w: World) -> Request:
    oid = fresh_order(w)
    return Request(w.shared("customer"), f"/orders/{oid}/cancel", {"reason": "x"}, subject=oid)


def amend_own(w: World) -> Request:
    """The same change of quantity, sent N times (the line is placed, before CAD)."""
    oid = fresh_order(w)
    lid = count(w, select(func.min(OrderLine.id)).where(OrderLine.order_id == oid))
    form = {"line_id": str(lid), "quantity": "3", "tier": "standard"}
    return Request(w.shared("customer"), f"/orders/{oid}/amend", form, subject=lid)


def forgot(w: World) -> Request:
    """One "forgot password" form (its one-off key) for an account of its own."""
    uid = w.add_user(f"forgot-{uuid.uuid4().hex[:6]}", Role.CUSTOMER)
    email = next(e for e, u in w.users.values() if u == uid)
    form = {"email": email, "request_key": uuid.uuid4().hex}
    return Request(w.login("anonymous"), "/forgot", form, subject=uid)


def reset_links(w: World, r: Request) -> int:
    query = select(func.count()).select_from(PasswordReset)
    return count(w, query.where(PasswordReset.user_id == r.subject))


def reset_link(w: World) -> Request:
    """The link of a reset e-mail (read from the outbox, as the mail carries it) used N times."""
    uid = w.add_user(f"reset-{uuid.uuid4().hex[:6]}", Role.CUSTOMER)
    email = next(e for e, u in w.users.values() if u == uid)
    with w.ctx.db.transaction() as s:
        assert request_reset(s, email, uuid.uuid4().hex)
        keys = select(OutboxMessage).where(OutboxMessage.idempotency_key.like("mail:reset%"))
        msg = s.scalars(keys.where(OutboxMessage.destination == email)).one()
        path = str(msg.payload["link"]["path"])
    form = {"password": "a new long passphrase", "password_again": "a new long passphrase"}
    return Request(w.login("anonymous"), path, form, subject=uid)


def api_save(w: World) -> Request:
    body = {"family": "enclosure", "params": design(2)}
    return Request(w.shared("customer"), "/api/configurations", json=body)


def api_order(w: World) -> Request:
    key = uuid.uuid4().hex
    body = {"lines": [{"configuration_id": w.config_a, "quantity": 1}], "idempotency_key": key}
    return Request(w.shared("customer"), "/api/orders", json=body, subject=key)


def preview(w: World) -> Request:
    who = w.shared("customer")
    resp = who.api("POST", "/api/configurations", {"family": "enclosure", "params": design(3)})
    cid = int(resp.json["id"])
    return Request(who, f"/api/configurations/{cid}/preview", json={}, subject=cid)


def floor_event(w: World) -> Request:
    """A progress report on the job the operator started (`operator.press` runs first)."""
    event_id = uuid.uuid4().hex
    doc = {
        "job_order_id": w.job,
        "kind": "progress",
        "progress_pct": 40,
        "at": datetime.now(UTC).isoformat(),
        "event_id": event_id,
    }
    body = json.dumps(doc).encode()
    headers = signed_headers(b"sweep-secret", body, datetime.now(UTC))
    headers["Content-Type"] = "application/json"
    return Request(
        w.login("anonymous"), "/api/floor/events", raw=body, headers=headers, subject=event_id
    )


def press(w: World) -> Request:
    event_id = uuid.uuid4().hex
    url = f"/operator/job/{w.job}/start"
    return Request(w.shared("operator"), url, {"event_id": event_id}, subject=event_id)


def bed_clear(w: World) -> Request:
    form = {"check": ["bed clear", "qc passed"]}
    return Request(
        w.shared("operator"), f"/operator/station/{w.machine}/bed-clear", form, subject=w.machine
    )


def _on_station(s: Any, w: World) -> tuple[Any, list[Any]]:
    """The released plan's assignment of the started job, and the other jobs on its printer."""
    from mes_bridge.job_order_ids import operation_of
    from orders.queries.plans import current_release

    plan = current_release(s)
    mine = next(a for a in plan.assignments if a.operation_id == operation_of(w.job))
    others = [a for a in plan.assignments if a.operation_id != mine.operation_id]
    return mine, others


def fail_object(w: World) -> Request:
    """One part of the started job's plate failed (made a plate of two lines if it was not)."""
    from mes_bridge.job_order_ids import job_order_id
    from orders.models import Assignment, OperationStatus
    from orders.queries.plans import current_release

    with w.ctx.db.transaction() as s:
        mine, others = _on_station(s, w)
        if mine.plate_key:
            members = [a for a in others if a.plate_key == mine.plate_key]
        else:
            prints = [a for a in others if s.get_one(Operation, a.operation_id).process == "fdm"]
            other = next(a.operation_id for a in prints if a.plate_key is None)
            members = [a for a in others if a.operation_id == other]
            rows = s.scalars(
                select(Assignment).where(
                    Assignment.schedule_id == mine.schedule_id,
                    Assignment.operation_id.in_([mine.operation_id, other]),
                )
            )
            for a in rows:  # every row of each op (a long print may be split)
                a.plate_key, a.machine_id = f"sweep-{mine.operation_id}", mine.machine_id
            s.get_one(Operation, other).status = OperationStatus.RUNNING
        op = s.get_one(Operation, members[0].operation_id)
        member = job_order_id(op.id, current_release(s).version)
        line = op.order_line_id
    form = {"event_id": uuid.uuid4().hex, "member": member, "reason": "sweep"}
    return Request(w.shared("operator"), f"/operator/job/{w.job}/fail-object", form, subject=line)


def remakes_of(w: World, r: Request) -> int:
    where = OrderLine.parent_line_id == r.subject
    return count(w, select(func.count()).select_from(OrderLine).where(where))


def plate_clear(w: World) -> Request:
    """A scan of the traveler's QR confirms the plate clear after a print finished on it."""
    from orders.models import OperationStatus

    with w.ctx.db.transaction() as s:
        mine, others = _on_station(s, w)
        done = next(
            s.get_one(Operation, a.operation_id)
            for a in others
            if a.machine_id == mine.machine_id
            and s.get_one(Operation, a.operation_id).process == "fdm"
        )
        done.status, done.ended_at = OperationStatus.DONE, datetime.now(UTC)  # it just ended
    form = {"check": ["bed clear", "qc passed"]}
    url = f"/operator/job/{w.job}/plate-clear"
    return Request(w.shared("operator"), url, form, subject=w.machine)


def machine_down(w: World) -> Request:
    event_id = uuid.uuid4().hex
    form = {"event_id": event_id, "reason": "sweep"}
    url = f"/planner/machines/{w.other_machine}/down"
    return Request(w.shared("planner"), url, form, subject=event_id)


def maintenance(w: World) -> Request:
    form = {"start": "2031-05-06T10:00", "end": "2031-05-06T12:00", "note": "sweep"}
    return Request(w.shared("planner"), "/planner/machines/cnc-01/maintenance", form)


def windows(w: World, r: Request) -> int:
    where = CalendarWindow.machine_id == "cnc-01"
    return count(w, select(func.count()).select_from(CalendarWindow).where(where))


def pin(w: World) -> Request:
    with w.ctx.db.sessions() as s:
        op = s.scalars(select(Operation).where(Operation.status == "released").limit(1)).one()
        form = {"operation_id": str(op.id), "machine_id": sorted(op.eligible)[0]}
    form["start"] = "2031-05-07T08:00"
    return Request(w.shared("planner"), "/planner/pin", form, subject=op.id)


def propose(w: World) -> Request:
    form = {"objective": "due_dates", "time_limit_s": "1", "horizon_days": "14"}
    form["request_key"] = uuid.uuid4().hex  # the form's key (web: `form_key()`)
    return Request(w.shared("planner"), "/planner/propose", form)


def schedules(w: World, r: Request) -> int:
    return count(w, select(func.count()).select_from(Schedule))


def _proposal(w: World) -> int:
    """A solved proposal to approve and release: 10 s, since a 1 s solve on a loaded 2-core
    machine sometimes ends without a plan, and a plan that failed is rightly not approvable."""
    sid = request_plan(w.ctx, "due_dates", 10, 14, Actor("sweep"))
    with w.ctx.db.sessions() as s:
        row = s.get_one(Schedule, sid)
        assert row.solver_status in ("OPTIMAL", "FEASIBLE"), (row.solver_status, row.kpis)
    return sid


def approve(w: World) -> Request:
    sid = _proposal(w)
    w.floor.app.config["SWEEP_APPROVED"] = sid  # the release case releases this one
    return Request(w.shared("planner"), f"/planner/schedules/{sid}/approve", {}, subject=sid)


def release(w: World) -> Request:
    sid = w.floor.app.config["SWEEP_APPROVED"]
    return Request(w.shared("planner"), f"/planner/schedules/{sid}/release", {}, subject=sid)


def ship(w: World) -> Request:
    oid = completed_order(w)
    w.floor.app.config["SWEEP_SHIPPED"] = oid  # the deliver case delivers this one
    form = {"order_id": str(oid), "carrier": "TCS", "tracking_number": "TCS123456"}
    return Request(w.shared("planner"), "/planner/shipping/ship", form, subject=oid)


def deliver(w: World) -> Request:
    oid = w.floor.app.config["SWEEP_SHIPPED"]
    return Request(
        w.shared("planner"), "/planner/shipping/deliver", {"order_id": str(oid)}, subject=oid
    )


def staff_cancel(w: World) -> Request:
    oid = fresh_order(w)
    form = {"order_id": str(oid), "reason_kind": "duplicate", "reason": "sweep"}
    return Request(w.shared("planner"), "/planner/orders/cancel", form, subject=oid)


def pay(w: World) -> Request:
    oid = fresh_order(w)
    key = uuid.uuid4().hex
    form = {
        "order_id": str(oid),
        "method": "cash_on_delivery",
        "amount": "10",
        "idempotency_key": key,
    }
    return Request(w.shared("planner"), "/planner/payments/record", form, subject=key)


def payments_with_key(w: World, r: Request) -> int:
    where = Payment.idempotency_key == r.subject
    return count(w, select(func.count()).select_from(Payment).where(where))


def void(w: World) -> Request:
    pid = count(w, select(func.max(Payment.id)))
    form = {"payment_id": str(pid), "reason": "typed twice"}
    return Request(w.shared("planner"), "/planner/payments/void", form, subject=pid)


def _stock(w: World, path: str, **form: str) -> Request:
    return Request(w.shared("planner"), f"/planner/stock/{path}", form)


def receive(w: World) -> Request:
    key = uuid.uuid4().hex
    r = _stock(
        w,
        "receive",
        kind="spool",
        material="pla",
        colour="black",
        grams="1000",
        count="1",
        location="rack",
        idempotency_key=key,
    )
    r.subject = key
    return r


def received(w: World, r: Request) -> int:
    where = StockMove.idempotency_key == f"{r.subject}#1"
    return count(w, select(func.count()).select_from(StockMove).where(where))


def _newest_item(w: World) -> str:
    return str(count(w, select(func.max(StockItem.id))))


def load(w: World) -> Request:
    r = _stock(w, "load", item_id=_newest_item(w), machine_id=w.other_machine)
    r.subject = (r.form or {})["item_id"]
    return r


def unload(w: World) -> Request:
    r = _stock(w, "unload", item_id=_newest_item(w), location="rack")
    r.subject = (r.form or {})["item_id"]
    return r


def adjust(w: World) -> Request:
    key = uuid.uuid4().hex
    r = _stock(w, "adjust", item_id=_newest_item(w), measured_g="900", idempotency_key=key)
    r.subject = (r.form or {})["item_id"]
    return r


def add_user(w: World) -> Request:
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    form = {"email": email, "role": "operator", "display_name": "Dup Staff", "stations": "qc-01"}
    return Request(w.shared("admin"), "/admin/users", form, subject=email)


def admin_form(path: str, form: dict[str, Any]) -> Callable[[World], Request]:
    def build(w: World) -> Request:
        uid = fresh_user(w)
        return Request(w.shared("admin"), f"/admin/users/{uid}/{path}", form, subject=uid)

    return build
