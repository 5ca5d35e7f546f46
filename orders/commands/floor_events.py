"""Shop-floor events applied to the order book: the same effect whether they come from a
button, MQTT, OPC UA or REST. Replays and out-of-order events are refused with a reason, logged
as events, and leave state untouched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mes_bridge.intake import Rejection, StatusEvent, parse_event, parse_rest
from mes_bridge.job_order_ids import operation_of, parse_job_order
from mes_bridge.transports.webhook import HeaderItems
from orders.commands import outages
from orders.commands.audit import Actor, record_event, transition
from orders.commands.notify import order_ready
from orders.commands.planning import create_proposal
from orders.commands.production import create_operations
from orders.commands.stock import consume_for_job
from orders.errors import DomainError, FloorMessageRejected
from orders.lifecycle import MAIN_PATH, Status
from orders.models import (
    Assignment,
    CalendarWindow,
    Event,
    FloorEventKey,
    Machine,
    MachineState,
    Operation,
    OperationStatus,
    OrderLine,
    Schedule,
    WindowKind,
)
from orders.plate_gate import plate_refusal
from orders.queries.plans import current_release
from orders.queries.power import interrupted_work

ACTIVE = (OperationStatus.RUNNING, OperationStatus.PAUSED)


@dataclass(frozen=True)
class Applied:
    ok: bool
    code: str  # applied | duplicate | unknown_job | superseded | out_of_order | unknown_machine
    message: str = ""
    new_line_id: int | None = None
    proposal_requested: bool = False


def _seen(session: Session, event_id: str) -> bool:
    return (
        session.scalar(
            select(Event.id)
            .where(Event.entity_type == "floor_event", Event.entity_id == event_id)
            .limit(1)
        )
        is not None
    )


def apply_event(session: Session, ev: StatusEvent, actor: Actor | None = None) -> Applied:
    """Apply one validated event in the caller's transaction; refusals are recorded, not raised.

    The event id is claimed first (a primary key), so concurrent deliveries of one event apply it
    once: the loser waits for the winner's commit and is answered "duplicate".
    """
    actor = actor or Actor(f"{ev.source}")
    if _seen(session, ev.event_id) or not _claim(session, ev.event_id):
        return _refuse(session, ev, actor, "duplicate", f"event {ev.event_id} was already applied")
    if ev.kind in ("machine_down", "machine_up"):
        result = _machine(session, ev, actor)
    elif ev.kind in ("power_lost", "power_back"):
        result = _power(session, ev, actor)
    else:
        result = _operation(session, ev, actor)
    if not result.ok:  # a refusal leaves the id free: the same event may be sent again later
        session.delete(session.get_one(FloorEventKey, ev.event_id))
        return result
    record_event(
        session,
        actor,
        "floor_event",
        ev.event_id,
        None,
        ev.kind,
        {
            "job_order_id": ev.job_order_id,
            "source": ev.source,
            "qty": ev.qty,
            "reason": ev.reason,
            "progress_pct": ev.progress_pct,
        },
    )
    return result


def _claim(session: Session, event_id: str) -> bool:
    """Insert the event's key; False when another delivery of the same event holds it."""
    try:
        with session.begin_nested():
            session.add(FloorEventKey(event_id=event_id))
    except IntegrityError:
        return False
    return True


def _refuse(session: Session, ev: StatusEvent, actor: Actor, code: str, msg: str) -> Applied:
    record_event(
        session,
        actor,
        "floor_rejection",
        ev.event_id or "-",
        None,
        code,
        {"job_order_id": ev.job_order_id, "kind": ev.kind, "reason": msg},
    )
    return Applied(False, code, msg)


def _members(session: Session, op: Operation, job_order: str) -> list[Operation]:
    """The operations a job order stands for: one, or every part of a batched plate."""
    parsed = parse_job_order(job_order)
    version = parsed[1] if parsed else None
    a = session.scalar(
        select(Assignment)
        .join(Schedule)
        .where(Schedule.version == version, Assignment.operation_id == op.id)
    )
    if a is None or not a.plate_key:
        return [op]
    ids = session.scalars(
        select(Assignment.operation_id).where(
            Assignment.schedule_id == a.schedule_id, Assignment.plate_key == a.plate_key
        )
    )
    return [session.get_one(Operation, i) for i in sorted(ids)]


def _operation(session: Session, ev: StatusEvent, actor: Actor) -> Applied:
    op_id = operation_of(ev.job_order_id)
    # the row lock serialises events on one operation (two scraps never lose an update)
    op = (
        session.get(Operation, op_id, with_for_update=True, populate_existing=True)
        if op_id is not None
        else None
    )
    if op is None:
        return _refuse(session, ev, actor, "unknown_job", f"no job order {ev.job_order_id!r}")
    stale = _superseded(session, ev)
    if stale:
        return _refuse(session, ev, actor, "superseded", stale)
    # a machine-reported start meets the plate-clear gate here (a button's, in station.press)
    gated = ev.kind == "started" and ev.source != "button"
    if gated and (why := plate_refusal(session, ev.job_order_id)):
        return _refuse(session, ev, actor, "plate_not_clear", why)
    handler = {
        "started": _started,
        "paused": _paused,
        "progress": _progress,
        "completed": _completed,
        "scrapped": _scrapped,
    }[ev.kind]
    targets = [op] if ev.kind == "scrapped" else _members(session, op, ev.job_order_id)
    outcomes = [handler(session, target, ev, actor) for target in targets]
    problems = [o for o in outcomes if isinstance(o, str)]
    if len(problems) == len(outcomes):
        return _refuse(session, ev, actor, "out_of_order", problems[0])
    return next(o for o in outcomes if not isinstance(o, str))


CURRENT_PLAN_ONLY = ("started", "scrapped")  # what a superseded job order may no longer do


def _superseded(session: Session, ev: StatusEvent) -> str:
    """Why a start or scrap on this job order is refused ('' when it is the released plan's).

    Progress, pause and completion of work already running are still taken: the machine reports
    by the id it was sent, and a new plan keeps started work where it is.
    """
    if ev.kind not in CURRENT_PLAN_ONLY:
        return ""
    parsed = parse_job_order(ev.job_order_id)
    current = current_release(session)
    if parsed is None or current is None or parsed[1] != current.version:
        now = f"v{current.version}" if current is not None else "no plan"
        return f"job order {ev.job_order_id} is not in the released plan ({now} is current)"
    return ""


def _started(session: Session, op: Operation, ev: StatusEvent, actor: Actor) -> Applied | str:
    if op.status == OperationStatus.PAUSED:
        op.status = OperationStatus.RUNNING
        return Applied(True, "applied", "resumed")
    if op.status != OperationStatus.RELEASED:
        return f"operation {op.id} is {op.status.value}; only a released job can start"
    op.status, op.started_at = OperationStatus.RUNNING, ev.at
    line = session.get_one(OrderLine, op.order_line_id)
    target = Status.QC if op.process == "qc" else Status.IN_PRODUCTION
    _move_line(session, line, target, actor)
    return Applied(True, "applied")


def _paused(session: Session, op: Operation, ev: StatusEvent, actor: Actor) -> Applied | str:
    if op.status != OperationStatus.RUNNING:
        return f"operation {op.id} is {op.status.value}; only a running job can pause"
    op.status = OperationStatus.PAUSED
    return Applied(True, "applied")


def _progress(session: Session, op: Operation, ev: StatusEvent, actor: Actor) -> Applied | str:
    if op.status not in ACTIVE:
        return f"progress for operation {op.id}, which is {op.status.value}"
    return Applied(True, "applied")


def _completed(session: Session, op: Operation, ev: StatusEvent, actor: Actor) -> Applied | str:
    if op.status not in ACTIVE:
        return f"operation {op.id} is {op.status.value}; it must start before it completes"
    op.status, op.ended_at = OperationStatus.DONE, ev.at
    consume_for_job(session, op, ev.job_order_id, ev.event_id, actor, ev.machine_id)
    line = session.get_one(OrderLine, op.order_line_id)
    ops = session.scalars(select(Operation).where(Operation.order_line_id == line.id)).all()
    if all(o.status == OperationStatus.DONE for o in ops):
        was = line.order.status
        _move_line(session, line, Status.COMPLETED, actor)
        if was != Status.COMPLETED and line.order.status == Status.COMPLETED:
            order_ready(session, line.order)  # the customer hears it is ready to ship
    return Applied(True, "applied")


def _scrapped(session: Session, op: Operation, ev: StatusEvent, actor: Actor) -> Applied | str:
    """Scrap re-queues only the scrapped parts: a new line of the same design, same artifacts."""
    qty = int(ev.qty or 0)
    if op.status not in (*ACTIVE, OperationStatus.DONE):
        return f"operation {op.id} is {op.status.value}; nothing made yet to scrap"
    if qty < 1 or op.scrapped_qty + qty > op.quantity:
        return (
            f"scrap of {qty} on operation {op.id} exceeds the {op.quantity - op.scrapped_qty} made"
        )
    consume_for_job(session, op, ev.job_order_id, ev.event_id, actor, ev.machine_id, qty)
    op.scrapped_qty += qty
    line = session.get_one(OrderLine, op.order_line_id)
    remake = OrderLine(
        order_id=line.order_id,
        configuration_id=line.configuration_id,
        quote_id=line.quote_id,
        quantity=qty,
        tier=line.tier,
        unit_price=line.unit_price,
        status=Status.CAD_READY,
        promised_ship_date=line.promised_ship_date,
        parent_line_id=line.id,
    )
    line.order.lines.append(remake)
    session.flush()
    record_event(
        session,
        actor,
        "order_line",
        remake.id,
        None,
        Status.CAD_READY.value,
        {"remake_of": line.id, "scrapped": qty, "reason": ev.reason},
    )

    create_operations(session, remake, None, {}, ev.at)
    # the remake needs machine time: ask for a plan (once: the event id was claimed above)
    create_proposal(
        session,
        "due_dates",
        10,
        14,
        actor,
        note=f"scrap of {qty} on operation {op.id}: remake line {remake.id}",
    )
    return Applied(
        True,
        "applied",
        f"re-queued {qty} as line {remake.id}",
        new_line_id=remake.id,
        proposal_requested=True,
    )


def _move_line(session: Session, line: OrderLine, target: Status, actor: Actor) -> None:
    """Walk a line (and its order) forward to `target` through the legal states in between."""

    for obj in (line, line.order):
        if obj.status not in MAIN_PATH or target not in MAIN_PATH:
            continue
        while MAIN_PATH.index(obj.status) < MAIN_PATH.index(target):
            nxt = MAIN_PATH[MAIN_PATH.index(obj.status) + 1]
            if obj is line.order and not _order_may_reach(line.order, nxt):
                break
            transition(session, obj, nxt, actor)


def _order_may_reach(order, status: Status) -> bool:
    """An order moves on when its slowest original line does (remakes follow their parent)."""

    lines = [ln for ln in order.lines if ln.status != Status.CANCELLED]
    return all(
        ln.status in MAIN_PATH and MAIN_PATH.index(ln.status) >= MAIN_PATH.index(status)
        for ln in lines
    )


def _machine(session: Session, ev: StatusEvent, actor: Actor) -> Applied:
    machine = session.get(Machine, ev.machine_id) if ev.machine_id else None
    if machine is None:
        return _refuse(session, ev, actor, "unknown_machine", f"no machine {ev.machine_id!r}")
    if ev.kind == "machine_up":
        machine.state = MachineState.UP
        for w in machine.windows:
            if w.kind == WindowKind.DOWNTIME and w.end is None:
                w.end = ev.at
        return Applied(True, "applied")
    machine.state = MachineState.DOWN
    session.add(
        CalendarWindow(
            machine_id=machine.id,
            kind=WindowKind.DOWNTIME,
            start=ev.at,
            end=None,
            note=ev.reason or "reported down",
        )
    )

    create_proposal(session, "due_dates", 10, 14, actor, note=f"{machine.id} down: {ev.reason}")
    return Applied(True, "applied", proposal_requested=True)


def _power(session: Session, ev: StatusEvent, actor: Actor) -> Applied:
    """Load-shedding from the floor: the outage is recorded and a proposal is asked for, which
    plans the cut work again from scratch; nothing is resumed or moved on its own."""
    try:
        if ev.kind == "power_lost":
            report = outages.power_lost(session, ev.feeder, ev.at, ev.event_id)
        else:
            report = outages.power_back(session, ev.feeder, ev.at)
    except DomainError as exc:
        return _refuse(session, ev, actor, "unknown_feeder", exc.message)
    if not report.changed:
        return Applied(True, "applied")
    cut = interrupted_work(session, ev.feeder) if ev.kind == "power_lost" else []
    note = report.note + (f"; cut: {', '.join(cut)}" if cut else "")
    create_proposal(session, "due_dates", 10, 14, actor, note=note[:500])
    return Applied(True, "applied", proposal_requested=True)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _accepted(parsed: StatusEvent | Rejection) -> StatusEvent:
    if isinstance(parsed, Rejection):
        raise FloorMessageRejected(parsed.code, parsed.reason)
    return parsed


def signed_rest_event(body: bytes, headers: HeaderItems, secret: str, now: datetime) -> StatusEvent:
    """A signed REST callback read into an event; FloorMessageRejected if it is not genuine."""
    return _accepted(parse_rest(body, headers, secret.encode(), now))


def machine_state_event(
    machine_id: str, state: str, event_id: str, reason: str, at: datetime
) -> StatusEvent:
    """A planner's "machine down / up" button as a floor event (the same path as the floor's)."""
    doc = {
        "kind": f"machine_{state}",
        "machine_id": machine_id,
        "event_id": event_id,
        "at": at,
        "reason": reason,
    }
    return _accepted(parse_event(doc, "button"))


def power_event(feeder: str, state: str, event_id: str, at: datetime | None = None) -> StatusEvent:
    """A planner's "power lost / back" (page or shell) as a floor event, the floor's own path."""
    doc = {
        "kind": f"power_{state}",
        "feeder": feeder,
        "event_id": event_id,
        "at": at or now_utc(),
        "reason": f"power {state} reported by staff",
    }
    return _accepted(parse_event(doc, "button"))
