"""Read models for the planner console: the orders board, Gantt lanes, KPI comparison, moves,
and the few small writes the console owns (maintenance windows, pins).

Views stay thin: they call these and render values. Nothing here speaks HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orders.errors import DomainError
from orders.formats import when
from orders.lifecycle import Status
from orders.lookup import found
from orders.models import (
    Assignment,
    Event,
    Machine,
    Operation,
    Order,
    OrderLine,
    ProductConfiguration,
    Schedule,
    User,
)
from orders.queries.planning_problem import machine_windows
from orders.queries.plans import moves
from orders.queries.power import power_plan
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
            when(order.created_at),
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
    row = found(session, Schedule, schedule_id, "schedule")
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
    shedding = power_plan(session, machines, origin, horizon).windows
    for m in machines:
        windows = [*machine_windows(m, origin, horizon), *shedding.get(m.id, [])]
        for i, w in enumerate(windows):
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


# --- reports -------------------------------------------------------------------------------
