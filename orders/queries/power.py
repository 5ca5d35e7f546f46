"""Load-shedding as the planner sees it: outages per feeder, turned into machine windows and
backup power limits for the scheduler, and the machines that have no power right now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import scheduler.problem as sp
from orders.models import (
    Assignment,
    Machine,
    Operation,
    OperationStatus,
    PowerOutage,
    Schedule,
    ScheduleState,
)
from orders.power import MachinePower, power_rules

LOAD_SHEDDING = "load-shedding"


def outages_between(session: Session, start: datetime, end: datetime) -> list[PowerOutage]:
    """Outages that overlap [start, end), open ones (power still out) included."""
    return list(
        session.scalars(
            select(PowerOutage)
            .where(PowerOutage.start_at < end)
            .where(or_(PowerOutage.end_at.is_(None), PowerOutage.end_at > start))
            .order_by(PowerOutage.start_at, PowerOutage.feeder)
        )
    )


@dataclass(frozen=True)
class MachineSupply:
    machine_id: str
    name: str
    power: MachinePower


def supplies(machines: Sequence[Machine]) -> list[MachineSupply]:
    rules = power_rules()
    return [MachineSupply(m.id, m.name, rules.for_machine(m.id, m.process)) for m in machines]


@dataclass
class PowerPlan:
    """What the scheduler needs: extra windows per machine and one limit per backup."""

    windows: dict[str, list[sp.Window]] = field(default_factory=dict)
    limits: tuple[sp.PowerLimit, ...] = ()


def _span(origin: datetime, horizon: int, outage: PowerOutage) -> tuple[int, int]:
    start = int((outage.start_at - origin).total_seconds() // 60)
    end = (
        horizon
        if outage.end_at is None
        else -(-int((outage.end_at - origin).total_seconds()) // 60)
    )
    return start, min(end, horizon)


def power_plan(
    session: Session, machines: Sequence[Machine], origin: datetime, horizon: int
) -> PowerPlan:
    """A machine on the grid alone cannot work in its feeder's outage; a UPS carries it for the
    UPS's minutes, a generator throughout; while a backup carries its machines, they share
    its kilowatts (watts on the scheduler's axis). Open outages last to the horizon."""
    plan = PowerPlan()
    outages = outages_between(session, origin, origin + timedelta(minutes=horizon))
    carried: dict[str, list[sp.Window]] = {}
    draws: dict[str, dict[str, int]] = {}
    for supply in supplies(machines):
        power = supply.power
        if power.backup is not None:
            draws.setdefault(power.backup.name, {})[supply.machine_id] = round(power.draw_kw * 1000)
        for outage in outages:
            if outage.feeder != power.feeder:
                continue
            start, end = _span(origin, horizon, outage)
            covered = start + power.carried_minutes(end - start)
            if end > max(covered, 0):
                plan.windows.setdefault(supply.machine_id, []).append(
                    sp.Window(max(covered, 0), end, LOAD_SHEDDING)
                )
            if power.backup is not None and covered > start:
                carried.setdefault(power.backup.name, []).append(sp.Window(start, covered))
    backups = power_rules().backups
    plan.limits = tuple(
        sp.PowerLimit(name, round(backups[name].kw * 1000), draws[name], tuple(carried[name]))
        for name in sorted(carried)
    )
    return plan


def unpowered(session: Session, machines: Sequence[Machine], now: datetime) -> set[str]:
    """Machines with no power at `now`: their feeder is out and no backup (or an exhausted
    UPS) carries them. Work running on them was cut and is planned again from scratch."""
    out: set[str] = set()
    current = outages_between(session, now, now + timedelta(seconds=1))
    for supply in supplies(machines):
        for outage in current:
            if outage.feeder != supply.power.feeder:
                continue
            minutes_out = (now - outage.start_at).total_seconds() / 60
            if supply.power.carried_minutes(10**9) <= minutes_out:
                out.add(supply.machine_id)
    return out


def interrupted_work(session: Session, feeder: str) -> list[str]:
    """Running work on the feeder's machines that no backup carries: what a power loss cuts
    ("op 12 on fdm-xl-01"), from the released plan's machine for each running operation."""
    machines = list(session.scalars(select(Machine).order_by(Machine.id)))
    cut = {m.id for m in machines if m.id in unpowered_by(feeder, machines)}
    if not cut:
        return []
    rows = session.execute(
        select(Operation.id, Assignment.machine_id)
        .join(Assignment, Assignment.operation_id == Operation.id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(Schedule.state == ScheduleState.RELEASED)
        .where(Operation.status.in_((OperationStatus.RUNNING, OperationStatus.PAUSED)))
        .where(Assignment.machine_id.in_(cut))
        .order_by(Assignment.machine_id, Operation.id)
    ).all()
    return [f"op {op_id} on {machine_id}" for op_id, machine_id in rows]


def unpowered_by(feeder: str, machines: Sequence[Machine]) -> set[str]:
    """Machines a loss of `feeder` stops at once (no backup carries them)."""
    return {
        s.machine_id
        for s in supplies(machines)
        if s.power.feeder == feeder and s.power.backup is None
    }
