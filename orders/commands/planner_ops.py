"""The planner's direct interventions: maintenance windows and pinned operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
    locked, and a pin that is already in place is not recorded again (a double submit). A
    member of a released plate shares one print with the others: the pin moves the whole plate
    (every member is pinned alike), and only to a printer with the plate's bed."""
    found(session, Operation, operation_id, "operation")
    op = session.get_one(Operation, operation_id, with_for_update=True, populate_existing=True)
    base = current_release(session)
    mine = [a for a in base.assignments if a.operation_id == op.id] if base else []
    plate = _plate_of(session, base, mine[0]) if mine and mine[0].plate_key else [op]
    if not machine_id:
        for member in plate:
            _set_pin(session, member, None, None, actor)
        return op
    if machine_id not in op.eligible:
        raise DomainError(
            f"operation {op.id} cannot run on {machine_id}",
            fields={"machine_id": f"one of {', '.join(sorted(op.eligible))}"},
        )
    if len(plate) > 1:
        _check_bed(session, op, mine[0].machine_id, machine_id, len(plate))
        if cannot := [m.id for m in plate if machine_id not in m.eligible]:
            raise DomainError(
                f"{machine_id} cannot print operation(s) {', '.join(map(str, cannot))} of "
                f"operation {op.id}'s plate",
                fields={"machine_id": "a printer every part of the plate can run on"},
            )
    if start is None:
        start = mine[0].start if mine else datetime.now(UTC)
    elif start.tzinfo is None:
        raise DomainError("the pin time needs a timezone", fields={"start": "ISO time with offset"})
    for member in plate:
        _set_pin(session, member, machine_id, start, actor)
    return op


def _plate_of(session: Session, base: Any, mine: Any) -> list[Operation]:
    """Every operation printed on the same released plate, each row locked (ids in order)."""
    ids = sorted(a.operation_id for a in base.assignments if a.plate_key == mine.plate_key)
    return [
        session.get_one(Operation, i, with_for_update=True, populate_existing=True) for i in ids
    ]


def _check_bed(session: Session, op: Operation, home: str, target: str, parts: int) -> None:
    here, there = session.get_one(Machine, home), session.get_one(Machine, target)
    if (here.build_x_mm, here.build_y_mm) != (there.build_x_mm, there.build_y_mm):
        raise DomainError(
            f"operation {op.id} prints on a plate of {parts} parts laid out for the "
            f"{here.build_x_mm:g} x {here.build_y_mm:g} mm bed of {home}; {target} has a "
            f"{there.build_x_mm:g} x {there.build_y_mm:g} mm bed. Pin the plate to a printer "
            "with the same bed",
            fields={"machine_id": "a printer with the plate's bed size"},
        )


def _set_pin(
    session: Session, op: Operation, machine_id: str | None, start: datetime | None, actor: Actor
) -> None:
    """Set or clear one pin; the same pin already in place is not recorded again."""
    if (op.pinned_machine_id, op.pinned_start) == (machine_id, start):
        return
    op.pinned_machine_id, op.pinned_start = machine_id, start
    if machine_id is None:
        record_event(session, actor, "operation", op.id, None, "unpinned")
        return
    assert start is not None
    record_event(
        session,
        actor,
        "operation",
        op.id,
        None,
        "pinned",
        {"machine_id": machine_id, "start": start.isoformat()},
    )
