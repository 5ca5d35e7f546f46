"""Read models for the planner console: the orders board, Gantt lanes, KPI comparison, moves,
and the few small writes the console owns (maintenance windows, pins).

Views stay thin: they call these and render values. Nothing here speaks HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from orders.errors import DomainError, NotFound
from orders.lifecycle import Status
from orders.models import (
    Assignment,
    CalendarWindow,
    Event,
    Machine,
    Operation,
    Order,
    OrderLine,
    ProductConfiguration,
    Schedule,
    User,
    WindowKind,
)
from orders.services.audit import Actor, record_event
from orders.services.planning import current_release
from orders.services.planning_problem import machine_windows
from scheduler.gantt import colour_for

BOARD_COLUMNS: tuple[Status, ...] = (
    Status.PLACED,
    Status.CAD_READY,
    Status.SCHEDULED,
    Status.RELEASED,
    Status.IN_PRODUCTION,
    Status.QC,
    Status.COMPLETED,
    Status.SHIPPED,
    Status.ON_HOLD,
    Status.CANCELLED,
)
KPI_ROWS = (
    ("on_time_pct", "On-time %"),
    ("weighted_tardiness", "Weighted tardiness (min)"),
    ("makespan", "Makespan (min)"),
    ("setups_count", "Setups"),
    ("setup_minutes", "Setup time (min)"),
    ("utilisation", "Mean utilisation %"),
)


@dataclass(frozen=True)
class BoardLine:
    id: int
    status: str
    quantity: int
    tier: str
    family: str
    hold_reason: str | None
    promised_ship_date: str | None
    remake_of: int | None


@dataclass(frozen=True)
class BoardCard:
    order_id: int
    status: str
    customer: str
    total: str
    currency: str
    created_at: str
    hold_reasons: tuple[str, ...]
    lines: tuple[BoardLine, ...]


def _hold_reasons(order: Order, lines: list[OrderLine]) -> tuple[str, ...]:
    """Why work is held: the order's own reason and each held line's (CAD, infeasible, DFM)."""
    reasons = [order.hold_reason] if order.hold_reason else []
    reasons += [f"line {ln.id}: {ln.hold_reason}" for ln in lines if ln.hold_reason]
    return tuple(reasons)


def board(
    session: Session, state: str | None = None, q: str | None = None, limit: int = 300
) -> dict[str, list[BoardCard]]:
    """Orders grouped by status (newest first); `state` narrows to one column, `q` matches an
    order id or a customer's e-mail."""
    if state and state not in {s.value for s in BOARD_COLUMNS}:
        raise DomainError(
            f"unknown state '{state}'",
            fields={"state": f"one of {', '.join(s.value for s in BOARD_COLUMNS)}"},
        )
    query = (
        select(Order, User.email, ProductConfiguration.family_key, OrderLine)
        .join(User, User.id == Order.customer_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(ProductConfiguration, ProductConfiguration.id == OrderLine.configuration_id)
    )
    if state:
        query = query.where(Order.status == Status(state))
    text = (q or "").strip()
    if text.isdigit():
        query = query.where(Order.id == int(text))
    elif text:
        query = query.where(User.email.ilike(f"%{text[:100]}%"))
    ids = (select(Order.id).order_by(Order.id.desc()).limit(limit)).scalar_subquery()
    rows = session.execute(query.where(Order.id.in_(ids)).order_by(Order.id.desc(), OrderLine.id))
    grouped: dict[int, tuple[Order, str, list[tuple[OrderLine, str]]]] = {}
    for order, email, family, line in rows:
        grouped.setdefault(order.id, (order, email, []))[2].append((line, family))
    out: dict[str, list[BoardCard]] = {
        s.value: [] for s in BOARD_COLUMNS if not state or s == state
    }
    for order, email, items in grouped.values():
        lines = [ln for ln, _ in items]
        card = BoardCard(
            order.id,
            order.status.value,
            email,
            str(order.total),
            order.currency,
            order.created_at.strftime("%Y-%m-%d %H:%M"),
            _hold_reasons(order, lines),
            tuple(
                BoardLine(
                    ln.id,
                    ln.status.value,
                    ln.quantity,
                    ln.tier,
                    fam,
                    ln.hold_reason,
                    ln.promised_ship_date.isoformat() if ln.promised_ship_date else None,
                    ln.parent_line_id,
                )
                for ln, fam in items
            ),
        )
        out.setdefault(card.status, []).append(card)
    return out


def change_stamp(session: Session) -> str:
    """A cheap fingerprint of everything the live pages show: events, plans and their solves.

    Pages poll with it as an ETag, so an unchanged shop costs one small query and a 304.
    """
    ev = session.scalar(select(func.max(Event.id))) or 0
    sched = session.execute(
        select(func.max(Schedule.id), func.count(Schedule.id)).where(
            Schedule.solver_status != "PENDING"
        )
    ).one()
    pending = session.scalar(
        select(func.count(Schedule.id)).where(Schedule.solver_status == "PENDING")
    )
    return f"{ev}-{sched[0] or 0}-{sched[1]}-{pending}"


def schedules(session: Session, limit: int = 30) -> list[Schedule]:
    return list(session.scalars(select(Schedule).order_by(Schedule.version.desc()).limit(limit)))


def get_schedule(session: Session, schedule_id: int) -> Schedule:
    row = session.get(Schedule, schedule_id)
    if row is None:
        raise NotFound(f"schedule {schedule_id} not found")
    return row


def _origin(row: Schedule) -> datetime:
    if row.kpis.get("origin"):
        return datetime.fromisoformat(row.kpis["origin"])
    return (row.assignments[0].start if row.assignments else row.created_at).astimezone(UTC)


def schedule_gantt(session: Session, schedule_id: int) -> dict[str, Any]:
    """Lanes (machines) and items (ops coloured by order, setups, calendar windows) in ISO time.

    Built from the stored assignments, so a released plan still draws after its ops are done.
    """
    row = get_schedule(session, schedule_id)
    origin = _origin(row)
    info = {
        op_id: (step, line_id, order_id)
        for op_id, step, line_id, order_id in session.execute(
            select(Operation.id, Operation.step, OrderLine.id, OrderLine.order_id)
            .join(OrderLine, OrderLine.id == Operation.order_line_id)
            .join(Assignment, Assignment.operation_id == Operation.id)
            .where(Assignment.schedule_id == row.id)
        )
    }
    end = max((a.end for a in row.assignments), default=origin + timedelta(days=1))
    horizon = max(60, int((end - origin).total_seconds() // 60) + 60)
    machines = list(session.scalars(select(Machine).order_by(Machine.id)))
    items: list[dict[str, Any]] = []
    for m in machines:
        for i, w in enumerate(machine_windows(m, origin, horizon)):
            items.append(
                {
                    "id": f"w-{m.id}-{i}",
                    "group": m.id,
                    "kind": "down",
                    "label": w.reason,
                    "start": _iso(origin, w.start),
                    "end": _iso(origin, w.end),
                }
            )
    for a in row.assignments:
        step, line_id, order_id = info.get(a.operation_id, ("?", 0, 0))
        if a.setup_minutes:
            items.append(
                {
                    "id": f"s-{a.id}",
                    "group": a.machine_id,
                    "kind": "setup",
                    "label": f"setup {a.setup_minutes} min",
                    "end": a.start.isoformat(),
                    "start": (a.start - timedelta(minutes=a.setup_minutes)).isoformat(),
                }
            )
        items.append(
            {
                "id": f"a-{a.id}",
                "group": a.machine_id,
                "kind": "op",
                "op_id": a.operation_id,
                "label": f"#{order_id} {step}",
                "order_id": order_id,
                "line_id": line_id,
                "colour": colour_for(f"order{order_id}"),
                "frozen": a.frozen,
                "start": a.start.isoformat(),
                "end": a.end.isoformat(),
            }
        )
    lanes = [{"id": m.id, "name": m.name, "state": m.state.value} for m in machines]
    return {
        "schedule_id": row.id,
        "version": row.version,
        "origin": origin.isoformat(),
        "end": end.isoformat(),
        "lanes": lanes,
        "items": items,
    }


def _iso(origin: datetime, minute: int) -> str:
    return (origin + timedelta(minutes=minute)).isoformat()


def _kpi_value(kpis: dict[str, Any] | None, key: str) -> float | None:
    if not kpis:
        return None
    value = kpis.get(key)
    if key == "utilisation" and isinstance(value, dict):
        return round(100 * sum(value.values()) / len(value), 1) if value else 0.0
    return None if value is None else round(float(value), 1)


def kpi_table(row: Schedule) -> list[tuple[str, float | None, float | None, float | None]]:
    """(label, released, proposal, dispatch baseline) per KPI: the side-by-side comparison."""
    k = row.kpis or {}
    return [
        (
            label,
            _kpi_value(k.get("released"), key),
            _kpi_value(k.get("proposal"), key),
            _kpi_value(k.get("baseline"), key),
        )
        for key, label in KPI_ROWS
    ]


def moves_detail(session: Session, schedule_id: int) -> list[dict[str, Any]]:
    """What moved relative to the released plan, with the order and step for people."""
    from orders.services.planning import moves

    out = moves(session, schedule_id)
    for mv in out:
        op = session.get_one(Operation, mv["operation_id"])
        mv["step"] = op.step
        mv["order_id"] = session.get_one(OrderLine, op.order_line_id).order_id
    return out


def plates(row: Schedule) -> dict[str, list[Assignment]]:
    """Assignments that share a plate, by plate key (empty until plate batching is planned)."""
    out: dict[str, list[Assignment]] = {}
    for a in row.assignments:
        if a.plate_key:
            out.setdefault(a.plate_key, []).append(a)
    return out


def machines_with_windows(session: Session) -> list[Machine]:
    return list(session.scalars(select(Machine).order_by(Machine.id)))


def add_maintenance(
    session: Session, machine_id: str, start: datetime, end: datetime, note: str, actor: Actor
) -> CalendarWindow:
    """A planned maintenance window (the next proposal plans around it), audited."""
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise NotFound(f"machine {machine_id} not found")
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError("times need a timezone", fields={"start": "ISO time with offset"})
    if end <= start:
        raise DomainError("the window must end after it starts", fields={"end": "after start"})
    if end - start > timedelta(days=30):
        raise DomainError("a maintenance window is at most 30 days", fields={"end": "≤ 30 days"})
    window = CalendarWindow(
        machine_id=machine.id,
        kind=WindowKind.MAINTENANCE,
        start=start,
        end=end,
        note=(note or "maintenance")[:500],
    )
    session.add(window)
    session.flush()
    record_event(
        session,
        actor,
        "calendar_window",
        window.id,
        None,
        "maintenance",
        {
            "machine_id": machine.id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "note": window.note,
        },
    )
    return window


def pin_operation(
    session: Session,
    operation_id: int,
    machine_id: str | None,
    start: datetime | None,
    actor: Actor,
) -> Operation:
    """Pin an operation to a machine and start time (frozen in the next solve), or unpin it.

    Without a start, the start is taken from the current released plan (or now)."""
    op = session.get(Operation, operation_id)
    if op is None:
        raise NotFound(f"operation {operation_id} not found")
    if not machine_id:
        op.pinned_machine_id, op.pinned_start = None, None
        record_event(session, actor, "operation", op.id, None, "unpinned")
        return op
    if machine_id not in op.eligible:
        raise DomainError(
            f"operation {op.id} cannot run on {machine_id}",
            fields={"machine_id": f"one of {', '.join(sorted(op.eligible))}"},
        )
    if start is None:
        base = current_release(session)
        match = [a for a in base.assignments if a.operation_id == op.id] if base else []
        start = match[0].start if match else datetime.now(UTC)
    elif start.tzinfo is None:
        raise DomainError("the pin time needs a timezone", fields={"start": "ISO time with offset"})
    op.pinned_machine_id, op.pinned_start = machine_id, start
    record_event(
        session,
        actor,
        "operation",
        op.id,
        None,
        "pinned",
        {"machine_id": machine_id, "start": start.isoformat()},
    )
    return op


# --- reports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One report: labelled values with a unit, plotted as bars and exported as CSV rows."""

    key: str
    title: str
    unit: str
    points: tuple[tuple[str, float], ...]


def _completions(session: Session, since: datetime) -> list[tuple[datetime, OrderLine]]:
    rows = session.execute(
        select(Event.at, OrderLine)
        .join(OrderLine, Event.entity_id == cast(OrderLine.id, String))
        .where(
            Event.entity_type == "order_line",
            Event.to_state == Status.COMPLETED.value,
            Event.at >= since,
        )
    )
    return [(at, line) for at, line in rows]


def _machine_minutes(session: Session, since: datetime, now: datetime) -> dict[str, float]:
    """Worked minutes per machine: started ops, on the machine their released plan gave them."""
    rows = session.execute(
        select(
            Assignment.machine_id, Operation.started_at, Operation.ended_at, Assignment.operation_id
        )
        .join(Operation, Operation.id == Assignment.operation_id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(Operation.started_at.is_not(None), Schedule.state.in_(("released", "superseded")))
        .order_by(Schedule.version.desc())
    )
    seen: set[int] = set()
    out: dict[str, float] = {}
    for machine, start, end, op_id in rows:
        if op_id in seen:
            continue
        seen.add(op_id)
        a, b = max(start, since), min(end or now, now)
        if b > a:
            out[machine] = out.get(machine, 0.0) + (b - a).total_seconds() / 60
    return out


def reports(session: Session, now: datetime, days: int = 14) -> list[Series]:
    """On-time delivery, throughput, utilisation, setup hours, scrap rate and lead time."""
    since = now - timedelta(days=days)
    day_keys = [(since + timedelta(days=i + 1)).date().isoformat() for i in range(days)]
    done = _completions(session, since)
    on_time: dict[str, list[int]] = {d: [0, 0] for d in day_keys}
    parts = dict.fromkeys(day_keys, 0.0)
    for at, line in done:
        key = at.date().isoformat()
        if key in parts:
            parts[key] += line.quantity
            ok = line.promised_ship_date is None or at.date() <= line.promised_ship_date
            on_time[key][0] += int(ok)
            on_time[key][1] += 1
    machines = [m.id for m in session.scalars(select(Machine).order_by(Machine.id))]
    worked = _machine_minutes(session, since, now)
    plan = current_release(session)
    setup: dict[str, float] = dict.fromkeys(machines, 0.0)
    for a in plan.assignments if plan else []:
        setup[a.machine_id] = setup.get(a.machine_id, 0.0) + a.setup_minutes / 60
    return [
        Series(
            "on_time",
            "On-time delivery",
            "%",
            tuple((d, round(100 * ok / n, 1) if n else 0.0) for d, (ok, n) in on_time.items()),
        ),
        Series("throughput", "Throughput (parts completed per day)", "parts", tuple(parts.items())),
        Series(
            "utilisation",
            f"Utilisation per machine, last {days} days",
            "%",
            tuple((m, round(100 * worked.get(m, 0.0) / (days * 1440), 2)) for m in machines),
        ),
        Series(
            "setup_hours",
            "Setup hours in the released plan",
            "h",
            tuple((m, round(h, 2)) for m, h in setup.items()),
        ),
        Series("scrap_rate", "Scrap rate by process", "%", _scrap_rate(session)),
        Series(
            "lead_time", "Lead time, order to ship (latest orders)", "days", _lead_times(session)
        ),
    ]


def _scrap_rate(session: Session) -> tuple[tuple[str, float], ...]:
    rows = session.execute(
        select(Operation.process, func.sum(Operation.scrapped_qty), func.sum(Operation.quantity))
        .where(Operation.started_at.is_not(None))
        .group_by(Operation.process)
    )
    return tuple((p, round(100 * float(s or 0) / float(q), 2)) for p, s, q in rows if q)


def _lead_times(session: Session, limit: int = 20) -> tuple[tuple[str, float], ...]:
    shipped = session.execute(
        select(Order.id, Order.created_at, func.max(Event.at))
        .join(Event, Event.entity_id == cast(Order.id, String))
        .where(Event.entity_type == "order", Event.to_state == Status.SHIPPED.value)
        .group_by(Order.id, Order.created_at)
        .order_by(Order.id.desc())
        .limit(limit)
    )
    return tuple(
        (f"#{oid}", round((at - created).total_seconds() / 86400, 2))
        for oid, created, at in reversed(list(shipped))
    )
