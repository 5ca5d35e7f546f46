"""The operator station's read model and its buttons.

Buttons become `mes_bridge.intake.button_event`s applied by `floor.apply_event`, so a tap and
an MQTT or OPC UA event have the same effect. The station adds two shop rules on top:
an operator acts only on jobs of their own station (admins anywhere), and a printer whose
last print finished needs a bed-clear / QC confirmation before the next print starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes_bridge.intake import Rejection, button_event
from mes_bridge.packets import JobOrder
from orders.errors import DomainError, NotFound
from orders.models import (
    Assignment,
    Event,
    Machine,
    Operation,
    OperationStatus,
    OrderLine,
    OutboxMessage,
    Role,
    Schedule,
    ScheduleState,
    User,
)
from orders.services.audit import Actor, record_event
from orders.services.floor import Applied, apply_event, job_order_id, parse_job_order
from orders.services.planning import current_release

PRINT_PROCESSES = ("fdm", "resin")
ACTIONS = {"start": "started", "pause": "paused", "complete": "completed", "scrap": "scrapped"}


class NotYourStation(DomainError):
    """An operator tried to act on another station's job (a 404 to them: not theirs to see)."""

    code = "not_your_station"


@dataclass(frozen=True)
class PlateMember:
    """One order line's parts on a batched plate: scrap is reported per member."""

    job_order_id: str
    line_id: int
    order_id: int
    quantity: int
    scrapped: int


@dataclass(frozen=True)
class JobCard:
    """One job order on a station: a single operation, or a whole plate (its first member's id)."""

    job_order_id: str
    operation_id: int
    step: str
    process: str
    quantity: int
    scrapped: int
    status: str
    start: datetime
    end: datetime
    order_id: int
    line_id: int
    plate_key: str | None = None
    members: tuple[PlateMember, ...] = ()


@dataclass(frozen=True)
class StationView:
    machine_id: str
    machine_name: str
    machine_state: str
    current: tuple[JobCard, ...]
    upcoming: tuple[JobCard, ...]
    bed_clear_needed: bool


@dataclass(frozen=True)
class StationUser:
    """Who presses the button: their id, role and the station they are assigned to."""

    user_id: int
    label: str
    role: str
    station_machine_id: str | None

    @classmethod
    def load(cls, session: Session, user_id: int) -> StationUser:
        user = session.get_one(User, user_id)
        return cls(user.id, user.display_name, str(user.role), user.station_machine_id)

    def may_act_on(self, machine_id: str) -> bool:
        return self.role == Role.ADMIN or self.station_machine_id == machine_id


def _cards(session: Session, schedule: Schedule, machine_id: str) -> list[JobCard]:
    rows = session.execute(
        select(Assignment, Operation, OrderLine.order_id)
        .join(Operation, Operation.id == Assignment.operation_id)
        .join(OrderLine, OrderLine.id == Operation.order_line_id)
        .where(Assignment.schedule_id == schedule.id, Assignment.machine_id == machine_id)
        .order_by(Assignment.start, Assignment.operation_id)
    )
    groups: dict[str, list[tuple[Assignment, Operation, int]]] = {}
    for a, op, order_id in rows:
        groups.setdefault(a.plate_key or f"op:{op.id}", []).append((a, op, order_id))
    return [_card(schedule.version, members) for members in groups.values()]


def _card(version: int, members: list[tuple[Assignment, Operation, int]]) -> JobCard:
    """A plate's job order carries its first member's id; floor events on it reach every member."""
    a, op, order_id = members[0]
    plate = (
        tuple(
            PlateMember(
                job_order_id(o.id, version), o.order_line_id, oid, o.quantity, o.scrapped_qty
            )
            for _, o, oid in members
        )
        if a.plate_key
        else ()
    )
    return JobCard(
        job_order_id(op.id, version),
        op.id,
        op.step,
        op.process,
        sum(o.quantity for _, o, _ in members),
        sum(o.scrapped_qty for _, o, _ in members),
        op.status.value,
        a.start,
        a.end,
        order_id,
        op.order_line_id,
        a.plate_key,
        plate,
    )


def station_view(session: Session, machine_id: str, upcoming: int = 8) -> StationView:
    """The current job(s) and the next ones on one machine, from the released plan."""
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise NotFound(f"machine {machine_id} not found")
    plan = current_release(session)
    cards = _cards(session, plan, machine_id) if plan else []
    active = ("running", "paused")
    return StationView(
        machine.id,
        machine.name,
        machine.state.value,
        tuple(c for c in cards if c.status in active),
        tuple(c for c in cards if c.status == "released")[:upcoming],
        bed_clear_needed(session, machine_id),
    )


def machine_of_job(session: Session, job: str) -> tuple[Operation, str, Schedule]:
    """The operation, machine and plan version behind a job order id like JO-12-v3."""
    parsed = parse_job_order(job)
    op = session.get(Operation, parsed[0]) if parsed else None
    plan = session.scalar(select(Schedule).where(Schedule.version == parsed[1])) if op else None
    assignment = (
        next((a for a in plan.assignments if a.operation_id == op.id), None) if plan else None
    )
    if op is None or plan is None or assignment is None:
        raise NotFound(f"job order {job!r} not found")
    return op, assignment.machine_id, plan


def bed_clear_needed(session: Session, machine_id: str) -> bool:
    """True when a print finished on this printer after its last bed-clear confirmation."""
    last_print = session.scalar(
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
    if last_print is None:
        return False
    cleared = session.scalar(
        select(func.max(Event.at)).where(
            Event.entity_type == "bed_clear", Event.entity_id == machine_id
        )
    )
    return cleared is None or cleared < last_print


def confirm_bed_clear(
    session: Session, machine_id: str, who: StationUser, checks: list[str]
) -> None:
    """The operator confirms the bed is clear and the last print passed its QC check."""
    if session.get(Machine, machine_id) is None:
        raise NotFound(f"machine {machine_id} not found")
    if not who.may_act_on(machine_id):
        raise NotYourStation(f"station {machine_id} is not yours")
    record_event(
        session,
        Actor(who.label, who.user_id),
        "bed_clear",
        machine_id,
        None,
        "clear",
        {"checks": checks[:10]},
    )


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
    op, machine_id, _ = machine_of_job(session, job)
    if not who.may_act_on(machine_id):
        raise NotYourStation(f"job {job} runs on {machine_id}, which is not your station")
    if (
        action == "start"
        and op.status == OperationStatus.RELEASED
        and op.process in PRINT_PROCESSES
        and bed_clear_needed(session, machine_id)
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
    from orders.services.shopfloor import request_start

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


def job_packet(session: Session, job: str, base_url: str) -> tuple[JobOrder, Operation, str]:
    """The job order as the floor received it (plates: with the bed map), its QR pointing at the
    operator's job page. A plate member's id opens the plate's job order."""
    op, machine_id, plan = machine_of_job(session, job)
    assignment = next(a for a in plan.assignments if a.operation_id == op.id)
    members = sorted(
        a.operation_id
        for a in plan.assignments
        if assignment.plate_key and a.plate_key == assignment.plate_key
    )
    lead = job_order_id(members[0], plan.version) if members else job
    if members and members[0] != op.id:
        op = session.get_one(Operation, members[0])
        assignment = next(a for a in plan.assignments if a.operation_id == op.id)
    order = _delivered(session, lead) or _built(session, plan, assignment, base_url)
    order = dataclasses.replace(order, order_line_url=f"{base_url}/operator/job/{lead}")
    return order, op, machine_id


def _delivered(session: Session, job: str) -> JobOrder | None:
    from mes_bridge.packets import from_json

    row = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.idempotency_key.startswith(f"jo:{job}:"))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    return from_json(row.payload["job"]) if row is not None else None


def _built(session: Session, plan: Schedule, assignment: Assignment, base_url: str) -> JobOrder:
    from mes_bridge.packets import PlatePart
    from orders.services.shopfloor import build_job_order

    order = build_job_order(session, plan, assignment, base_url)
    if not assignment.plate_key:
        return order
    layout = (plan.kpis or {}).get("plates", {}).get("layouts", {}).get(assignment.plate_key, [])
    parts = tuple(
        PlatePart(
            str(p["order_line_id"]),
            float(p["x_mm"]),
            float(p["y_mm"]),
            float(p["w_mm"]),
            float(p["h_mm"]),
            str(p.get("part", "")),
        )
        for p in layout
    )
    qty = sum(
        session.get_one(Operation, a.operation_id).quantity
        for a in plan.assignments
        if a.plate_key == assignment.plate_key
    )
    return dataclasses.replace(order, quantity=qty, plate=parts)


def stations(session: Session) -> list[Machine]:
    return list(session.scalars(select(Machine).order_by(Machine.id)))


def card_for(session: Session, job: str) -> JobCard:
    """The station card (single job or whole plate) a job order id belongs to."""
    _, machine_id, plan = machine_of_job(session, job)
    for card in _cards(session, plan, machine_id):
        if card.job_order_id == job or any(m.job_order_id == job for m in card.members):
            return card
    raise NotFound(f"job order {job!r} not found")
