"""Outgoing: an approved plan released to the floor.

One job-order outbox row per assignment (one per plate) is written in the release transaction;
the dispatcher (`orders/adapters/floor_dispatch.py`) delivers them afterwards. Incoming floor
events are `floor_events.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mes_bridge.packets import to_json
from orders.adapters.outbox import add_message, withdraw_job_orders
from orders.commands.audit import Actor, record_event, transition
from orders.errors import DomainError
from orders.lifecycle import Status
from orders.lookup import found
from orders.models import (
    Machine,
    Operation,
    OperationStatus,
    OrderLine,
    OutboxMessage,
    Schedule,
    ScheduleState,
)
from orders.queries.job_orders import build_job_order


def release(
    session: Session, schedule_id: int, actor: Actor, base_url: str = "http://127.0.0.1:5000"
) -> Schedule:
    """Make an approved plan the released one: operations and lines follow, in one transaction.

    Job orders for the shop floor are written to the outbox in this same transaction, so a
    release is never half-sent: the dispatcher delivers them afterwards.
    """
    row = found(session, Schedule, schedule_id, "schedule")
    if row.state == ScheduleState.RELEASED:
        return row  # already done (a double click, or a concurrent release that won)
    if row.state != ScheduleState.APPROVED:
        raise DomainError(f"schedule v{row.version} is {row.state.value}; approve it first")
    now = datetime.now(UTC)
    # Session.execute types an UPDATE's result as Result; at run time it is a CursorResult.
    claimed = session.execute(  # type: ignore[attr-defined]  # conditional: of concurrent releases exactly one moves the row
        update(Schedule)
        .where(Schedule.id == row.id, Schedule.state == ScheduleState.APPROVED)
        .values(state=ScheduleState.RELEASED, released_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(row)
    if claimed == 0:
        if row.state == ScheduleState.RELEASED:
            return row
        raise DomainError(f"schedule v{row.version} is {row.state.value}; approve it first")
    for old in _supersede_others(session, row):
        record_event(session, actor, "schedule", old.id, "released", "superseded")
        withdraw_job_orders(
            session, old.version, f"plan v{old.version} superseded by v{row.version}"
        )
    for stale in _supersede_proposals(session, row):
        record_event(
            session,
            actor,
            "schedule",
            stale.id,
            stale.state.value,
            ScheduleState.SUPERSEDED.value,
            {"reason": f"planned before v{row.version} was released"},
        )
        stale.state = ScheduleState.SUPERSEDED
    record_event(session, actor, "schedule", row.id, "approved", "released")
    for a in row.assignments:
        op = session.get_one(Operation, a.operation_id)
        if op.status in (OperationStatus.PENDING, OperationStatus.SCHEDULED):
            op.status = OperationStatus.RELEASED
        _advance_line(session, session.get_one(OrderLine, op.order_line_id), actor)
    session.flush()
    release_to_floor(session, row, base_url)
    return row


def _supersede_others(session: Session, row: Schedule) -> list[Schedule]:
    """Every other released plan becomes superseded (conditionally: each exactly once)."""
    ids = session.scalars(
        update(Schedule)
        .where(Schedule.state == ScheduleState.RELEASED, Schedule.id != row.id)
        .values(state=ScheduleState.SUPERSEDED)
        .returning(Schedule.id)
        .execution_options(synchronize_session=False)
    ).all()
    olds = [session.get_one(Schedule, i) for i in ids]
    for old in olds:
        session.refresh(old)
    return olds


def _supersede_proposals(session: Session, row: Schedule) -> list[Schedule]:
    """Proposals made before this release can no longer be approved (their base is gone):
    they become superseded, never released (`released_at` stays empty), so no page offers them.
    """
    return list(
        session.scalars(
            select(Schedule).where(
                Schedule.state.in_((ScheduleState.PROPOSED, ScheduleState.APPROVED)),
                Schedule.id != row.id,
            )
        )
    )


def _advance_line(session: Session, line: OrderLine, actor: Actor) -> None:
    if line.status == Status.CAD_READY:
        transition(session, line, Status.SCHEDULED, actor)
    if line.status == Status.SCHEDULED:
        transition(session, line, Status.RELEASED, actor)
    order = line.order
    for target, prior in (
        (Status.SCHEDULED, Status.CAD_READY),
        (Status.RELEASED, Status.SCHEDULED),
    ):
        if order.status == prior and all(
            ln.status in (target, Status.RELEASED) for ln in order.lines
        ):
            transition(session, order, target, actor)


def release_to_floor(session: Session, schedule: Schedule, base_url: str) -> int:
    """One job-order outbox row per assignment (one per plate for batched parts), skipping any
    already sent unchanged; returns the rows added."""
    machines = {m.id: m for m in session.scalars(select(Machine))}
    added, seen_plates = 0, set()
    for a in schedule.assignments:
        if a.plate_key in seen_plates:
            continue
        job = build_job_order(session, schedule, a, base_url)
        if a.plate_key:
            seen_plates.add(a.plate_key)
        key = f"jo:{job.job_order_id}:{a.machine_id}:{a.start.isoformat()}"
        exists = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
        )
        if exists is None:
            add_message(
                session,
                kind="job_order",
                destination=a.machine_id,
                transport=machines[a.machine_id].transport,
                key=key,
                payload={"action": "deliver", "job": to_json(job)},
            )
            added += 1
    return added
