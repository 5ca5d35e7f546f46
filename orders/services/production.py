"""From a built design to plannable work: routing steps become operations on eligible machines."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import configurator
from orders.lifecycle import Status
from orders.models import Machine, MachineState, Operation, Order, OrderLine, ProductConfiguration
from orders.services.audit import Actor, transition
from orders.services.capacity import shop_timezone
from orders.services.catalog import load_config

PRIMARY = {"fdm", "resin", "cnc", "laser"}


def setup_family(step: configurator.RoutingStep) -> str | None:
    """Process + material + colour: what a machine must be changed over for."""
    if step.process.value not in PRIMARY:
        return None
    req = step.requirements
    return f"{step.process.value}:{req.get('material', '')}:{req.get('colour', '')}"


def eligible_minutes(
    step: configurator.RoutingStep, qty: int, machines: list[Machine], fits: dict[str, bool]
) -> dict[str, int]:
    """Machine id -> minutes for the whole line on that machine (setup + qty × run time)."""
    material = step.requirements.get("material")
    out: dict[str, int] = {}
    for m in machines:
        if m.process != step.process.value or m.state != MachineState.UP:
            continue
        if step.process.value in PRIMARY and (
            material not in m.materials or not fits.get(m.id, True)
        ):
            continue
        out[m.id] = max(1, math.ceil((step.setup_minutes + step.minutes * qty) / m.speed_factor))
    return out


def _due(session: Session, line: OrderLine) -> datetime | None:
    if line.promised_ship_date is None:
        return None
    local = datetime.combine(line.promised_ship_date, time(17, 0), shop_timezone(session))
    return local.astimezone(UTC)


def create_operations(
    session: Session,
    line: OrderLine,
    metrics: configurator.GeometryMetrics | None,
    fits: dict[str, bool],
    now: datetime,
) -> list[Operation]:
    """One operation per routing step, in precedence order; idempotent per line."""
    existing = session.scalars(select(Operation).where(Operation.order_line_id == line.id)).all()
    if existing:
        return list(existing)
    config = load_config(session.get_one(ProductConfiguration, line.configuration_id))
    steps = configurator.get_family(config.family_key).routing(config, metrics)
    machines = list(session.scalars(select(Machine)))
    ops: list[Operation] = []
    for step in steps:
        for qty in chunks(step, line.quantity):
            op = Operation(
                order_line_id=line.id,
                seq=len(ops),
                step=step.step,
                process=step.process.value,
                quantity=qty,
                eligible=eligible_minutes(step, qty, machines, fits),
                setup_family=setup_family(step),
                release_at=now,
                due_at=_due(session, line),
            )
            session.add(op)
            ops.append(op)
    session.flush()
    return ops


MAX_OP_MINUTES = 600  # a staffed shift: longer primary work is split into batches of units


def chunks(step: configurator.RoutingStep, qty: int) -> list[int]:
    """Split a long primary step into batches that each fit a shift (at least one unit each)."""
    if step.process.value not in PRIMARY or step.minutes <= 0:
        return [qty]
    per_batch = max(1, int((MAX_OP_MINUTES - step.setup_minutes) // step.minutes))
    if per_batch >= qty:
        return [qty]
    full, rest = divmod(qty, per_batch)
    return [per_batch] * full + ([rest] if rest else [])


def lines_waiting_for(session: Session, configuration_id: int) -> list[OrderLine]:
    return list(
        session.scalars(
            select(OrderLine).where(
                OrderLine.configuration_id == configuration_id, OrderLine.status == Status.PLACED
            )
        )
    )


def mark_cad_ready(
    session: Session,
    configuration_id: int,
    metrics: configurator.GeometryMetrics | None,
    fits: dict[str, bool],
    actor: Actor,
    now: datetime | None = None,
) -> list[int]:
    """Placed lines of this design get their operations and move to cad_ready (with their order)."""
    now = now or datetime.now(UTC)
    moved = []
    for line in lines_waiting_for(session, configuration_id):
        create_operations(session, line, metrics, fits, now)
        transition(session, line, Status.CAD_READY, actor)
        moved.append(line.id)
        _advance_order(session, line.order, actor)
    return moved


def hold_lines(
    session: Session,
    configuration_id: int,
    reason: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
) -> list[int]:
    """Put every placed line of this design (and its order) on hold, with the reason shown."""
    held = []
    for line in lines_waiting_for(session, configuration_id):
        transition(session, line, Status.ON_HOLD, actor, reason=reason, payload=payload)
        held.append(line.id)
        if line.order.status != Status.ON_HOLD and Status.ON_HOLD.value in _targets(line.order):
            transition(session, line.order, Status.ON_HOLD, actor, reason=reason)
    return held


def _targets(order: Order) -> set[str]:
    from orders.lifecycle import TRANSITIONS

    return {s.value for s in TRANSITIONS[Status(order.status)]}


def _advance_order(session: Session, order: Order, actor: Actor) -> None:
    if order.status == Status.PLACED and all(ln.status == Status.CAD_READY for ln in order.lines):
        transition(session, order, Status.CAD_READY, actor)
