"""The end of the lifecycle: ship a completed order, mark it delivered, or cancel it.

Each command locks the order row first (`FOR UPDATE` on PostgreSQL; SQLite write transactions
hold the write lock from their start), then re-reads its state: of a cancel racing a ship, or
two cancels, one takes effect and the other sees the result. Every status change goes through
`audit.transition`, so each one is an event with its actor and time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.job_order_ids import parse_job_order
from orders.commands.audit import Actor, transition
from orders.commands.notify import order_cancelled, order_delivered, order_shipped
from orders.commands.payments import credit_note_needed, issue_invoice
from orders.commands.planning import create_proposal
from orders.errors import DomainError, IllegalTransition, NotFound
from orders.lifecycle import CANCELLABLE, STAFF_CANCELLABLE, Status
from orders.models import (
    Assignment,
    Operation,
    OperationStatus,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    Schedule,
    ScheduleState,
)
from orders.models.orders import Shipment
from orders.queries.delivery_note import note_for, render_note_pdf

NOT_STARTED = (OperationStatus.PENDING, OperationStatus.SCHEDULED, OperationStatus.RELEASED)
PLANNED = (OperationStatus.SCHEDULED, OperationStatus.RELEASED)
TRACKING = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]{2,63}")
REPLAN = (
    "due_dates",
    10.0,
    14,
)  # objective, time limit (s), horizon (days): the console's defaults


class OrderConflict(IllegalTransition):
    """The order is not (or no longer) in a state for this: often someone else just acted."""

    def __init__(self, order: Order, target: Status, message: str) -> None:
        super().__init__("order", Status(order.status).value, target.value)
        self.message = message
        self.args = (message,)
        self.fields = {"order": message}


class CancelRefused(DomainError):
    """A customer asked to cancel after the work went to the shop floor."""

    code = "cancel_not_allowed"


@dataclass(frozen=True)
class Cancelled:
    order_id: int
    changed: bool  # False: it was already cancelled (a double click or a concurrent cancel)
    operations_withdrawn: int = 0
    messages_withdrawn: int = 0
    proposal_id: int | None = None
    credit_note_for: str | None = None  # the invoice a credit note must cancel, if it was issued


def _text(field: str, value: str | None, limit: int, what: str) -> str:
    """A required single-line text field, trimmed; a DomainError naming the field otherwise."""
    clean = " ".join((value or "").split())
    if not clean:
        raise DomainError(f"{field.replace('_', ' ')} is required", fields={field: what})
    if len(clean) > limit or any(not ch.isprintable() for ch in clean):
        raise DomainError(
            f"{field.replace('_', ' ')} must be at most {limit} printable characters",
            fields={field: what},
        )
    return clean


def check_shipping(carrier: str | None, tracking: str | None) -> tuple[str, str]:
    """(carrier, tracking number) as stored, or a DomainError naming the bad field."""
    name = _text("carrier", carrier, 64, "the carrier's name, e.g. TCS")
    number = _text("tracking_number", tracking, 64, "3-64 letters, digits, spaces or . / _ -")
    if not TRACKING.fullmatch(number):
        raise DomainError(
            "tracking number must be 3-64 letters, digits, spaces or . / _ -",
            fields={"tracking_number": "3-64 letters, digits, spaces or . / _ -"},
        )
    return name, number


def _locked(session: Session, order_id: int, customer_id: int | None = None) -> Order:
    """The order row, locked and re-read; someone else's order is simply not found."""
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"order {order_id} not found", fields={"order": "no such order"})
    session.refresh(order, ["lines"])
    return order


def _live(order: Order) -> list[OrderLine]:
    return [ln for ln in order.lines if ln.status != Status.CANCELLED]


def ship_order(
    session: Session,
    order_id: int,
    carrier: str | None,
    tracking: str | None,
    actor: Actor,
    now: datetime | None = None,
) -> Shipment:
    """Ship a completed order: its lines and the order become shipped, the delivery note (PDF)
    is stored with the carrier and tracking number, and the tax invoice is issued (at supply;
    kept if staff issued it earlier), all in the caller's transaction."""
    carrier, tracking = check_shipping(carrier, tracking)
    order = _locked(session, order_id)
    now = now or datetime.now(UTC)
    if order.status != Status.COMPLETED:
        done = order.status in (Status.SHIPPED, Status.DELIVERED)
        raise OrderConflict(
            order,
            Status.SHIPPED,
            f"order {order.id} is already {order.status.value}"
            if done
            else f"order {order.id} is {order.status.value}; only a completed order ships",
        )
    lines = _live(order)
    waiting = [ln.id for ln in lines if ln.status != Status.COMPLETED]
    if waiting:
        raise OrderConflict(
            order, Status.SHIPPED, f"order {order.id}: lines {waiting} are not completed yet"
        )
    pdf = render_note_pdf(note_for(session, order, carrier, tracking, now))
    shipment = Shipment(
        order_id=order.id,
        carrier=carrier,
        tracking_number=tracking,
        shipped_at=now,
        shipped_by_id=actor.user_id,
        note_pdf=pdf,
        note_sha256=hashlib.sha256(pdf).hexdigest(),
    )
    session.add(shipment)
    session.flush()  # the unique order key: a second shipment of one order cannot exist
    body = {"carrier": carrier, "tracking_number": tracking, "shipment_id": shipment.id}
    for ln in lines:
        transition(session, ln, Status.SHIPPED, actor, payload=body)
    transition(session, order, Status.SHIPPED, actor, payload=body)
    issue_invoice(session, order.id, actor, now)
    order_shipped(session, order, shipment)
    return shipment


def deliver_order(
    session: Session, order_id: int, actor: Actor, now: datetime | None = None
) -> Shipment:
    """The carrier handed the parcel over: the shipped order and its lines become delivered."""
    order = _locked(session, order_id)
    if order.status != Status.SHIPPED:
        raise OrderConflict(
            order,
            Status.DELIVERED,
            f"order {order.id} is already delivered"
            if order.status == Status.DELIVERED
            else f"order {order.id} is {order.status.value}; only a shipped order is delivered",
        )
    shipment = session.scalars(select(Shipment).where(Shipment.order_id == order.id)).one()
    shipment.delivered_at = now or datetime.now(UTC)
    body = {"shipment_id": shipment.id, "carrier": shipment.carrier}
    for ln in _live(order):
        if ln.status == Status.SHIPPED:
            transition(session, ln, Status.DELIVERED, actor, payload=body)
    transition(session, order, Status.DELIVERED, actor, payload=body)
    order_delivered(session, order, shipment)
    return shipment


def delivery_note(session: Session, order_id: int, customer_id: int | None = None) -> Shipment:
    """The stored shipment (with its note) of an order; with `customer_id`, only their own."""
    order = session.get(Order, order_id)
    shipment = session.scalars(select(Shipment).where(Shipment.order_id == order_id)).first()
    if (
        order is None
        or shipment is None
        or (customer_id is not None and order.customer_id != customer_id)
    ):
        raise NotFound(f"no delivery note for order {order_id}")
    return shipment


def cancel_order(
    session: Session,
    order_id: int,
    actor: Actor,
    reason: str | None,
    *,
    customer_id: int | None = None,
) -> Cancelled:
    """Cancel an order: by its customer (`customer_id`) until the work is released to the floor,
    by staff (a reason required) until it ships. Lines are cancelled, their operations that have
    not started leave the plan, their unsent job orders are withdrawn, and if the order had
    planned work a re-plan is proposed. Running work is left to the operator to finish or stop.
    An invoice issued before (an advance payment) stays; an event on it says a credit note is due."""
    by_customer = customer_id is not None
    if by_customer:
        why = " ".join((reason or "").split())[:500] or "cancelled by the customer"
    else:
        why = _text("reason", reason, 500, "why the order is cancelled")
    order = _locked(session, order_id, customer_id)
    if order.status == Status.CANCELLED:
        return Cancelled(order.id, changed=False)
    lines = _live(order)
    allowed = CANCELLABLE if by_customer else STAFF_CANCELLABLE
    late = [ln for ln in lines if ln.status not in allowed]
    if order.status not in allowed or late:
        status = (late[0].status if late else order.status).value.replace("_", " ")
        if by_customer:
            raise CancelRefused(
                f"order {order.id} can no longer be cancelled online: customers may cancel until "
                f"the work is sent to the shop floor, and it is {status}; please contact us",
                fields={"order": "production has started"},
            )
        raise OrderConflict(
            order, Status.CANCELLED, f"order {order.id} is {status}; it can no longer be cancelled"
        )
    ops = list(
        session.scalars(
            select(Operation)
            .where(Operation.order_line_id.in_([ln.id for ln in lines]))
            .with_for_update()
        )
    )
    planned = any(op.status in PLANNED for op in ops) or _in_a_plan(session, ops)
    withdrawn = [op for op in ops if op.status in NOT_STARTED]
    for op in withdrawn:
        op.status = OperationStatus.CANCELLED
    session.flush()
    messages = _withdraw_messages(session, f"order {order.id} cancelled")
    body = {
        "by": "customer" if by_customer else "staff",
        "operations_withdrawn": len(withdrawn),
        "job_orders_withdrawn": messages,
    }
    for ln in lines:
        transition(session, ln, Status.CANCELLED, actor, reason=why)
    transition(session, order, Status.CANCELLED, actor, reason=why, payload=body)
    order_cancelled(session, order, why, by_customer)
    credit = credit_note_needed(session, order.id, why, actor)
    proposal = None
    if planned:
        objective, limit, horizon = REPLAN
        note = f"re-plan: order {order.id} cancelled"
        proposal = create_proposal(session, objective, limit, horizon, actor, note=note).id
    return Cancelled(order.id, True, len(withdrawn), messages, proposal, credit)


def _in_a_plan(session: Session, ops: list[Operation]) -> bool:
    """Whether any of these operations has a place in an approved or released plan."""
    if not ops:
        return False
    found = session.scalar(
        select(Assignment.id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(
            Assignment.operation_id.in_([op.id for op in ops]),
            Schedule.state.in_((ScheduleState.APPROVED, ScheduleState.RELEASED)),
        )
        .limit(1)
    )
    return found is not None


def _withdraw_messages(session: Session, reason: str) -> int:
    """Close every unsent job order (and start request) whose work is all cancelled: a plate
    goes out while any of its parts still belongs to a live order line."""
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "job_order", OutboxMessage.status == OutboxStatus.PENDING
        )
    ).all()
    closed = 0
    for row in rows:
        parsed = parse_job_order(row.idempotency_key.split(":")[1])
        if parsed is None:
            continue
        members = _members(session, *parsed)
        statuses = session.scalars(select(Operation.status).where(Operation.id.in_(members)))
        if all(s == OperationStatus.CANCELLED for s in statuses):
            row.status, row.last_error = OutboxStatus.DEAD, f"withdrawn: {reason}"
            closed += 1
    return closed


def _members(session: Session, op_id: int, version: int) -> set[int]:
    """The operations a job order carries: its own, or every part of its plate."""
    a = session.scalar(
        select(Assignment)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(Schedule.version == version, Assignment.operation_id == op_id)
    )
    if a is None or not a.plate_key:
        return {op_id}
    return set(
        session.scalars(
            select(Assignment.operation_id).where(
                Assignment.schedule_id == a.schedule_id, Assignment.plate_key == a.plate_key
            )
        )
    )
