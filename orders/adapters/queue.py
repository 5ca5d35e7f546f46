"""One way to run background work: RQ when Redis is configured, in-process otherwise.

Both paths go through `execute()`, so a job leaves the same `JobRecord` trail either way.
Job functions take `(ctx, *ids)`; they load their own rows, so a job can run twice safely.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from orders.models import JobRecord, JobState
from orders.models._types import utcnow

if TYPE_CHECKING:
    from orders.context import AppContext

log = logging.getLogger(__name__)

# Floor delivery is not a queue: `hunar dispatch` drains the database outbox (see outbox.py).
QUEUES = ("cad", "plan")
JOB_MODULES = ("orders.jobs",)  # job functions are resolved only from these modules


class InfrastructureError(Exception):
    """A broker, database or network hiccup: the only kind of failure RQ retries."""


class UnknownQueue(ValueError):
    pass


RQ_ENTRY = "orders.jobs.run_queued"  # what a worker calls: it builds the worker's context
INPROCESS_RETRY_S = (5, 15, 45)  # as RQ's Retry: infrastructure trouble is tried again
ACTIVE = (JobState.QUEUED, JobState.STARTED)


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks (Linux /proc), so a reused pid is not mistaken
    for the process that owned a job."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def process_tag() -> str:
    """``host:pid:start`` of this process: the owner written on its in-process job records."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or '-'}"


def process_alive(tag: str | None) -> bool | None:
    """Whether the process named by ``tag`` still runs; None when this host cannot tell."""
    if not tag or tag.count(":") < 2:
        return None
    host, pid, start = tag.rsplit(":", 2)
    if host != socket.gethostname() or start == "-" or not pid.isdigit():
        return None
    return _start_ticks(int(pid)) == start


def expire(ctx: AppContext, record_id: str, why: str) -> bool:
    """Mark an active record failed, once: of racing callers, only the one that wins runs it
    again (a conditional update, so two web workers never both re-run a dead job)."""
    with ctx.db.transaction() as s:
        done = s.execute(
            update(JobRecord)
            .where(JobRecord.id == record_id, JobRecord.state.in_(ACTIVE))
            .values(state=JobState.FAILED, ended_at=utcnow(), error=why)
        )
    return bool(getattr(done, "rowcount", 0))


def _func_path(func: Callable[..., Any] | str) -> str:
    """`module:name` of a job, given the function or its path (commands name jobs by path, so
    the queue never imports the job modules that call the commands)."""
    if isinstance(func, str):
        if job_function(func) is None:
            raise ValueError(f"{func} is not a job in {', '.join(JOB_MODULES)}")
        module, sep, name = func.partition(":")
        return func if sep else f"{JOB_MODULES[0]}:{module}"
    path = f"{func.__module__}:{func.__qualname__}"
    if func.__module__ not in JOB_MODULES:
        raise ValueError(f"{path} is not a registered job module ({', '.join(JOB_MODULES)})")
    return path


def job_function(path: str) -> Callable[..., Any] | None:
    """A job by `module:name`, or by its bare name in `orders.jobs` (as the outbox stores it);
    None for anything else, so a stored row can never name an arbitrary callable."""
    module, sep, name = path.partition(":")
    if not sep:
        module, name = JOB_MODULES[0], path
    if module not in JOB_MODULES:
        return None
    func = getattr(importlib.import_module(module), name, None)
    # only functions defined there: not dunders or names the module merely imported
    return func if callable(func) and getattr(func, "__module__", None) == module else None


def _resolve(path: str) -> Callable[..., Any]:
    func = job_function(path)
    if func is None:
        raise ValueError(f"refusing to run {path}: not in a job module")
    return func


class JobQueue:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._redis: Redis | None = None

    @property
    def backend(self) -> str:
        return "rq" if self.ctx.settings.redis_url else "inprocess"

    def redis(self) -> Redis:
        if self._redis is None:
            if not self.ctx.settings.redis_url:
                raise RuntimeError("no HUNAR_REDIS_URL configured")
            # a Redis that hangs (not just dies) must not hang the web request that enqueues
            self._redis = Redis.from_url(
                self.ctx.settings.redis_url,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )
        return self._redis

    def rq_queue(self, name: str) -> Queue:
        return Queue(name, connection=self.redis())

    def enqueue(
        self,
        func: Callable[..., Any] | str,
        *ids: int | str,
        queue: str,
        dedupe_key: str | None = None,
        timeout_s: int | None = None,
        join_running: bool = True,
    ) -> str:
        """Record the job, then run it (in-process) or hand it to RQ. Returns the record id.

        A request with the same `dedupe_key` joins a job still queued, and with `join_running`
        also one already running. Work that the job must see (an order placed now) must not join a
        running job, which may have read its inputs already.
        """
        if queue not in QUEUES:
            raise UnknownQueue(f"unknown queue '{queue}', expected one of {QUEUES}")
        path = _func_path(func)
        existing = self._active_duplicate(dedupe_key, join_running)
        if existing is not None:
            return existing
        record_id = str(uuid.uuid4())
        with self.ctx.db.transaction() as s:
            s.add(
                JobRecord(
                    id=record_id,
                    queue=queue,
                    func=path,
                    args=list(ids),
                    dedupe_key=dedupe_key,
                    backend=self.backend,
                    owner=process_tag() if self.backend == "inprocess" else None,
                )
            )
        if self.backend == "inprocess" and self.ctx.settings.inprocess_jobs == "thread":
            _background().submit(_execute_logged, record_id, path, *ids, ctx=self.ctx)
        elif self.backend == "inprocess":
            execute(record_id, path, *ids, ctx=self.ctx)
        else:
            try:
                self.rq_queue(queue).enqueue(
                    RQ_ENTRY,
                    record_id,
                    path,
                    *ids,
                    job_id=record_id,
                    job_timeout=timeout_s or self._default_timeout(queue),
                    retry=Retry(max=3, interval=[5, 15, 45]),
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                )
            except (RedisError, OSError) as exc:
                _mark(
                    self.ctx,
                    record_id,
                    state=JobState.FAILED,
                    ended_at=utcnow(),
                    error=f"not queued, broker unavailable: {exc}",
                )
                raise
        return record_id

    def _default_timeout(self, queue: str) -> int:
        s = self.ctx.settings
        return {"cad": s.cad_job_timeout_s, "plan": s.plan_job_timeout_s}.get(queue, 120)

    def _active_duplicate(self, dedupe_key: str | None, join_running: bool = True) -> str | None:
        if dedupe_key is None:
            return None
        active = ACTIVE if join_running else (JobState.QUEUED,)
        with self.ctx.db.sessions() as s:
            row = s.execute(
                select(JobRecord.id, JobRecord.owner).where(
                    JobRecord.dedupe_key == dedupe_key, JobRecord.state.in_(active)
                )
            ).first()
        found = row.id if row is not None else None
        if row is not None and process_alive(row.owner) is False:
            # its web worker is gone (recycled, killed): joining it would wait for ever
            expire(self.ctx, row.id, f"expired: its process {row.owner} is gone; run again")
            return None
        if found is not None and self.backend == "rq" and not Job.exists(found, self.redis()):
            # The broker lost it (e.g. Redis restarted without persistence): not a duplicate.
            _mark(
                self.ctx,
                found,
                state=JobState.FAILED,
                ended_at=utcnow(),
                error="lost by the broker; enqueued again",
            )
            return None
        return found

    def status(self, record_id: str) -> JobRecord | None:
        with self.ctx.db.sessions() as s:
            return s.get(JobRecord, record_id)


_pool: ThreadPoolExecutor | None = None


def _background() -> ThreadPoolExecutor:
    """One background thread per process for in-process jobs (made on first use, not import)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hunar-job")
    return _pool


def _execute_logged(
    record_id: str, path: str, *ids: int | str, ctx: AppContext, tries: int = 0
) -> Any:
    """`execute` on the in-process executor, where nobody awaits the future: a failure outside
    the job (its bookkeeping) is logged and left on the record, never lost. Infrastructure
    trouble (a slicer timed out under load, a database locked or away, even while the job's
    own record is written) is tried again later, as RQ would, up to len(INPROCESS_RETRY_S)."""
    try:
        return execute(record_id, path, *ids, ctx=ctx)
    except (InfrastructureError, OperationalError) as exc:
        if tries < len(INPROCESS_RETRY_S):
            delay = INPROCESS_RETRY_S[tries]
            log.warning("in-process job %s: %s; again in %s s", record_id, exc, delay)
            timer = threading.Timer(
                delay, _retry, (record_id, path, *ids), {"ctx": ctx, "tries": tries + 1}
            )
            timer.daemon = True
            timer.start()
            return None
        _record_failure(ctx, record_id, f"gave up: {exc}")
        return None
    except Exception as exc:  # noqa: BLE001 - recorded below; the executor would swallow it
        log.exception("in-process job %s (%s) failed outside the job", record_id, path)
        _record_failure(ctx, record_id, repr(exc)[:500])
        return None


def _retry(record_id: str, path: str, *ids: int | str, ctx: AppContext, tries: int) -> None:
    """Back on the job thread; a process shutting down takes no new work, and the record,
    still queued or started, is run again by another process's orphan sweep."""
    try:
        _background().submit(_execute_logged, record_id, path, *ids, ctx=ctx, tries=tries)
    except RuntimeError:
        log.warning("in-process job %s not retried here: the process is shutting down", record_id)


def _record_failure(ctx: AppContext, record_id: str, error: str) -> None:
    try:
        _mark(ctx, record_id, state=JobState.FAILED, ended_at=utcnow(), error=error)
    except Exception:  # noqa: BLE001 - the database itself is away: the log has it
        log.exception("could not record the failure of job %s", record_id)


def _mark(ctx: AppContext, record_id: str, **values: Any) -> None:
    with ctx.db.transaction() as s:
        record = s.get(JobRecord, record_id)
        if record is None:
            raise LookupError(f"job record {record_id} vanished")
        for k, v in values.items():
            setattr(record, k, v)


def report_progress(ctx: AppContext, record_id: str, stage: str, fraction: float) -> None:
    """Progress for the web's progress bars: on the record, and on the RQ job when there is one."""
    _mark(ctx, record_id, progress={"stage": stage, "fraction": round(fraction, 3)})
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:  # noqa: BLE001 - outside a worker there is simply no job
        job = None
    if job is not None:
        job.meta["progress"] = {"stage": stage, "fraction": fraction}
        job.save_meta()


def execute(record_id: str, path: str, *ids: int | str, ctx: AppContext) -> Any:
    """Run one job and record its outcome. Only infrastructure trouble propagates (RQ retries
    it): an `InfrastructureError`, or the database locked or away (`OperationalError`)."""
    with ctx.db.sessions() as s:
        attempts = (s.get(JobRecord, record_id) or JobRecord(attempts=0)).attempts
    _mark(ctx, record_id, state=JobState.STARTED, started_at=utcnow(), attempts=attempts + 1)
    try:
        result = _resolve(path)(ctx, *ids, job_record_id=record_id)
    except (InfrastructureError, OperationalError) as exc:  # a locked or lost database too
        _mark(ctx, record_id, state=JobState.QUEUED, error=f"retrying: {exc}")
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the job row, never lost
        _mark(
            ctx,
            record_id,
            state=JobState.FAILED,
            ended_at=utcnow(),
            error="".join(traceback.format_exception_only(exc)).strip(),
        )
        return None
    _mark(
        ctx,
        record_id,
        state=JobState.FINISHED,
        ended_at=utcnow(),
        result=result if isinstance(result, dict) else {"value": result},
    )
    return result
