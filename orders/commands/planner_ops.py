"""The planner's direct interventions: maintenance windows and pinned operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.commands.audit import Actor, record_event
from orders.errors import DomainError
from orders.lookup import found
from orders.models import (
    CalendarWindow,
    Machine,
    Operation,
    WindowKind,
)
from orders.queries.plans import current_release


def add_maintenance(
    session: Session, machine_id: str, start: datetime, end: datetime, note: str, actor: Actor
) -> CalendarWindow:
    """A planned maintenance window (the next proposal plans around it), audited.

    The machine row is locked, so a form submitted twice at once adds one window: the same
    window (machine, start, end) already there is returned as it is ("already done")."""
    machine = found(session, Machine, machine_id, "machine")
    session.get(Machine, machine.id, with_for_update=True, populate_existing=True)
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError("times need a timezone", fields={"start": "ISO time with offset"})
    if end <= start:
        raise DomainError("the window must end after it starts", fields={"end": "after start"})
    if end - start > timedelta(days=30):
        raise DomainError("a maintenance window is at most 30 days", fields={"end": "≤ 30 days"})
    same = session.scalar(
        select(CalendarWindow).where(
            CalendarWindow.machine_id == machine.id,
            CalendarWindow.kind == WindowKind.MAINTENANCE,
            CalendarWindow.start == start,
            CalendarWindow.end == end,
        )
    )
    if same is not None:
        return same
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

    Without a start, the start is taken from the current released plan (or now). The row is
    locked, and a pin that is already in place is not recorded again (a double submit)."""
    found(session, Operation, operation_id, "operation")
    op = session.get_one(Operation, operation_id, with_for_update=True, populate_existing=True)
    if not machine_id:
        if op.pinned_machine_id is None and op.pinned_start is None:
            return op
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
    if (op.pinned_machine_id, op.pinned_start) == (machine_id, start):
        return op
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
