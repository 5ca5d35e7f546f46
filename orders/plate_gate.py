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

from collections.abc import Collection
from dataclasses import dataclass
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
)

PRINT_PROCESSES = ("fdm", "resin")
WAITING = "waiting for plate clear"
ON_THE_PLATE = (OperationStatus.RUNNING, OperationStatus.PAUSED)
_PAGE = 8  # finished prints per printer looked at in one query, newest first


def auto_ejects(session: Session, machine_id: str) -> bool:
    """True for a printer that clears its own plate (a belt printer, an ejecting arm)."""
    machine = session.get(Machine, machine_id)
    return machine is not None and (machine.transport_config or {}).get("auto_eject") is True


@dataclass(frozen=True)
class _Placement:
    """One released plan's row for an operation: where that plan put it."""

    version: int
    released_at: datetime
    machine_id: str
    plate_key: str | None
    schedule_id: int


def last_prints(
    session: Session, machine_ids: Collection[str] | None = None
) -> dict[str, datetime]:
    """When each printer's last print finished (every printer that printed, or only these).

    A job counts on the printer it ran on, the machine of the plan in force when it started
    (`ran_on`), not on every printer some released plan once gave it; a proposal that was
    never released placed nothing. The newest prints are looked at first, a page per printer
    at a time, so the whole fleet costs a handful of queries unless jobs moved a lot.
    """
    wanted = None if machine_ids is None else set(machine_ids)
    found: dict[str, datetime] = {}
    lo = 0
    while wanted is None or wanted:
        page = _candidates(session, wanted, lo, lo + _PAGE)
        if not page:
            break
        ran = ran_on(session, {op for _, op, _ in page})
        for machine, op, ended in page:  # per printer, newest first
            if machine not in found and machine in ran.get(op, ()):
                found[machine] = ended
        wanted = {machine for machine, _, _ in page} - set(found)  # not settled on this page
        lo += _PAGE
    return found


def _candidates(
    session: Session, machines: set[str] | None, lo: int, hi: int
) -> list[tuple[str, int, datetime]]:
    """Finished prints some released plan put on each printer, newest first: ranks lo+1..hi."""
    placed = (
        select(
            Assignment.machine_id.label("machine"),
            Operation.id.label("op"),
            Operation.ended_at.label("ended"),
        )
        .join(Operation, Operation.id == Assignment.operation_id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(
            Operation.status == OperationStatus.DONE,
            Operation.process.in_(PRINT_PROCESSES),
            Operation.ended_at.is_not(None),
            Schedule.released_at.is_not(None),  # a proposal never released placed nothing
        )
        .distinct()
    )
    if machines is not None:
        placed = placed.where(Assignment.machine_id.in_(sorted(machines)))
    sub = placed.subquery()
    rank = func.row_number().over(
        partition_by=sub.c.machine, order_by=(sub.c.ended.desc(), sub.c.op.desc())
    )
    ranked = select(sub.c.machine, sub.c.op, sub.c.ended, rank.label("rank")).subquery()
    rows = session.execute(
        select(ranked.c.machine, ranked.c.op, ranked.c.ended)
        .where(ranked.c.rank > lo, ranked.c.rank <= hi)
        .order_by(ranked.c.machine, ranked.c.rank)
    )
    return [(m, op, ended) for m, op, ended in rows]


def ran_on(session: Session, op_ids: Collection[int]) -> dict[int, set[str]]:
    """The printer(s) each operation ran on: its rows in the plan in force when it started.

    Only the released plan's job orders may start, so that plan is the one named by the job's
    first accepted `started` floor event; without one (work recorded by hand), the plan
    released last before `started_at`. A job every released plan kept on one printer needs
    neither look-up."""
    placements: dict[int, list[_Placement]] = {}
    started_at: dict[int, datetime | None] = {}
    for op_id, op_started, *rest in session.execute(
        select(
            Assignment.operation_id,
            Operation.started_at,
            Schedule.version,
            Schedule.released_at,
            Assignment.machine_id,
            Assignment.plate_key,
            Schedule.id,
        )
        .join(Operation, Operation.id == Assignment.operation_id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(Assignment.operation_id.in_(sorted(op_ids)), Schedule.released_at.is_not(None))
    ):
        placements.setdefault(op_id, []).append(_Placement(*rest))
        started_at[op_id] = op_started
    out = {op: {p.machine_id for p in ps} for op, ps in placements.items()}
    moved = {op: ps for op, ps in placements.items() if len(out[op]) > 1}
    if moved:
        first_start = _started_versions(session, moved)
        for op, ps in moved.items():
            version = first_start.get(op) or _in_force(ps, started_at[op])
            out[op] = {p.machine_id for p in ps if p.version == version}
    return out


def _started_versions(session: Session, moved: dict[int, list[_Placement]]) -> dict[int, int]:
    """Per operation, the plan version of its first accepted start (a plate starts by its
    first member's job order)."""
    plates = {(p.schedule_id, p.plate_key) for ps in moved.values() for p in ps if p.plate_key}
    leads: dict[tuple[int, str], int] = {}
    if plates:
        for sid, key, lead in session.execute(
            select(Assignment.schedule_id, Assignment.plate_key, func.min(Assignment.operation_id))
            .where(
                Assignment.schedule_id.in_(sorted({s for s, _ in plates})),
                Assignment.plate_key.in_(sorted({str(k) for _, k in plates})),
            )
            .group_by(Assignment.schedule_id, Assignment.plate_key)
        ):
            leads[(sid, key)] = lead
    jobs: dict[str, list[tuple[int, int]]] = {}
    for op, ps in moved.items():
        for p in ps:
            lead = leads.get((p.schedule_id, p.plate_key), op) if p.plate_key else op
            jobs.setdefault(job_order_id(lead, p.version), []).append((op, p.version))
    named = Event.payload["job_order_id"].as_string()
    out: dict[int, int] = {}
    for job in session.scalars(
        select(named).where(
            Event.entity_type == "floor_event", Event.to_state == "started", named.in_(jobs)
        )
    ):
        for op, version in jobs[job]:
            out[op] = min(version, out.get(op, version))
    return out


def _in_force(placements: list[_Placement], started_at: datetime | None) -> int:
    """The version of the plan released last before the start; the first plan when the start
    reads earlier than every release (a machine clock behind the server's)."""
    ordered = sorted(placements, key=lambda p: p.released_at)
    if started_at is None:
        return ordered[-1].version
    before = [p for p in ordered if p.released_at <= started_at]
    return before[-1].version if before else ordered[0].version


def last_print(session: Session, machine_id: str) -> datetime | None:
    """When the last print that ran on this printer finished."""
    return last_prints(session, [machine_id]).get(machine_id)


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
    busy = _printing_now(session, op, a)
    if busy is not None:
        return (
            f"{a.machine_id} is still printing operation {busy}: complete, fail or cancel it "
            f"before {job} starts"
        )
    if not bed_clear_needed(session, a.machine_id):
        return ""
    return (
        f"the plate of {a.machine_id} is not confirmed clear since its last print: "
        f"confirm it (station button or traveler QR) before {job} starts"
    )


def _printing_now(session: Session, op: Operation, a: Assignment) -> int | None:
    """Another print still running or paused on this printer in the plan (not a part of this
    job's own plate): a printer makes one plate at a time. Without this a second start passed,
    since no print had finished to make the bed need clearing."""
    lane = select(Assignment.operation_id).where(
        Assignment.schedule_id == a.schedule_id,
        Assignment.machine_id == a.machine_id,
        Assignment.operation_id != op.id,
    )
    if a.plate_key:
        lane = lane.where((Assignment.plate_key.is_(None)) | (Assignment.plate_key != a.plate_key))
    return session.scalar(
        select(Operation.id)
        .where(
            Operation.id.in_(lane),
            Operation.process.in_(PRINT_PROCESSES),
            Operation.status.in_((OperationStatus.RUNNING, OperationStatus.PAUSED)),
        )
        .limit(1)
    )
