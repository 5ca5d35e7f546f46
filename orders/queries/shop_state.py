"""Shop state as the configurator's plain values: machines, current load, measured geometry."""

from __future__ import annotations

from collections import defaultdict
from datetime import time
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
from orders.shop import shop_numbers

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


def machine_shifts(calendar: Calendar | None) -> tuple[Shift, ...]:
    """A calendar's weekly shifts as the configurator's values (none without a calendar)."""
    rows = calendar.shifts if calendar else []
    return tuple(
        Shift(int(r["weekday"]), time.fromisoformat(r["start"]), time.fromisoformat(r["end"]))
        for r in rows
    )


def shop_timezone(session: Session) -> ZoneInfo:
    """The first calendar's zone (shifts are local), else the shop's own ([locale] in shop.toml)."""
    cal = session.scalars(select(Calendar).order_by(Calendar.id)).first()
    return ZoneInfo(cal.timezone if cal else shop_numbers().locality.time_zone)


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
            per_process.setdefault(configurator.Process(m.process), machine_shifts(m.calendar))
    return configurator.ShopLoad(
        booked_hours=dict(booked),
        machines=dict(counts),
        shifts=machine_shifts(calendar),
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
