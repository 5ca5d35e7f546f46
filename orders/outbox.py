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

from orders.models import JobRecord, JobState, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from orders.context import AppContext

MAX_BACKOFF_S = 300
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


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF_S, 2 ** max(0, attempts)))


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


def flush_enqueues(ctx: AppContext, limit: int = 100) -> int:
    """Hand due `enqueue` messages to the queue; a broker outage leaves them for the next pass.

    Backoff only spares a broker that is away: once it answers again, every waiting message goes
    at once, so orders placed early in a long outage are not held back for minutes after it. The
    broker is asked only when something waits (this runs after every write request).
    """
    from orders.queue import job_function

    delivered = 0
    now = datetime.now(UTC)
    with ctx.db.transaction() as s:
        msgs = due(s, "enqueue", limit, now + timedelta(seconds=MAX_BACKOFF_S))
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
            try:
                # an order's lines must be seen by the job: never join one already running
                record = ctx.queue.enqueue(
                    func,
                    *msg.payload["args"],
                    queue=msg.destination,
                    dedupe_key=msg.payload.get("dedupe_key"),
                    join_running=False,
                )
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                msg.attempts += 1
                msg.last_error = f"{exc.__class__.__name__}: {exc}"
                msg.next_attempt_at = now + backoff(msg.attempts)
                continue
            msg.status, msg.delivered_at = OutboxStatus.DELIVERED, datetime.now(UTC)
            msg.receipt = {"job_record_id": record}
            delivered += 1
    return delivered


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
        return 0
    from rq.job import Job

    from orders.queue import job_function

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


def _set_state(ctx: AppContext, record_id: str, state: JobState, error: str) -> None:
    with ctx.db.transaction() as s:
        record = s.get_one(JobRecord, record_id)
        record.state, record.error = state, error
        record.ended_at = datetime.now(UTC) if state == JobState.FAILED else None
