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
from orders.context import AppContext
from orders.errors import DomainError
from orders.models import Artifact, Machine, Order, Role, Schedule
from orders.outbox import flush_enqueues
from orders.seed import seed_shop
from orders.services.accounts import create_user
from orders.services.artifacts import request_build, store_for
from orders.services.audit import Actor
from orders.services.capacity import machine_specs
from orders.services.catalog import load_config, save_configuration
from orders.services.floor import apply_event, job_order_id
from orders.services.ordering import LineRequest, place_order
from orders.services.planning import approve, create_proposal, release

Progress = Callable[[str, int], Any]  # label, total -> context manager with .update(n)
TIERS = ("economy", "standard", "standard", "express")


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
    """Ask for every design's CAD, then wait for the jobs (on workers when Redis is configured)."""
    from orders.models import JobRecord, JobState, ProductConfiguration

    with ctx.db.sessions() as s:
        ids = list(s.scalars(select(ProductConfiguration.id).order_by(ProductConfiguration.id)))
    report.designs = len(ids)
    ended = (JobState.FINISHED, JobState.FAILED)
    with progress("building CAD (STEP, STL/3MF, DXF, GLB, G-code)", len(ids)) as bar:
        # in-process (sync) each call builds; with workers it only queues
        jobs = {request_build(ctx, cid) for cid in ids}
        shown, deadline = 0, time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with ctx.db.sessions() as s:
                done = (
                    s.scalar(
                        select(func.count())
                        .select_from(JobRecord)
                        .where(JobRecord.id.in_(jobs), JobRecord.state.in_(ended))
                    )
                    or 0
                )
            bar.update(done - shown)
            shown = done
            if shown == len(jobs):
                break
            time.sleep(0.5)
    if shown < len(jobs):
        raise TimeoutError("CAD jobs did not finish; is a worker running on the cad queue?")
    flush_enqueues(ctx)  # the orders' own requests: cache hits now


def solved(
    ctx: AppContext, objective: str, seconds: float, progress: Progress, note: str | None = None
) -> int:
    """A proposal solved on the plan queue (in-process without Redis); waits for the result."""
    with ctx.db.transaction() as s:
        sid = create_proposal(s, objective, seconds, 21, Actor("demo planner"), note).id
    return await_plan(ctx, sid, seconds, progress, f"solving plan {sid} ({objective})")


def await_plan(ctx: AppContext, sid: int, seconds: float, progress: Progress, label: str) -> int:
    """Hand queued solves over and wait, with a bar on the solver's clock."""
    # in-process the solve runs inside the flush, so flush on a thread and watch the clock here
    threading.Thread(target=flush_enqueues, args=(ctx,), daemon=True).start()
    start, total, shown = time.monotonic(), max(1, int(seconds)), 0
    with progress(f"{label}, up to {total} s", total) as bar:
        while time.monotonic() - start < seconds + 120:
            with ctx.db.sessions() as s:
                if s.get_one(Schedule, sid).solver_status != "PENDING":
                    bar.update(total - shown)
                    return sid
            tick = min(total, int(time.monotonic() - start))
            bar.update(tick - shown)
            shown = tick
            time.sleep(0.5)
    raise TimeoutError(f"plan {sid} was not solved; is a worker running on the plan queue?")


def plan_and_release(
    ctx: AppContext, seconds: float, progress: Progress, report: DemoReport
) -> int:
    planner = Actor("demo planner")
    sid = solved(ctx, "due_dates", seconds, progress)
    with ctx.db.transaction() as s:
        row = approve(s, sid, planner)
        report.kpis = dict(row.kpis)
        release(s, sid, planner, ctx.settings.public_url)
    return sid


def connect_floor(ctx: AppContext, workdir: Path, report: DemoReport) -> list[Any]:
    """Point machines at real peers: MQTT broker, an OPC UA receiver, a virtual OctoPrint.

    Machines whose peer is not available use a hot folder under var/, and the report says so.
    """
    from mes_bridge.transports.opcua_receiver import JobControlReceiver
    from orders.demo_peers import mqtt_reachable, start_octoprint
    from orders.intake import opcua_state_listener

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
    from orders.models import OutboxMessage, OutboxStatus
    from orders.services.shopfloor import dispatch_job_orders, transports_for

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
