"""The operator station's read model and its buttons.

Buttons become `mes_bridge.intake.button_event`s applied by `floor.apply_event`, so a tap and
an MQTT or OPC UA event have the same effect. The station adds two shop rules on top:
an operator acts only on jobs of their own station (admins anywhere), and a printer whose
last print finished needs a bed-clear / QC confirmation before the next print starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.dispatch import HAND_REMOVAL
from mes_bridge.job_order_ids import job_order_id, parse_job_order
from mes_bridge.packets import JobOrder, from_json
from mes_bridge.traveler import render_html
from orders.errors import DomainError, NotFound
from orders.lookup import found
from orders.models import (
    Assignment,
    Machine,
    Operation,
    OperationStatus,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    Role,
    Schedule,
    ScheduleState,
    User,
)
from orders.plate_gate import PRINT_PROCESSES as PRINT_PROCESSES  # re-exported
from orders.plate_gate import bed_clear_needed
from orders.queries.job_orders import build_job_order
from orders.queries.plans import current_release

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
class ObjectSkip:
    """A failed object of a running plate and what its printer did about it."""

    job_order_id: str
    object_name: str
    by_hand: bool  # the printer cannot (or did not) skip it: the operator removes it
    message: str


@dataclass(frozen=True)
class StationView:
    machine_id: str
    machine_name: str
    machine_state: str
    current: tuple[JobCard, ...]
    upcoming: tuple[JobCard, ...]
    bed_clear_needed: bool
    skips: tuple[ObjectSkip, ...] = ()


@dataclass(frozen=True)
class StationUser:
    """Who presses the button: their id, role and the stations they are assigned to."""

    user_id: int
    label: str
    role: str
    stations: tuple[str, ...] = ()

    @classmethod
    def load(cls, session: Session, user_id: int) -> StationUser:
        user = session.get_one(User, user_id)
        return cls(user.id, user.display_name, str(user.role), user.station_ids)

    def may_act_on(self, machine_id: str) -> bool:
        return self.role == Role.ADMIN or machine_id in self.stations


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
    machine = found(session, Machine, machine_id, "machine")
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
        object_skips(session, machine_id),
    )


def _skip(row: OutboxMessage) -> ObjectSkip:
    job, name = str(row.payload["job_order_id"]), str(row.payload["object_name"])
    detail = str((row.receipt or {}).get("detail", ""))
    if row.status == OutboxStatus.PENDING:
        return ObjectSkip(job, name, False, f"asking the printer to skip object {name}")
    if row.status == OutboxStatus.DELIVERED and not detail.startswith(HAND_REMOVAL):
        return ObjectSkip(job, name, False, f"the printer skips object {name}")
    why = detail or f"the printer did not skip it: {row.last_error}; remove it by hand"
    return ObjectSkip(job, name, True, f"object {name}: {why}")


def object_skips(session: Session, machine_id: str) -> tuple[ObjectSkip, ...]:
    """The failed objects of the plates running on this machine, newest first."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "exclude", OutboxMessage.destination == machine_id)
        .order_by(OutboxMessage.id.desc())
        .limit(20)
    )
    out = []
    for row in rows:
        parsed = parse_job_order(str(row.payload.get("job_order_id", "")))
        op = session.get(Operation, parsed[0]) if parsed else None
        if op is not None and op.status in (OperationStatus.RUNNING, OperationStatus.PAUSED):
            out.append(_skip(row))
    return tuple(out)


def machine_of_job(session: Session, job: str) -> tuple[Operation, str, Schedule]:
    """The operation, machine and plan behind a job order id like JO-12-v3 of the released plan;
    an id of a superseded (or never released) plan is not found."""
    missing = NotFound(f"job order {job!r} not found")
    parsed = parse_job_order(job)
    if parsed is None:
        raise missing
    op = session.get(Operation, parsed[0])
    plan = session.scalar(select(Schedule).where(Schedule.version == parsed[1]))
    if op is None or plan is None:
        raise missing
    assignment = next((a for a in plan.assignments if a.operation_id == op.id), None)
    if assignment is None:
        raise missing
    if plan.state != ScheduleState.RELEASED:  # only the released plan's job orders act
        raise NotFound(f"job order {job!r} belongs to plan v{plan.version}, which is not released")
    return op, assignment.machine_id, plan


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
    order = _delivered(session, lead) or build_job_order(session, plan, assignment, base_url)
    order = dataclasses.replace(order, order_line_url=f"{base_url}/operator/job/{lead}")
    return order, op, machine_id


def _delivered(session: Session, job: str) -> JobOrder | None:

    row = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.idempotency_key.startswith(f"jo:{job}:"))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    return from_json(row.payload["job"]) if row is not None else None


def stations(session: Session, ids: tuple[str, ...] | None = None) -> list[Machine]:
    """Every machine (for an admin), or only the ones named (an operator's own)."""
    query = select(Machine).order_by(Machine.id)
    if ids is not None:
        query = query.where(Machine.id.in_(ids))
    return list(session.scalars(query))


def card_for(session: Session, job: str) -> JobCard:
    """The station card (single job or whole plate) a job order id belongs to."""
    _, machine_id, plan = machine_of_job(session, job)
    for card in _cards(session, plan, machine_id):
        if card.job_order_id == job or any(m.job_order_id == job for m in card.members):
            return card
    raise NotFound(f"job order {job!r} not found")


def is_job_order_id(raw: str) -> bool:
    """True for an id in the floor's one format with ids in range (anything else is not found)."""
    return parse_job_order(raw) is not None


def traveler_html(order: JobOrder) -> str:
    """The printable traveler of a job packet (HTML with its QR code)."""
    return render_html(order)
