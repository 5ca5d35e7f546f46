"""The planner's reports: throughput, utilisation, scrap rate, lead times and estimate accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from configurator.calendar import working_minutes
from orders.lifecycle import Status
from orders.models import (
    Assignment,
    Event,
    Machine,
    Operation,
    Order,
    OrderLine,
    Schedule,
)
from orders.queries.floor_learning import accuracy
from orders.queries.plans import current_release
from orders.queries.shop_state import machine_shifts


@dataclass(frozen=True)
class Series:
    """One report: labelled values with a unit, plotted as bars and exported as CSV rows."""

    key: str
    title: str
    unit: str
    points: tuple[tuple[str, float], ...]


def _line_events(session: Session, since: datetime, to: Status) -> list[tuple[datetime, OrderLine]]:
    """(when, line) of every line that reached `to` since then (completed: made; shipped: sent)."""
    rows = session.execute(
        select(Event.at, OrderLine)
        .join(OrderLine, Event.entity_id == cast(OrderLine.id, String))
        .where(
            Event.entity_type == "order_line",
            Event.to_state == to.value,
            Event.at >= since,
        )
    )
    return [(at, line) for at, line in rows]


def _machine_minutes(session: Session, since: datetime, now: datetime) -> dict[str, float]:
    """Worked minutes per machine: each started operation on the machine of the newest released
    plan that placed it, from its start for at least its planned run (a plate counts once).

    The floor's start and complete are often pressed together, so the actual span alone would
    show a printed plate as no machine time at all; a job still running counts up to now.
    """
    rows = session.execute(
        select(
            Assignment.machine_id,
            Assignment.start,
            Assignment.end,
            Assignment.schedule_id,
            Assignment.plate_key,
            Operation.id,
            Operation.started_at,
            Operation.ended_at,
        )
        .join(Operation, Operation.id == Assignment.operation_id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(
            Operation.started_at.is_not(None),
            Schedule.state.in_(("released", "superseded")),
            Schedule.released_at.is_not(None),  # superseded proposals never reached the floor
        )
        .order_by(Schedule.version.desc())
    )
    seen: set[int] = set()
    plates: set[tuple[int, str]] = set()
    out: dict[str, float] = {}
    for machine, a_start, a_end, schedule_id, plate, op_id, start, end in rows:
        if op_id in seen or (plate and (schedule_id, plate) in plates):
            seen.add(op_id)
            continue
        seen.add(op_id)
        if plate:
            plates.add((schedule_id, plate))
        ran_to = now if end is None else max(end, start + (a_end - a_start))
        a, b = max(start, since), min(ran_to, now)
        if b > a:
            out[machine] = out.get(machine, 0.0) + (b - a).total_seconds() / 60
    return out


def reports(session: Session, now: datetime, days: int = 14) -> list[Series]:
    """On-time delivery, throughput, utilisation, setup hours, scrap rate and lead time."""
    since = now - timedelta(days=days)
    day_keys = [(since + timedelta(days=i + 1)).date().isoformat() for i in range(days)]
    on_time: dict[str, list[int]] = {d: [0, 0] for d in day_keys}
    parts = dict.fromkeys(day_keys, 0.0)
    for at, line in _line_events(session, since, Status.COMPLETED):
        key = at.date().isoformat()
        if key in parts:
            parts[key] += line.quantity
    # On time means shipped by the promised ship date: the ship transition is the fact.
    for at, line in _line_events(session, since, Status.SHIPPED):
        key = at.date().isoformat()
        if key in on_time:
            ok = line.promised_ship_date is None or at.date() <= line.promised_ship_date
            on_time[key][0] += int(ok)
            on_time[key][1] += 1
    rows = list(session.scalars(select(Machine).order_by(Machine.id)))
    machines = [m.id for m in rows]
    worked = _machine_minutes(session, since, now)
    shift = {m.id: _shift_minutes(m, since, now) for m in rows}
    plan = current_release(session)
    setup: dict[str, float] = dict.fromkeys(machines, 0.0)
    for a in plan.assignments if plan else []:
        setup[a.machine_id] = setup.get(a.machine_id, 0.0) + a.setup_minutes / 60
    return [
        Series(
            "on_time",
            "On-time shipping (shipped by the promised date; days without shipments left out)",
            "%",
            tuple((d, round(100 * ok / n, 1)) for d, (ok, n) in on_time.items() if n),
        ),
        Series("throughput", "Throughput (parts completed per day)", "parts", tuple(parts.items())),
        Series(
            "utilisation",
            f"Utilisation per machine (worked ÷ shift time), last {days} days",
            "%",
            tuple((m, _sig3(100 * worked.get(m, 0.0) / shift[m])) for m in machines),
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
        Series(
            "estimate_accuracy",
            "Run time, actual / estimated, by family and machine (quotes learn from it)",
            "x",
            tuple(accuracy(session)),
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
        (f"#{oid}", _in_days((at - created).total_seconds()))
        for oid, created, at in reversed(list(shipped))
    )


def _in_days(seconds: float) -> float:
    """Days to three significant figures (7.02, 0.0104): an order shipped within minutes of its
    placing still shows a lead time, where rounding to two decimals showed 0 ("no data")."""
    return _sig3(seconds / 86400)


def _sig3(value: float) -> float:
    """Three significant figures: a small figure (one plate printed in a fortnight) still shows."""
    return float(f"{value:.3g}") if value > 0 else 0.0


def _shift_minutes(machine: Machine, since: datetime, now: datetime) -> float:
    """The time the machine could have worked: its calendar's shifts (read in the calendar's
    zone) between `since` and `now`; a machine without a calendar is open round the clock."""
    cal = machine.calendar
    if cal is None or not cal.shifts:
        return (now - since).total_seconds() / 60
    zone = ZoneInfo(cal.timezone)
    open_minutes = working_minutes(
        since.astimezone(zone), now.astimezone(zone), machine_shifts(cal)
    )
    return max(open_minutes, 1.0)
