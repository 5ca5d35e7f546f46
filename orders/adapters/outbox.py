"""The transactional outbox: messages are written with the state change that causes them and
delivered afterwards, so a broker outage (Redis, MQTT, a printer) loses nothing.

Kinds: `enqueue` (hand a job to the queue), `job_order` (a packet to the shop floor; delivered by
the MES bridge's dispatcher over this same table).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.dispatch import Backoff
from orders.adapters.queue import job_function
from orders.models import JobRecord, JobState, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from orders.context import AppContext

# Queue requests wait 1, 2, 4 … seconds (capped) while the broker is away: the bridge's backoff.
ENQUEUE_BACKOFF = Backoff(max_s=300.0)
LOST_GRACE_S = 10  # a record is written a moment before its RQ job: younger ones are not lost


def add_message(
    session: Session,
    *,
    kind: str,
    destination: str,
    transport: str,
    key: str,
    payload: dict[str, Any],
) -> OutboxMessage:
    """Add a message once per idempotency key (a repeat returns the existing row)."""
    found = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if found is not None:
        return found
    msg = OutboxMessage(
        kind=kind,
        destination=destination,
        transport=transport,
        idempotency_key=key,
        payload=payload,
    )
    session.add(msg)
    session.flush()
    return msg


def enqueue_later(
    session: Session, func_name: str, *ids: int | str, queue: str, dedupe_key: str, key: str
) -> OutboxMessage:
    """Ask for a queue job as part of the caller's transaction."""
    payload = {"func": func_name, "args": list(ids), "dedupe_key": dedupe_key}
    return add_message(
        session, kind="enqueue", destination=queue, transport="queue", key=key, payload=payload
    )


def withdraw_job_orders(session: Session, plan_version: int, reason: str) -> int:
    """A superseded plan's job orders that have not gone out yet never will: its pending deliver
    and start rows are closed with the reason (a delivered job order is refused at start)."""
    suffix = f"-v{plan_version}"
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "job_order",
            OutboxMessage.status == OutboxStatus.PENDING,
            (OutboxMessage.idempotency_key.like(f"jo:JO-%{suffix}:%"))
            | (OutboxMessage.idempotency_key.like(f"start:JO-%{suffix}")),
        )
    ).all()
    for row in rows:
        row.status, row.last_error = OutboxStatus.DEAD, f"withdrawn: {reason}"
    return len(rows)


def due(session: Session, kind: str, limit: int, now: datetime) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == kind,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _due_enqueue(before: datetime) -> Any:
    return (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.kind == "enqueue",
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= before,
        )
        .limit(1)
    )


CLAIM_LEASE = timedelta(seconds=60)  # a claimed row is skipped by other flushes meanwhile


def flush_enqueues(ctx: AppContext, limit: int = 100) -> int:
    """Hand due `enqueue` messages to the queue; a broker outage leaves them for the next pass.

    Rows are claimed with a lease in one short transaction and marked in another, with the
    enqueue (which may run the job in-process) in between, outside any transaction: two flushes,
    in two web workers or a worker and the dispatcher, never hand one row to the queue twice.
    Backoff only spares a broker that is away: once it answers again, every waiting message goes
    at once. The broker is asked only when something waits (this runs after every write request).
    """
    delivered = 0
    for msg_id, func, payload, queue, attempts in _claim_enqueues(ctx, limit):
        try:
            # an order's lines must be seen by the job: never join one already running
            record = ctx.queue.enqueue(
                func,
                *payload["args"],
                queue=queue,
                dedupe_key=payload.get("dedupe_key"),
                join_running=False,
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            retry = datetime.now(UTC) + timedelta(seconds=ENQUEUE_BACKOFF.delay(attempts + 1))
            _settle(ctx, msg_id, error=f"{exc.__class__.__name__}: {exc}", retry_at=retry)
            continue
        _settle(ctx, msg_id, receipt={"job_record_id": record})
        delivered += 1
    return delivered


def _claim_enqueues(ctx: AppContext, limit: int) -> list[tuple[int, Any, dict[str, Any], str, int]]:
    now = datetime.now(UTC)
    claimed = []
    horizon = now + timedelta(seconds=ENQUEUE_BACKOFF.max_s)
    with ctx.db.sessions() as s:  # a read first: most write requests asked for no work
        if not s.scalar(_due_enqueue(horizon)):
            return []
    with ctx.db.transaction() as s:
        msgs = due(s, "enqueue", limit, horizon)
        if any(m.next_attempt_at > now for m in msgs) and not _broker_answers(ctx):
            msgs = [m for m in msgs if m.next_attempt_at <= now]
        for msg in msgs:
            func = job_function(str(msg.payload["func"]))  # a bare name in orders.jobs
            if func is None:
                msg.status, msg.last_error = (
                    OutboxStatus.DEAD,
                    f"unknown job {msg.payload['func']!r}",
                )
                continue
            msg.next_attempt_at = now + CLAIM_LEASE
            claimed.append((msg.id, func, dict(msg.payload), msg.destination, msg.attempts))
    return claimed


def _settle(
    ctx: AppContext,
    msg_id: int,
    *,
    receipt: dict[str, Any] | None = None,
    error: str = "",
    retry_at: datetime | None = None,
) -> None:
    with ctx.db.transaction() as s:
        msg = s.get_one(OutboxMessage, msg_id)
        if receipt is not None:
            msg.status, msg.delivered_at, msg.receipt = (
                OutboxStatus.DELIVERED,
                datetime.now(UTC),
                receipt,
            )
        else:
            msg.attempts += 1
            msg.last_error = error
            msg.next_attempt_at = retry_at or datetime.now(UTC)


def _broker_answers(ctx: AppContext) -> bool:
    if ctx.queue.backend != "rq":
        return True
    try:
        return bool(ctx.queue.redis().ping())
    except (RedisError, OSError):
        return False


def requeue_lost(ctx: AppContext, limit: int = 100) -> int:
    """Queue again the jobs a broker restart forgot: the record says queued, Redis has no such
    job (Redis without persistence loses its queues). Jobs load their own rows, so the rare
    double run this could cause is harmless; a lost job is not."""
    if ctx.queue.backend != "rq":
        return requeue_orphans(ctx, limit)
    from rq.job import Job

    cutoff = datetime.now(UTC) - timedelta(seconds=LOST_GRACE_S)
    with ctx.db.sessions() as s:
        rows = s.execute(
            select(
                JobRecord.id, JobRecord.func, JobRecord.args, JobRecord.queue, JobRecord.dedupe_key
            )
            .where(
                JobRecord.backend == "rq",
                JobRecord.state == JobState.QUEUED,
                JobRecord.created_at < cutoff,
            )
            .order_by(JobRecord.created_at)
            .limit(limit)
        ).all()
    requeued = 0
    try:
        for row in rows:
            func = job_function(row.func)
            if func is None or Job.exists(row.id, ctx.queue.redis()):
                continue
            try:
                ctx.queue.enqueue(func, *row.args, queue=row.queue, dedupe_key=row.dedupe_key)
            except (RedisError, OSError):
                _set_state(ctx, row.id, JobState.QUEUED, "lost by the broker; not yet re-queued")
                raise
            _set_state(ctx, row.id, JobState.FAILED, "lost by the broker; enqueued again")
            requeued += 1
    except (RedisError, OSError):
        pass  # the broker is away again: the next pass tries again
    return requeued


def requeue_orphans(ctx: AppContext, limit: int = 100) -> int:
    """Run again the in-process jobs whose process is gone (a web worker recycled or killed
    mid-job): their records would otherwise say queued or started for ever, and every new
    request for the same work would join them. Each is claimed once (``expire``)."""
    from orders.adapters.queue import ACTIVE, expire, process_alive

    with ctx.db.sessions() as s:
        rows = s.execute(
            select(
                JobRecord.id,
                JobRecord.func,
                JobRecord.args,
                JobRecord.queue,
                JobRecord.dedupe_key,
                JobRecord.owner,
            )
            .where(JobRecord.backend == "inprocess", JobRecord.state.in_(ACTIVE))
            .order_by(JobRecord.created_at)
            .limit(limit)
        ).all()
    again = 0
    for row in rows:
        func = job_function(row.func)
        if func is None or process_alive(row.owner) is not False:
            continue
        if expire(ctx, row.id, f"expired: its process {row.owner} is gone; run again"):
            ctx.queue.enqueue(func, *row.args, queue=row.queue, dedupe_key=row.dedupe_key)
            again += 1
    return again


def _set_state(ctx: AppContext, record_id: str, state: JobState, error: str) -> None:
    with ctx.db.transaction() as s:
        record = s.get_one(JobRecord, record_id)
        record.state, record.error = state, error
        record.ended_at = datetime.now(UTC) if state == JobState.FAILED else None
