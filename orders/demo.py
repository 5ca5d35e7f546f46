"""`hunar demo`: the whole story on one machine, from customers configuring parts to operators
reporting scrap and a breakdown, ending with a report (console and HTML)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import configurator
from configurator.samples import random_raw, sample_configs
from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.adapters.outbox import flush_enqueues
from orders.adapters.store import store_for
from orders.commands.accounts import create_user
from orders.commands.artifacts import request_build
from orders.commands.audit import Actor
from orders.commands.designs import save_configuration
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, create_proposal
from orders.commands.release import release
from orders.context import AppContext
from orders.errors import DomainError, NotMakeable
from orders.models import Artifact, Machine, Order, Role, Schedule
from orders.queries.catalog import load_config
from orders.queries.shop_state import machine_specs
from orders.seed import seed_shop

Progress = Callable[[str, int], Any]  # label, total -> context manager with .update(n)
TIERS = ("economy", "standard", "standard", "express")

DEMO_URL = "http://127.0.0.1:5000"  # `flask run` on this machine


@dataclass
class DemoReport:
    rejected: list[str] = field(default_factory=list)
    orders: int = 0
    lines: int = 0
    designs: int = 0
    transports: dict[str, str] = field(default_factory=dict)
    delivered: int = 0
    events: Counter[str] = field(default_factory=Counter)
    kpis: dict[str, Any] = field(default_factory=dict)
    reschedule: dict[str, Any] = field(default_factory=dict)
    files_ok: int = 0
    files_bad: int = 0
    states: dict[str, int] = field(default_factory=dict)


def _designs(rng: random.Random, per_family: int) -> list[configurator.Configuration]:
    pool = []
    for fam in configurator.all_families():
        pool += sample_configs(fam, per_family, seed=rng.randint(0, 10_000))
    return pool


def simulate_customers(
    ctx: AppContext,
    customers: int,
    lines: int,
    rng: random.Random,
    progress: Progress,
    report: DemoReport,
) -> None:
    """Customers configure from popular designs (and sometimes type nonsense); orders are placed."""
    pool = _designs(rng, max(2, lines // 30))
    with ctx.db.transaction() as s:
        specs = machine_specs(s)
        users = [
            create_user(
                s, f"cust{i}-{uuid.uuid4().hex[:4]}@demo.example", "demo-password-1", Role.CUSTOMER
            ).id
            for i in range(customers)
        ]
    per_customer = [
        lines // customers + (1 if i < lines % customers else 0) for i in range(customers)
    ]
    with progress(f"{customers} customers configure and order", customers) as bar:
        for cid, n in zip(users, per_customer, strict=True):
            _shop(ctx, cid, n, rng, pool, specs, report)
            bar.update(1)


def _shop(
    ctx: AppContext,
    cid: int,
    n: int,
    rng: random.Random,
    pool: list[configurator.Configuration],
    specs: list[configurator.MachineSpec],
    report: DemoReport,
) -> None:
    """One customer's visit: configure n lines (some refused with their reason), then order."""
    requests = []
    with ctx.db.transaction() as s:
        for _ in range(n):
            req = _configure(s, rng, pool, specs, report, cid)
            if req is not None:
                requests.append(req)
    if requests:
        with ctx.db.transaction() as s:
            place_order(
                s,
                cid,
                requests,
                uuid.uuid4().hex,
                Actor(f"customer {cid}", cid),
                ctx.settings.currency,
            )
        report.orders += 1
        report.lines += len(requests)


def _configure(
    s: Any,
    rng: random.Random,
    pool: list[configurator.Configuration],
    specs: list[configurator.MachineSpec],
    report: DemoReport,
    cid: int,
) -> LineRequest | None:
    roll = rng.random()
    if roll < 0.06:  # a customer types nonsense into the form
        fam = rng.choice(configurator.all_families())
        raw = random_raw(fam, rng, junk_rate=0.5)
        try:
            row = save_configuration(s, fam.key, raw, cid)
        except DomainError as exc:
            report.rejected.append(f"{fam.key}: invalid — {exc.message[:140]}")
            return None
    else:
        row = save_configuration(s, *_pick(rng, pool), cid)
    qty = rng.choice((1, 1, 2, 3, 5)) if roll > 0.04 else 5000  # a few ask for far too many
    verdict = configurator.feasible(load_config(row), specs, qty)
    if not verdict.ok:
        report.rejected.append(f"{row.family_key}: infeasible — {verdict.reasons[0].message[:140]}")
        return None
    return LineRequest(row.id, qty, rng.choice(TIERS))


def _pick(rng: random.Random, pool: list[configurator.Configuration]) -> tuple[str, dict[str, Any]]:
    c = rng.choice(pool)
    return c.family_key, dict(c.values)


def build_all(
    ctx: AppContext, progress: Progress, report: DemoReport, timeout_s: float = 3600
) -> None:
    """Ask for every design's CAD, then wait for the jobs (on workers when Redis is configured).

    Never waits forever: a job the broker lost is queued again and followed (`_JobWait`), and
    the wait stops naming the jobs when none moved for a while or `timeout_s` is up."""
    from orders.models import ProductConfiguration

    with ctx.db.sessions() as s:
        ids = list(s.scalars(select(ProductConfiguration.id).order_by(ProductConfiguration.id)))
    report.designs = len(ids)
    with progress("building CAD (STEP, STL/3MF, DXF, GLB, G-code)", len(ids)) as bar:
        # in-process (sync) each call builds; with workers it only queues
        jobs = set()
        for cid in ids:  # a design no machine here can make is refused, not built
            try:
                jobs.add(request_build(ctx, cid))
            except NotMakeable as exc:
                report.rejected.append(f"configuration {cid}: not built — {exc.message[:140]}")
        # a CAD job runs at most cad_job_timeout_s: twice that with no job moving is a stall
        stall_s = 2 * ctx.settings.cad_job_timeout_s + 60
        wait = _JobWait(ctx, "CAD build", jobs, timeout_s=timeout_s, stall_s=stall_s)
        shown = 0
        while True:
            done = sum(job.state in _JobWait.ENDED for job in wait.poll())
            bar.update(done - shown)
            shown = done
            if shown == len(jobs):
                break
            time.sleep(0.5)
    flush_enqueues(ctx)  # the orders' own requests: cache hits now


class _JobWait:
    """A wait on queue jobs that cannot hang (used by `build_all` and `await_plan`).

    With RQ, every few seconds it has `requeue_lost` queue again what the broker forgot (a record
    still queued whose RQ job is gone: Redis restarted without persistence, or its database was
    flushed) and follows each lost job to its replacement. It gives up, naming the jobs, when a
    job started on a worker has vanished from the broker and outlived its time limit (no one will
    finish it), when no job moved for `stall_s`, or at the overall deadline."""

    CHECK_S = 5.0  # how often the broker is asked about lost jobs
    LOST = "lost by the broker"  # how `requeue_lost` and the queue mark a record they replaced
    ENDED = ("finished", "failed")  # JobState values (a StrEnum: equal to these strings)

    def __init__(
        self,
        ctx: AppContext,
        what: str,
        record_ids: Any,
        *,
        timeout_s: float,
        stall_s: float | None = None,
    ) -> None:
        self.ctx, self.what, self.timeout_s, self.stall_s = ctx, what, timeout_s, stall_s
        self.ids = list(dict.fromkeys(record_ids))
        now = time.monotonic()
        self.deadline, self.moved_at, self.checked_at = now + timeout_s, now, now - self.CHECK_S
        self.seen: Any = None

    def watch(self, record_id: str) -> None:
        if record_id not in self.ids:
            self.ids.append(record_id)

    def poll(self) -> list[Any]:
        """Each job's current record (a lost job's replacement in its place), or an error."""
        from types import SimpleNamespace

        from orders.adapters.outbox import requeue_lost
        from orders.models import JobRecord, JobState

        now = time.monotonic()
        check = self.ctx.queue.backend == "rq" and now - self.checked_at >= self.CHECK_S
        if check:
            self.checked_at = now
            requeue_lost(self.ctx)  # queues again what the broker forgot (after a short grace)
        with self.ctx.db.sessions() as s:
            found = s.execute(select(*self._columns()).where(JobRecord.id.in_(self.ids)))
            jobs = {r.id: SimpleNamespace(**r._asdict()) for r in found}
            for i, rid in enumerate(self.ids):
                if rid in jobs and self._lost(jobs[rid]):
                    new = self._replacement(s, jobs[rid])
                    if new is not None:  # follow it from now on
                        self.ids[i], jobs[new.id] = new.id, new
                    else:  # being queued again right now: still waiting, not failed
                        jobs[rid].state = JobState.QUEUED
        current = [jobs[rid] for rid in self.ids if rid in jobs]
        snapshot = sorted((j.id, j.state, j.attempts, str(j.progress)) for j in current)
        if snapshot != self.seen:
            self.seen, self.moved_at = snapshot, now
        waiting = [j for j in current if j.state not in self.ENDED]
        if check and waiting:
            self._fail_on_vanished_running(waiting)
        if waiting and now > self.deadline:
            raise TimeoutError(
                f"{self.what}: gave up after {self.timeout_s:.0f} s; {self._name(waiting)}"
            )
        if waiting and self.stall_s is not None and now - self.moved_at > self.stall_s:
            raise TimeoutError(
                f"{self.what}: no job moved for {self.stall_s:.0f} s; {self._name(waiting)}"
            )
        return current

    @staticmethod
    def _columns() -> tuple[Any, ...]:
        from orders.models import JobRecord

        return (
            JobRecord.id,
            JobRecord.state,
            JobRecord.attempts,
            JobRecord.progress,
            JobRecord.error,
            JobRecord.func,
            JobRecord.args,
            JobRecord.queue,
            JobRecord.dedupe_key,
            JobRecord.created_at,
            JobRecord.started_at,
        )

    def _lost(self, job: Any) -> bool:
        return job.state == "failed" and self.LOST in (job.error or "")

    def _replacement(self, s: Any, row: Any) -> Any:
        """The record queued again in place of a lost one: same call, made after it."""
        from types import SimpleNamespace

        from orders.models import JobRecord

        query = select(*self._columns()).where(
            JobRecord.func == row.func,
            JobRecord.queue == row.queue,
            JobRecord.created_at >= row.created_at,
            JobRecord.id != row.id,
        )
        if row.dedupe_key is not None:
            query = query.where(JobRecord.dedupe_key == row.dedupe_key)
        for cand in s.execute(query.order_by(JobRecord.created_at.desc())):
            if list(cand.args) == list(row.args):
                return SimpleNamespace(**cand._asdict())
        return None

    def _fail_on_vanished_running(self, waiting: list[Any]) -> None:
        """A started job the broker no longer has, past its time limit: nobody will finish it."""
        from redis.exceptions import RedisError
        from rq.job import Job

        from orders.models import JobState

        settings = self.ctx.settings
        for row in waiting:
            if row.state != JobState.STARTED or row.started_at is None:
                continue
            limit = {"cad": settings.cad_job_timeout_s, "plan": settings.plan_job_timeout_s}
            age = (datetime.now(UTC) - row.started_at).total_seconds()
            if age <= limit.get(row.queue, 120) + 60:
                continue
            try:
                gone = not Job.exists(row.id, self.ctx.queue.redis())
            except (RedisError, OSError):
                continue  # the broker is away: the stall and deadline checks still apply
            if gone:
                raise RuntimeError(
                    f"{self.what}: job {self.describe(row)} started {age:.0f} s ago, is past its "
                    "time limit and the broker no longer has it (Redis restarted or was "
                    "flushed while it ran); it will not finish"
                )

    def describe(self, row: Any) -> str:
        call = f"{str(row.func).rpartition(':')[2]}({', '.join(map(str, row.args))})"
        return f"{row.id} ({call} on the {row.queue} queue, {row.state.value})"

    def _name(self, waiting: list[Any]) -> str:
        queues = ", ".join(sorted({r.queue for r in waiting}))
        shown = "; ".join(self.describe(r) for r in waiting[:5])
        more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
        return (
            f"still waiting for {len(waiting)} job(s): {shown}{more}. "
            f"Is a worker running on the {queues} queue?"
        )


def solved(
    ctx: AppContext, objective: str, seconds: float, progress: Progress, note: str | None = None
) -> int:
    """A proposal solved on the plan queue (in-process without Redis); waits for the result."""
    with ctx.db.transaction() as s:
        sid = create_proposal(s, objective, seconds, 21, Actor("demo planner"), note).id
    return await_plan(ctx, sid, seconds, progress, f"solving plan {sid} ({objective})")


def await_plan(
    ctx: AppContext,
    sid: int,
    seconds: float,
    progress: Progress,
    label: str,
    grace_s: float = 120,
) -> int:
    """Hand queued solves over and wait, with a bar on the solver's clock.

    Never waits forever: a solve the broker lost is queued again (`_JobWait`), a solve job that
    failed stops the wait at once, and the wait ends with an error naming the job after the
    solver's time limit plus `grace_s`."""
    from orders.models import JobRecord, JobState

    # in-process the solve runs inside the flush, so flush on a thread and watch the clock here
    flusher = threading.Thread(target=flush_enqueues, args=(ctx,), daemon=True)
    flusher.start()
    start, total, shown = time.monotonic(), max(1, int(seconds)), 0
    wait = _JobWait(ctx, f"plan {sid}", [], timeout_s=seconds + grace_s)
    flushed_at = start
    with progress(f"{label}, up to {total} s", total) as bar:
        while True:
            with ctx.db.sessions() as s:
                if s.get_one(Schedule, sid).solver_status != "PENDING":
                    bar.update(total - shown)
                    return sid
                if not wait.ids:  # the solve's job, once the flush has queued it
                    first = s.scalar(
                        select(JobRecord.id)
                        .where(JobRecord.dedupe_key == f"plan:{sid}")
                        .order_by(JobRecord.created_at)
                    )
                    if first is not None:
                        wait.watch(first)  # the wait follows it to any replacement
            if not wait.ids and not flusher.is_alive() and time.monotonic() - flushed_at > 5:
                flushed_at = time.monotonic()  # not handed over yet (broker away): try again
                flush_enqueues(ctx)
            rows = wait.poll()  # raises at the deadline, naming the job
            failed = [r for r in rows if r.state == JobState.FAILED]
            if rows and failed == rows:
                with ctx.db.sessions() as s:
                    if s.get_one(Schedule, sid).solver_status != "PENDING":
                        continue  # it finished meanwhile: the next pass returns
                raise RuntimeError(
                    f"plan {sid} was not solved: job {wait.describe(failed[-1])} failed: "
                    f"{failed[-1].error}"
                )
            if not wait.ids and time.monotonic() > wait.deadline:
                raise TimeoutError(
                    f"plan {sid} was not solved: its solve was never handed to the plan queue "
                    f"in {seconds + grace_s:.0f} s (is the broker reachable?)"
                )
            tick = min(total, int(time.monotonic() - start))
            bar.update(tick - shown)
            shown = tick
            time.sleep(0.5)


def plan_and_release(
    ctx: AppContext, seconds: float, progress: Progress, report: DemoReport
) -> int:
    planner = Actor("demo planner")
    sid = solved(ctx, "due_dates", seconds, progress)
    with ctx.db.transaction() as s:
        row = approve(s, sid, planner)
        report.kpis = dict(row.kpis)
        # No request here: HUNAR_PUBLIC_URL, else the local dev server the demo tells you to open.
        release(s, sid, planner, ctx.settings.base_url() or DEMO_URL)
    return sid


def connect_floor(ctx: AppContext, workdir: Path, report: DemoReport) -> list[Any]:
    """Point machines at real peers: MQTT broker, an OPC UA receiver, a virtual OctoPrint.

    Machines whose peer is not available use a hot folder under var/, and the report says so.
    """
    from mes_bridge.transports.opcua_receiver import JobControlReceiver
    from orders.demo_peers import mqtt_reachable, start_octoprint
    from orders.floor_intake import opcua_state_listener

    stoppers: list[Any] = []
    receiver = JobControlReceiver(on_state=opcua_state_listener(ctx))
    receiver.start()
    stoppers.append(receiver.stop)
    octo = start_octoprint(ctx.settings.octoprint_bin, workdir / "octoprint")
    if octo is not None:
        stoppers.append(octo.stop)
    mqtt_ok = mqtt_reachable(ctx.settings.mqtt_host, ctx.settings.mqtt_port)
    with ctx.db.transaction() as s:
        for m in s.scalars(select(Machine)):
            if m.transport == "octoprint" and octo is not None:
                m.transport_config = {"url": octo.url, "api_key": octo.api_key}
            elif m.transport == "opcua":
                m.transport_config = {"endpoint": receiver.endpoint}
            elif m.transport in ("octoprint", "webhook") or (m.transport == "mqtt" and not mqtt_ok):
                m.transport = "folder"
            report.transports[m.id] = m.transport
    return stoppers


def deliver(ctx: AppContext, progress: Progress, report: DemoReport, rounds: int = 20) -> None:
    from orders.adapters.floor_dispatch import dispatch_job_orders, transports_for
    from orders.models import OutboxMessage, OutboxStatus

    with ctx.db.sessions() as s:
        pending = (
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.kind == "job_order", OutboxMessage.status == OutboxStatus.PENDING
                )
            )
            or 0
        )
    transports = transports_for(ctx)
    try:
        with progress("delivering job orders", max(1, pending)) as bar:
            for _ in range(rounds):
                got = dispatch_job_orders(ctx, transports)
                report.delivered += got["delivered"]
                bar.update(got["delivered"] + got["rejected"])
                if got["retry_later"] == 0:
                    break
                time.sleep(1)
    finally:
        for t in transports.values():
            t.close()


def play_operators(
    ctx: AppContext, sid: int, progress: Progress, report: DemoReport, share: float = 0.6
) -> None:
    """Start and complete the first part of the plan, scrap a few parts, break one printer."""
    with ctx.db.sessions() as s:
        row = s.get_one(Schedule, sid)
        version = row.version
        seen: set[str] = set()
        jobs = []
        for a in sorted(row.assignments, key=lambda a: a.start):
            key = a.plate_key or str(a.operation_id)
            if key not in seen:
                seen.add(key)
                jobs.append((a.operation_id, a.machine_id))
    now = datetime.now(UTC)
    played = jobs[: int(len(jobs) * share)]
    with progress("operators start, complete and scrap", len(played)) as bar:
        for i, (op_id, _machine) in enumerate(played):
            _report_job(ctx, job_order_id(op_id, version), now, i % 9 == 4, report)
            bar.update(1)


def _report_job(ctx: AppContext, jo: str, now: datetime, scrap: bool, report: DemoReport) -> None:
    for kind in ["started", "completed"] + (["scrapped"] if scrap else []):
        ev = StatusEvent(
            jo,
            kind,
            now,
            uuid.uuid4().hex,
            "button",
            qty=1 if kind == "scrapped" else None,
            reason="layer shift" if kind == "scrapped" else "",
        )
        with ctx.db.transaction() as s:
            report.events[apply_event(s, ev, Actor("demo operator")).code] += 1


def break_a_machine(ctx: AppContext, progress: Progress, report: DemoReport) -> None:
    """A printer breaks down mid-plan; the floor asks for a new plan, which we wait for."""
    with ctx.db.transaction() as s:
        busy = s.scalar(select(Machine.id).where(Machine.process == "fdm").order_by(Machine.id))
        ev = StatusEvent(
            "",
            "machine_down",
            datetime.now(UTC),
            uuid.uuid4().hex,
            "mqtt",
            machine_id=str(busy),
            reason="hotend thermal runaway",
        )
        result = apply_event(s, ev, Actor("demo operator"))
        newest = s.scalars(select(Schedule).order_by(Schedule.version.desc())).first()
        sid, limit = (newest.id, float(newest.params.get("time_limit_s", 10))) if newest else (0, 0)
    if result.proposal_requested and newest is not None:
        await_plan(ctx, sid, limit, progress, f"rescheduling around machine {busy}")
    with ctx.db.sessions() as s:
        row = s.get(Schedule, sid)
        report.reschedule = {
            "machine": busy,
            "requested": result.proposal_requested,
            "status": row.solver_status if row else None,
            "kpis": (row.kpis or {}).get("proposal") if row else None,
        }


def verify_files(ctx: AppContext, report: DemoReport) -> None:
    from cad.store import sha256_file

    store = store_for(ctx)
    with ctx.db.sessions() as s:
        for art in s.scalars(select(Artifact)):
            ok = sha256_file(store.path(art.path)) == (art.sha256, art.bytes)
            report.files_ok += ok
            report.files_bad += not ok
        report.states = dict(
            s.execute(select(Order.status, func.count()).group_by(Order.status)).tuples().all()
        )


def run_demo(
    ctx: AppContext,
    progress: Progress,
    echo: Callable[[str], None],
    *,
    customers: int = 40,
    lines: int = 120,
    seed: int = 7,
    plan_seconds: float = 20,
    workdir: Path = Path("var/demo"),
) -> tuple[DemoReport, Path]:
    """Run the whole story and return the report and the HTML report's path."""
    from orders.demo_report import console, write_html

    rng = random.Random(seed)
    report = DemoReport()
    with ctx.db.transaction() as s:
        seed_shop(s)
    echo(f"{customers} customers configure and order about {lines} lines …")
    simulate_customers(ctx, customers, lines, rng, progress, report)
    build_all(ctx, progress, report)
    echo("planning with plate batching …")
    sid = plan_and_release(ctx, plan_seconds, progress, report)
    stoppers = connect_floor(ctx, workdir, report)
    try:
        echo("releasing job orders to the floor (MQTT, OPC UA, OctoPrint) …")
        deliver(ctx, progress, report)
        echo("operators start, complete and scrap; a printer breaks down …")
        play_operators(ctx, sid, progress, report)
        break_a_machine(ctx, progress, report)
    finally:
        for stop in stoppers:
            stop()
    verify_files(ctx, report)
    for line in console(report):
        echo(line)
    return report, write_html(ctx, report, sid, workdir / "report.html")
