"""The plate-clear gate: no printer starts a new job until its plate is confirmed clear.

One rule for every path a start can take (the station's button, a start reported over MQTT,
OPC UA or a webhook, and the dispatcher's `start` outbox row). It sits beside the models, below
both queries and adapters, because the dispatcher (an adapter) and the station (queries and
commands) must ask the same question and adapters may not import queries.

A plate is clear when no print finished on the printer after its last confirmation. A
confirmation is a `bed_clear` event (station button or traveler QR); a printer marked
``transport_config["auto_eject"] = true`` clears its own plate, so its finished print counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes_bridge.job_order_ids import job_order_id, parse_job_order
from orders.models import (
    Assignment,
    Event,
    Machine,
    Operation,
    OperationStatus,
    OutboxMessage,
    OutboxStatus,
    Schedule,
    ScheduleState,
)

PRINT_PROCESSES = ("fdm", "resin")
WAITING = "waiting for plate clear"
ON_THE_PLATE = (OperationStatus.RUNNING, OperationStatus.PAUSED)


def auto_ejects(session: Session, machine_id: str) -> bool:
    """True for a printer that clears its own plate (a belt printer, an ejecting arm)."""
    machine = session.get(Machine, machine_id)
    return machine is not None and (machine.transport_config or {}).get("auto_eject") is True


def last_print(session: Session, machine_id: str) -> datetime | None:
    """When the printer's last print finished (plans in force or superseded)."""
    return session.scalar(
        select(func.max(Operation.ended_at))
        .join(Assignment, Assignment.operation_id == Operation.id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(
            Assignment.machine_id == machine_id,
            Operation.status == OperationStatus.DONE,
            Operation.process.in_(PRINT_PROCESSES),
            Schedule.state.in_((ScheduleState.RELEASED, ScheduleState.SUPERSEDED)),
        )
    )


def last_clear(session: Session, machine_id: str) -> datetime | None:
    """The last confirmation; on an auto-eject printer its last finished print is one too."""
    confirmed = session.scalar(
        select(func.max(Event.at)).where(
            Event.entity_type == "bed_clear", Event.entity_id == machine_id
        )
    )
    if not auto_ejects(session, machine_id):
        return confirmed
    ejected = last_print(session, machine_id)
    return max((t for t in (confirmed, ejected) if t is not None), default=None)


def bed_clear_needed(session: Session, machine_id: str) -> bool:
    """True when a print finished on this printer after its plate was last confirmed clear."""
    printed = last_print(session, machine_id)
    if printed is None:
        return False
    cleared = last_clear(session, machine_id)
    return cleared is None or cleared < printed


def bed_clear_in_force(session: Session, machine_id: str) -> bool:
    """True when a confirmation stands (given, and no print finished since): confirming again
    would say nothing new."""
    cleared = last_clear(session, machine_id)
    if cleared is None:
        return False
    printed = last_print(session, machine_id)
    return printed is None or cleared >= printed


def _assignment(session: Session, job: str) -> tuple[Operation, Assignment] | None:
    parsed = parse_job_order(job)
    if parsed is None:
        return None
    row = session.execute(
        select(Operation, Assignment)
        .join(Assignment, Assignment.operation_id == Operation.id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(Operation.id == parsed[0], Schedule.version == parsed[1])
    ).first()
    return (row[0], row[1]) if row is not None else None


def _already_on_plate(session: Session, op: Operation, a: Assignment, version: int) -> bool:
    """The job (or a part of its plate) is what the printer holds: running, paused, or its start
    already went to the printer. A re-report of that job is not a new job on the plate."""
    members = [op.id]
    if a.plate_key:
        members = sorted(
            session.scalars(
                select(Assignment.operation_id).where(
                    Assignment.schedule_id == a.schedule_id, Assignment.plate_key == a.plate_key
                )
            )
        )
    active = session.scalar(
        select(func.count())
        .select_from(Operation)
        .where(Operation.id.in_(members), Operation.status.in_(ON_THE_PLATE))
    )
    if active:
        return True
    sent = session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.idempotency_key == f"start:{job_order_id(members[0], version)}",
            OutboxMessage.status == OutboxStatus.DELIVERED,
        )
    )
    return sent is not None


def plate_refusal(session: Session, job: str) -> str:
    """Why this job order may not start on its printer now ('' when it may).

    Only a new print is gated: a job that is not a released print (a resume, a re-reported start
    of the job already on the plate, a non-print step) passes here and its own rules decide."""
    found = _assignment(session, job)
    if found is None:
        return ""
    op, a = found
    if op.process not in PRINT_PROCESSES or op.status != OperationStatus.RELEASED:
        return ""
    version = session.scalar(select(Schedule.version).where(Schedule.id == a.schedule_id))
    if version is None or _already_on_plate(session, op, a, version):
        return ""
    if not bed_clear_needed(session, a.machine_id):
        return ""
    return (
        f"the plate of {a.machine_id} is not confirmed clear since its last print: "
        f"confirm it (station button or traveler QR) before {job} starts"
    )
