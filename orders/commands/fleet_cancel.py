"""Cancel a running print from the fleet board.

A planner (or the operator of that station) sees a print going wrong and stops it. What is left
of the job is scrapped through the floor's ordinary scrap (`apply_event`, one `scrapped` event
per order line: the same remake line and re-plan request as any scrap), the job then ends (a
`completed` event with nothing left to count, so the line and order move on as after any full
scrap, and the plate-clear gate asks for the half-printed plate to be cleared), and the printer
is asked through the outbox to stop (`cancel` row, `Transport.cancel`). A printer that cannot be
stopped remotely closes the row with "stop it by hand", which the fleet board shows.

Once per job: the job's operation rows are locked first, so of concurrent presses (one form
key or several) one cancels and the rest are answered "already cancelled".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.intake import Rejection, StatusEvent, button_event
from mes_bridge.job_order_ids import job_order_id
from orders.adapters.floor_dispatch import request_cancel, withdraw_start
from orders.commands.audit import Actor, record_event
from orders.commands.floor_events import ACTIVE, apply_event
from orders.errors import DomainError, NotFound
from orders.models import Event, Operation, OutboxMessage, OutboxStatus, Role, Schedule
from orders.queries.station import NotYourStation, StationUser, machine_of_job

CANCELLED = "print_cancelled"  # the audit event's to_state, on entity "job_order"
NOT_SENT = "the printer was never sent this job: nothing to stop"


@dataclass(frozen=True)
class Cancelled:
    """The outcome: `code` is applied, duplicate or out_of_order; `remakes` the new lines."""

    ok: bool
    code: str
    message: str
    remakes: tuple[int, ...] = field(default_factory=tuple)


def _members(plan: Schedule, op: Operation) -> list[int]:
    """The operations the job order stands for (a plate: all its members), by id."""
    mine = next(a for a in plan.assignments if a.operation_id == op.id)
    if not mine.plate_key:
        return [op.id]
    return sorted({a.operation_id for a in plan.assignments if a.plate_key == mine.plate_key})


def _check(machine_id: str, job: str, reason: str, form_key: str) -> tuple[str, str]:
    why, key = " ".join(reason.split())[:300], form_key.strip()
    if not why:
        raise DomainError(
            "reason: say why the print is cancelled (the remake and the log carry it)",
            fields={"reason": "required"},
        )
    if not key or len(key) > 64 or not key.isascii():
        raise DomainError(
            "form_key is required (1-64 characters): reload the page",
            fields={"form_key": "1-64 characters"},
        )
    return why, key


def cancel_print(
    session: Session, machine_id: str, job: str, reason: str, form_key: str, who: StationUser
) -> Cancelled:
    """Cancel the released job `job` running on `machine_id`: scrap and remake what is left,
    end the job, ask the printer to stop. Planners may cancel on any printer, operators on
    their own stations (`NotYourStation` otherwise)."""
    why, key = _check(machine_id, job, reason, form_key)
    op, on, plan = machine_of_job(session, job)
    if on != machine_id:
        raise NotFound(f"job order {job!r} is not on {machine_id}")
    if who.role != Role.PLANNER and not who.may_act_on(machine_id):
        raise NotYourStation(f"{machine_id} is not your station")
    members = _members(plan, op)
    lead = job_order_id(members[0], plan.version)
    ops = [  # locked in id order: concurrent cancels of one job go one after the other
        session.get_one(Operation, i, with_for_update=True, populate_existing=True) for i in members
    ]
    if _already(session, lead):
        return Cancelled(True, "duplicate", f"{lead} was already cancelled")
    if not any(o.status in ACTIVE for o in ops):
        state = ops[0].status.value
        return Cancelled(False, "out_of_order", f"{lead} is {state}; only a running print")
    actor, now = Actor(who.label, who.user_id), datetime.now(UTC)
    ids = "cx-" + hashlib.sha256(f"{key}:{lead}".encode()).hexdigest()[:32]  # floor event ids
    remakes = [r for o in ops if (r := _scrap(session, o, plan, machine_id, ids, why, actor, now))]
    end = _event(lead, "completed", now, f"{ids}-end", machine_id=machine_id)
    ended = apply_event(session, end, actor)
    if not ended.ok:  # the lock and the check above make this unreachable short of a bug
        raise DomainError(f"{lead} could not be ended: {ended.message}")
    told = _tell_printer(session, lead, machine_id)
    record_event(session, actor, "job_order", lead, None, CANCELLED,
                 {"machine_id": machine_id, "reason": why, "form_key": key,
                  "remake_lines": remakes, "printer": told})  # fmt: skip
    lines = ", ".join(str(r) for r in remakes) or "none (nothing was left to make)"
    return Cancelled(
        True, "applied", f"{lead} cancelled; remake lines {lines}; {told}", tuple(remakes)
    )


def _already(session: Session, lead: str) -> bool:
    return (
        session.scalar(
            select(Event.id).where(
                Event.entity_type == "job_order",
                Event.entity_id == lead,
                Event.to_state == CANCELLED,
            )
        )
        is not None
    )


def _event(job: str, kind: str, at: datetime, event_id: str, **extra: object) -> StatusEvent:
    """A button event of this cancel; a malformed one is a bug, not the user's input."""
    ev = button_event(job, kind, at, event_id, **extra)
    if isinstance(ev, Rejection):
        raise DomainError(ev.reason)
    return ev


def _scrap(
    session: Session,
    op: Operation,
    plan: Schedule,
    machine_id: str,
    ids: str,
    why: str,
    actor: Actor,
    now: datetime,
) -> int | None:
    """Scrap what is left of one order line's parts: the remake line's id (None: none left)."""
    left = op.quantity - op.scrapped_qty
    if left < 1 or op.status not in ACTIVE:
        return None
    member = job_order_id(op.id, plan.version)
    ev = _event(member, "scrapped", now, f"{ids}-{op.id}", machine_id=machine_id,
                qty=left, reason=f"print cancelled: {why}"[:500])  # fmt: skip
    result = apply_event(session, ev, actor)
    if not result.ok:
        raise DomainError(f"{member} could not be scrapped: {result.message}")
    return result.new_line_id


def _tell_printer(session: Session, lead: str, machine_id: str) -> str:
    """Queue the printer's cancel, or withdraw a start it was never sent; what was done."""
    if withdraw_start(session, lead, "print cancelled from the fleet board"):
        return "its start had not been sent yet and was withdrawn"
    sent = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.idempotency_key.startswith(f"jo:{lead}:{machine_id}:"),
            OutboxMessage.status == OutboxStatus.DELIVERED,
        )
        .order_by(OutboxMessage.id.desc())
    ).first()
    if sent is None:
        return NOT_SENT
    request_cancel(session, lead, machine_id, sent.transport)
    return f"asked {machine_id} to stop"
