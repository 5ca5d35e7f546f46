"""Web-facing tracking: a customer's orders, the per-line timeline and the live ETA.

Read-only queries; the timeline comes from the audit events, the ETA from the plan in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.errors import NotFound
from orders.lifecycle import CANCELLABLE, Status
from orders.models import (
    Artifact,
    Assignment,
    Event,
    Invoice,
    Operation,
    Order,
    OrderLine,
    ProductConfiguration,
    Schedule,
    ScheduleState,
)
from orders.queries.order_story import (
    StoryItem,
    amend_blocker,
    cancel_reason,
    explain_hold,
    headline,
    shipment_of,
    story,
)

# What the customer sees, in order (draft/quoted/released are internal detail).
TIMELINE: tuple[Status, ...] = (
    Status.PLACED,
    Status.CAD_READY,
    Status.SCHEDULED,
    Status.IN_PRODUCTION,
    Status.QC,
    Status.COMPLETED,
    Status.SHIPPED,
    Status.DELIVERED,
)
LABELS = {  # plain words: customers never see internal status names
    Status.PLACED: "Placed",
    Status.CAD_READY: "Design checked",
    Status.SCHEDULED: "Planned",
    Status.IN_PRODUCTION: "Being made",
    Status.QC: "Quality check",
    Status.COMPLETED: "Made and packed",
    Status.SHIPPED: "Shipped",
    Status.DELIVERED: "Delivered",
}
DOWNLOAD_KINDS = ("step", "stl")
_RANK = {s: i for i, s in enumerate(TIMELINE)}
_RANK[Status.RELEASED] = _RANK[Status.SCHEDULED]


@dataclass(frozen=True)
class Step:
    status: str
    label: str
    at: datetime | None
    reached: bool


@dataclass(frozen=True)
class LineTracking:
    line_id: int
    configuration_id: int
    family: str
    quantity: int
    tier: str
    unit_price: str
    status: str
    hold_reason: str | None
    promised_ship_date: date | None
    eta: datetime | None
    steps: list[Step]
    downloads: list[tuple[int, str]] = field(default_factory=list)  # (artifact id, kind)
    remake_of: int | None = None  # the line whose failed parts this line makes again
    hold_why: str | None = None  # a hold in plain words, and what the customer can do
    hold_todo: str | None = None
    amendable: bool = False  # quantity and lead time may still change (before CAD)
    needs_new_design: bool = False  # held for its design: only a new design cures it


@dataclass(frozen=True)
class OrderTracking:
    order_id: int
    status: str
    currency: str
    total: str
    created_at: datetime
    lines: list[LineTracking]
    status_text: str = ""  # the current state in plain words
    story: list[StoryItem] = field(default_factory=list)
    carrier: str | None = None
    tracking_number: str | None = None
    has_delivery_note: bool = False
    cancellable: bool = False  # by its customer, online (before the work goes to the floor)


@dataclass(frozen=True)
class OrderSummary:
    order_id: int
    status: str
    currency: str
    total: str
    created_at: datetime
    line_count: int


def list_orders(session: Session, customer_id: int, limit: int = 200) -> list[OrderSummary]:
    counts = (
        select(OrderLine.order_id, func.count(OrderLine.id).label("n"))
        .group_by(OrderLine.order_id)
        .subquery()
    )
    rows = session.execute(
        select(Order, counts.c.n)
        .join(counts, counts.c.order_id == Order.id, isouter=True)
        .where(Order.customer_id == customer_id)
        .order_by(Order.id.desc())
        .limit(limit)
    ).all()
    return [
        OrderSummary(o.id, str(o.status), o.currency, str(o.total), o.created_at, n or 0)
        for o, n in rows
    ]


def order_for_key(session: Session, customer_id: int, key: str) -> int | None:
    """The order already placed with this idempotency key (a double submit), if any."""
    return session.scalar(
        select(Order.id).where(Order.customer_id == customer_id, Order.idempotency_key == key)
    )


def track_order(session: Session, order_id: int, customer_id: int | None) -> OrderTracking:
    """The order with a timeline per line; someone else's order is simply not found."""
    order = session.get(Order, order_id)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"order {order_id} not found")
    etas = _etas(session, [ln.id for ln in order.lines])
    lines = [_line(session, ln, etas.get(ln.id)) for ln in order.lines]
    shipment = shipment_of(session, order.id)
    live = [ln for ln in order.lines if ln.status != Status.CANCELLED]
    return OrderTracking(
        order.id,
        str(order.status),
        order.currency,
        str(order.total),
        order.created_at,
        lines,
        headline(order, shipment, cancel_reason(session, order)),
        story(session, order, shipment),
        shipment.carrier if shipment else None,
        shipment.tracking_number if shipment else None,
        shipment is not None,
        order.status in CANCELLABLE
        and order.status != Status.CANCELLED
        and all(ln.status in CANCELLABLE for ln in live),
    )


def _line(session: Session, line: OrderLine, eta: datetime | None) -> LineTracking:
    reached: dict[str, datetime] = {}
    hold_payload: dict[str, Any] | None = None
    events = session.scalars(
        select(Event)
        .where(Event.entity_type == "order_line", Event.entity_id == str(line.id))
        .order_by(Event.id)
    )
    for ev in events:
        if ev.to_state:
            reached.setdefault(ev.to_state, ev.at)
        if ev.to_state == Status.ON_HOLD.value:
            hold_payload = ev.payload
    held = line.status == Status.ON_HOLD and line.hold_reason is not None
    why, todo = explain_hold(line.hold_reason or "", hold_payload) if held else (None, None)
    has_ops = session.scalar(
        select(Operation.id).where(Operation.order_line_id == line.id).limit(1)
    )
    blocker = amend_blocker(
        Status(line.status), has_ops is not None, line.hold_reason, hold_payload
    )
    invoiced = session.scalar(select(Invoice.id).where(Invoice.order_id == line.order_id))
    if blocker is None and invoiced is not None:  # the issued invoice fixes the bill
        blocker = "invoiced"
    rank = _RANK.get(Status(line.status), -1)
    steps = [
        Step(s.value, LABELS[s], reached.get(s.value), _RANK[s] <= rank or s.value in reached)
        for s in TIMELINE
    ]
    family = (
        session.scalar(
            select(ProductConfiguration.family_key).where(
                ProductConfiguration.id == line.configuration_id
            )
        )
        or "?"
    )
    arts = session.execute(
        select(Artifact.id, Artifact.kind)
        .where(
            Artifact.configuration_id == line.configuration_id, Artifact.kind.in_(DOWNLOAD_KINDS)
        )
        .order_by(Artifact.kind)
    ).all()
    return LineTracking(
        line.id,
        line.configuration_id,
        family,
        line.quantity,
        line.tier,
        str(line.unit_price),
        str(line.status),
        line.hold_reason,
        line.promised_ship_date,
        eta,
        steps,
        [(a_id, kind) for a_id, kind in arts],
        line.parent_line_id,
        why,
        todo,
        blocker is None and line.parent_line_id is None,
        blocker == "design",
    )


def _etas(session: Session, line_ids: list[int]) -> dict[int, datetime]:
    """Finish of each line's last operation in the newest released (else approved) plan."""
    if not line_ids:
        return {}
    plan = session.scalars(
        select(Schedule)
        .where(Schedule.state.in_((ScheduleState.RELEASED, ScheduleState.APPROVED)))
        .order_by(Schedule.state.desc(), Schedule.version.desc())
        .limit(1)
    ).first()
    if plan is None:
        return {}
    rows = session.execute(
        select(Operation.order_line_id, func.max(Assignment.end))
        .join(Assignment, Assignment.operation_id == Operation.id)
        .where(Assignment.schedule_id == plan.id, Operation.order_line_id.in_(line_ids))
        .group_by(Operation.order_line_id)
    ).all()
    return {line_id: end for line_id, end in rows if end is not None}


def tracking_json(t: OrderTracking) -> dict[str, Any]:
    def iso(x: date | datetime | None) -> str | None:
        return x.isoformat() if x else None

    return {
        "id": t.order_id,
        "status": t.status,
        "currency": t.currency,
        "total": t.total,
        "created_at": iso(t.created_at),
        "status_text": t.status_text,
        "story": [{"at": iso(s.at), "text": s.text} for s in t.story],
        "carrier": t.carrier,
        "tracking_number": t.tracking_number,
        "cancellable": t.cancellable,
        "lines": [
            {
                "id": ln.line_id,
                "configuration_id": ln.configuration_id,
                "family": ln.family,
                "quantity": ln.quantity,
                "tier": ln.tier,
                "unit_price": ln.unit_price,
                "status": ln.status,
                "hold_reason": ln.hold_reason,
                "promised_ship_date": iso(ln.promised_ship_date),
                "eta": iso(ln.eta),
                "timeline": [
                    {"status": s.status, "label": s.label, "at": iso(s.at), "reached": s.reached}
                    for s in ln.steps
                ],
                "downloads": [{"artifact_id": a, "kind": k} for a, k in ln.downloads],
                "remake_of": ln.remake_of,
                "hold_why": ln.hold_why,
                "hold_todo": ln.hold_todo,
                "amendable": ln.amendable,
            }
            for ln in t.lines
        ],
    }


def get_order(session: Session, order_id: int, customer_id: int | None = None) -> Order:
    """Load an order; with `customer_id`, someone else's order is simply not found."""
    order = session.get(Order, order_id)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"order {order_id} not found")
    return order
