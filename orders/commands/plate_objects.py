"""One failed object on a shared plate.

An operator sees one customer's part fail on a running plate (detached, spaghetti). Only that
order line's parts on the plate are scrapped and re-queued (the floor's ordinary scrap of the
member operation, so the remake is the same as any scrap's), the other members keep running
and complete with the plate, and the printer is asked through the outbox to stop printing that
object (Moonraker EXCLUDE_OBJECT, Bambu skip_objects, OctoPrint's cancel-object plugin). A
printer that cannot skip it tells the operator, via the outbox row, to remove it by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.intake import Rejection, button_event
from mes_bridge.job_order_ids import job_order_id
from mes_bridge.packets import from_json
from orders.adapters.floor_dispatch import request_exclude
from orders.commands.audit import Actor
from orders.commands.floor_events import ACTIVE, Applied, apply_event
from orders.errors import DomainError
from orders.models import Assignment, Operation, OutboxMessage, Schedule
from orders.queries.station import NotYourStation, StationUser, machine_of_job

BY_HAND = "the printer never received this plate: remove the part by hand"


def _lead(plan: Schedule, a: Assignment) -> str:
    """The plate's job order id (its first member's), the id the printer was sent."""
    members = sorted(x.operation_id for x in plan.assignments if x.plate_key == a.plate_key)
    return job_order_id(members[0], plan.version)


def object_on_plate(session: Session, lead: str, machine_id: str, line_id: int) -> tuple[str, str]:
    """The object name the printer knows this line's parts by, and the transport it was sent
    over ('' when no job order went to this printer). The name is the bed map's order line id:
    the label the plate's 3MF (Bambu slice_info) and Klipper's EXCLUDE_OBJECT_DEFINE carry."""
    sent = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.idempotency_key.startswith(f"jo:{lead}:{machine_id}:"))
        .order_by(OutboxMessage.id.desc())
    ).first()
    if sent is None:
        return str(line_id), ""
    plate = from_json(sent.payload["job"]).plate
    name = next((p.order_line_id for p in plate if p.order_line_id == str(line_id)), str(line_id))
    return name, sent.transport


def fail_object(
    session: Session, member: str, event_id: str, who: StationUser, reason: str
) -> Applied:
    """Mark one member of a running plate failed: scrap what is left of it, re-queue a remake,
    ask the printer to skip the object. A repeat (double submit) is "duplicate", nothing more."""
    op, machine_id, plan = machine_of_job(session, member)
    if not who.may_act_on(machine_id):
        raise NotYourStation(f"job {member} runs on {machine_id}, which is not your station")
    a = next(x for x in plan.assignments if x.operation_id == op.id)
    if not a.plate_key:
        raise DomainError(
            f"member: job {member} is not on a shared plate; scrap it instead",
            fields={"member": "a part of a shared plate"},
        )
    # the row lock serialises two submits: the second sees the scrap and is a duplicate
    op = session.get_one(Operation, op.id, with_for_update=True, populate_existing=True)
    if op.status not in ACTIVE:
        return Applied(
            False, "out_of_order", f"{member} is {op.status.value}; only a running plate's part"
        )
    left = op.quantity - op.scrapped_qty
    if left < 1:
        return Applied(True, "duplicate", f"line {op.order_line_id} was already marked failed")
    why = f"failed on the plate: {reason}".strip()[:500]
    ev = button_event(
        member, "scrapped", datetime.now(UTC), event_id, machine_id=machine_id, qty=left, reason=why
    )
    if isinstance(ev, Rejection):
        return Applied(False, "invalid", ev.reason)
    result = apply_event(session, ev, Actor(who.label, who.user_id))
    if not result.ok:
        return result
    lead = _lead(plan, a)
    name, transport = object_on_plate(session, lead, machine_id, op.order_line_id)
    if not transport:
        return replace(result, message=f"{result.message}; {BY_HAND}")
    request_exclude(session, lead, machine_id, transport, name, op.order_line_id)
    return replace(result, message=f"{result.message}; asked {machine_id} to skip object {name}")
