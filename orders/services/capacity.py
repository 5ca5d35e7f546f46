"""Shop state as the configurator's plain values: machines, current load, measured geometry."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import date, datetime, time
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import configurator
from configurator.calendar import Shift
from orders.models import (
    Artifact,
    Calendar,
    Machine,
    MachineState,
    Operation,
    OperationStatus,
    ProductConfiguration,
)

OPEN_OPS = (
    OperationStatus.PENDING,
    OperationStatus.SCHEDULED,
    OperationStatus.RELEASED,
    OperationStatus.RUNNING,
    OperationStatus.PAUSED,
)


def machine_specs(session: Session, *, up_only: bool = True) -> list[configurator.MachineSpec]:
    query = select(Machine).order_by(Machine.id)
    if up_only:
        query = query.where(Machine.state == MachineState.UP)
    return [to_spec(m) for m in session.scalars(query)]


def to_spec(m: Machine) -> configurator.MachineSpec:
    return configurator.MachineSpec(
        id=m.id,
        name=m.name,
        process=configurator.Process(m.process),
        materials=tuple(m.materials),
        build_volume_mm=(m.build_x_mm, m.build_y_mm, m.build_z_mm),
        speed_factor=m.speed_factor,
        hourly_rate=m.hourly_rate,
    )


def _shifts(calendar: Calendar | None) -> tuple[Shift, ...]:
    rows = calendar.shifts if calendar else []
    return tuple(
        Shift(int(r["weekday"]), time.fromisoformat(r["start"]), time.fromisoformat(r["end"]))
        for r in rows
    )


def shop_timezone(session: Session) -> ZoneInfo:
    cal = session.scalars(select(Calendar).order_by(Calendar.id)).first()
    return ZoneInfo(cal.timezone if cal else "UTC")


def shop_load(session: Session) -> configurator.ShopLoad:
    """Booked hours per process (open operations at their fastest machine) and machine counts."""
    counts: dict[configurator.Process, int] = defaultdict(int)
    for spec in machine_specs(session):
        counts[spec.process] += 1
    booked: dict[configurator.Process, float] = defaultdict(float)
    for op in session.scalars(select(Operation).where(Operation.status.in_(OPEN_OPS))):
        if op.eligible:
            booked[configurator.Process(op.process)] += min(op.eligible.values()) / 60
    calendar = session.scalars(select(Calendar).order_by(Calendar.id)).first()
    per_process: dict[configurator.Process, tuple[Shift, ...]] = {}
    for m in session.scalars(select(Machine).where(Machine.state == MachineState.UP)):
        if m.calendar is not None:
            per_process.setdefault(configurator.Process(m.process), _shifts(m.calendar))
    return configurator.ShopLoad(
        booked_hours=dict(booked),
        machines=dict(counts),
        shifts=_shifts(calendar),
        process_shifts=per_process,
    )


def metrics_for(session: Session, row: ProductConfiguration) -> configurator.GeometryMetrics | None:
    """Measured geometry recorded by the CAD job, if the design has been built."""
    metas = session.scalars(select(Artifact.meta).where(Artifact.configuration_id == row.id)).all()
    for meta in metas:
        m = (meta or {}).get("metrics")
        if m:
            return configurator.GeometryMetrics(
                volume_mm3=m["volume_mm3"],
                area_mm2=m["area_mm2"],
                bbox_mm=tuple(m["bbox_mm"]),
                print_minutes=m.get("print_minutes"),
                filament_g=m.get("filament_g"),
            )
    return None


CTP_TTL_S = 30.0  # a promise may miss orders placed in the last half minute; it never moves work
_books: dict[tuple[str, int], tuple[float, Any]] = {}
_books_lock = threading.Lock()


def _released_book(session: Session, now: datetime) -> tuple[Any, Any, list[Machine]] | None:
    """The open order book as a scheduling problem with the released plan over it, rebuilt at
    most every CTP_TTL_S per database and release: every quote and order line asks for it, and
    building it costs time in proportion to the open operations."""
    from orders.services.planning import current_release, released_plan
    from orders.services.planning_problem import build_problem

    release = current_release(session)
    if release is None:
        return None
    key = (str(session.get_bind().engine.url), release.version)
    hit = _books.get(key)
    if hit is not None and monotonic() - hit[0] < CTP_TTL_S:
        return hit[1]
    pp = build_problem(session, now)
    plan = released_plan(session, pp)
    book = (pp, plan, list(session.scalars(select(Machine)))) if plan and plan.assignments else None
    with _books_lock:
        if len(_books) > 64:
            _books.clear()
        _books[key] = (monotonic(), book)
    return book


def promise_for(
    session: Session, config: configurator.Configuration, qty: int, tier: str, now: datetime
) -> date | None:
    """Earliest ship date in the shop's time zone; None if nothing fits.

    With a released plan, the scheduler's capable-to-promise slots the order into it without
    moving committed work; otherwise a capacity estimate over the machine calendars is used.
    """
    local_now = now.astimezone(shop_timezone(session))
    ctp = capable_to_promise(session, now)
    result = configurator.promise(config, qty, tier, shop_load(session), local_now, ctp=ctp)
    return result.ship_date if result.ok else None


def capable_to_promise(session: Session, now: datetime) -> configurator.CapableToPromise | None:
    """The scheduler's CTP over the released plan, as the configurator's `ctp` seam."""
    from orders.services.planning_problem import at_minute
    from orders.services.production import eligible_minutes, setup_family
    from scheduler.problem import Job
    from scheduler.problem import Operation as SOp
    from scheduler.promise import promise as ctp_promise

    found = _released_book(session, now)
    if found is None:
        return None
    pp, plan, machines = found

    def ctp(req: configurator.PromiseRequest) -> datetime | None:
        ops = []
        for i, step in enumerate(req.routing):
            bbox = step.requirements.get("bbox_mm")
            fits = {m.id: to_spec(m).fits(tuple(bbox)) for m in machines} if bbox else {}
            eligible = eligible_minutes(step, req.qty, machines, fits)
            ops.append(SOp(f"new{i}", "new", eligible, setup_family(step)))
        result = ctp_promise(pp.problem, plan, Job("new", tuple(ops)))
        return at_minute(pp.origin, result.completion) if result.ok and result.completion else None

    return ctp
