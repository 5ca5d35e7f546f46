"""From a built design to plannable work: routing steps become operations on eligible machines."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import configurator
from orders.commands.audit import Actor, transition
from orders.commands.checkout_payment import may_produce
from orders.commands.notify import order_held
from orders.lifecycle import TRANSITIONS, Status
from orders.models import Machine, Operation, Order, OrderLine, ProductConfiguration
from orders.queries.catalog import load_config
from orders.queries.routing import chunks, eligible_minutes, setup_family
from orders.queries.shop_state import shop_timezone


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
    """Placed lines of this design get their operations and move to cad_ready (with their order);
    a line whose order waits for payment stays placed (the one gate, `may_produce`)."""
    now = now or datetime.now(UTC)
    moved = []
    for line in lines_waiting_for(session, configuration_id):
        if not may_produce(session, line.order_id):
            continue
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
    lines = lines_waiting_for(session, configuration_id)
    for line in lines:
        transition(session, line, Status.ON_HOLD, actor, reason=reason, payload=payload)
        held.append(line.id)
        if line.order.status != Status.ON_HOLD and Status.ON_HOLD.value in _targets(line.order):
            transition(session, line.order, Status.ON_HOLD, actor, reason=reason)
    order_held(session, lines, reason, payload)  # the customer and the planners are told
    return held


def _targets(order: Order) -> set[str]:

    return {s.value for s in TRANSITIONS[Status(order.status)]}


def _advance_order(session: Session, order: Order, actor: Actor) -> None:
    if order.status == Status.PLACED and all(ln.status == Status.CAD_READY for ln in order.lines):
        transition(session, order, Status.CAD_READY, actor)
