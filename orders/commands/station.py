"""The operator station's buttons. Buttons become mes_bridge button events applied by floor_events.apply_event, so a tap and an MQTT or OPC UA event have the same effect. The station adds two shop rules: an operator acts only on jobs of their own station (admins anywhere), and a printer whose last print finished needs a bed-clear / QC confirmation before the next print starts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.intake import Rejection, button_event
from mes_bridge.job_order_ids import job_order_id
from orders.adapters.floor_dispatch import release_held_starts, request_start
from orders.commands.audit import Actor, record_event
from orders.commands.floor_events import Applied, apply_event
from orders.errors import DomainError, NotFound
from orders.models import (
    Machine,
    OperationStatus,
    OutboxMessage,
)
from orders.plate_gate import bed_clear_in_force, plate_refusal
from orders.queries.station import (
    ACTIONS,
    PRINT_PROCESSES,
    NotYourStation,
    StationUser,
    machine_of_job,
)
from orders.queries.stock import start_refusal


def confirm_bed_clear(
    session: Session, machine_id: str, who: StationUser, checks: list[str], via: str = "station"
) -> bool:
    """The operator confirms the bed is clear and the last print passed its QC check (`via`:
    the station button or a scan of the traveler's QR). A start held for it goes out now.

    The machine row is locked, so of a double-tapped confirmation one is recorded; a
    confirmation already in force (no print finished since) is "already done": False."""
    if session.get(Machine, machine_id, with_for_update=True) is None:
        raise NotFound(f"machine {machine_id} not found")
    if not who.may_act_on(machine_id):
        raise NotYourStation(f"station {machine_id} is not yours")
    if bed_clear_in_force(session, machine_id):
        return False
    record_event(
        session,
        Actor(who.label, who.user_id),
        "bed_clear",
        machine_id,
        None,
        "clear",
        {"checks": checks[:10], "via": via},
    )
    release_held_starts(session, machine_id)
    return True


def press(
    session: Session,
    job: str,
    action: str,
    event_id: str,
    who: StationUser,
    qty: int | None = None,
    reason: str = "",
) -> Applied:
    """One button press, applied through the MES intake like any other event source."""
    if action not in ACTIONS:
        raise DomainError(f"unknown action '{action}'", fields={"action": ", ".join(ACTIONS)})
    op, machine_id, plan = machine_of_job(session, job)
    if not who.may_act_on(machine_id):
        raise NotYourStation(f"job {job} runs on {machine_id}, which is not your station")
    if action == "start" and op.status == OperationStatus.RELEASED:
        if short := start_refusal(session, op, machine_id, plan):  # the loaded spool can't
            return Applied(False, "stock", short)
    if (
        action == "start"
        and op.status == OperationStatus.RELEASED
        and op.process in PRINT_PROCESSES
        and plate_refusal(session, job)  # the one gate: MQTT, OPC UA and the dispatcher ask it too
    ):
        return Applied(
            False,
            "bed_not_clear",
            f"confirm that the bed of {machine_id} is clear "
            "and the last print passed QC before starting the next print",
        )
    extra: dict[str, Any] = {"machine_id": machine_id}
    if action == "scrap":
        extra.update(qty=qty, reason=reason)
    ev = button_event(job, ACTIONS[action], datetime.now(UTC), event_id, **extra)
    if isinstance(ev, Rejection):
        return Applied(False, "invalid", ev.reason)
    released = op.status == OperationStatus.RELEASED
    result = apply_event(session, ev, Actor(who.label, who.user_id))
    if result.ok and action == "start" and released and op.process in PRINT_PROCESSES:
        _start_device(session, job, machine_id)
    return result


def _start_device(session: Session, job: str, machine_id: str) -> None:
    """The bed is clear and the operator pressed start: ask the printer to start the job order
    it was sent (a plate's member id starts the plate), at most once, through the outbox."""

    op, _, plan = machine_of_job(session, job)
    mine = next(a for a in plan.assignments if a.operation_id == op.id)
    members = sorted(
        a.operation_id for a in plan.assignments if mine.plate_key and a.plate_key == mine.plate_key
    )
    lead = job_order_id(members[0], plan.version) if members else job
    sent = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key.startswith(f"jo:{lead}:{machine_id}:")
        )
    ).first()
    if sent is not None:  # nothing was sent to this printer (e.g. moved by a re-plan): no start
        request_start(session, lead, machine_id, sent.transport)
