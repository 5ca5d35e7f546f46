"""Database rows → the scheduler's pure problem. `scheduler/` never sees the database.

Time is whole minutes from `origin` (the planning "now", floored to the minute). Machine
calendars become unavailability windows: off-shift time, maintenance and downtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import scheduler.problem as sp
from orders.models import (
    Assignment,
    Machine,
    MachineState,
    Operation,
    OperationStatus,
    OrderLine,
    Schedule,
    ScheduleState,
)
from orders.queries.plates import PlatePin, PlatePlan, plan_plates, released_plate_jobs
from orders.queries.power import power_plan, unpowered
from orders.shop import shop_numbers

PLANNABLE = (
    OperationStatus.PENDING,
    OperationStatus.SCHEDULED,
    OperationStatus.RELEASED,
    OperationStatus.RUNNING,
    OperationStatus.PAUSED,
)
STARTED = (OperationStatus.RUNNING, OperationStatus.PAUSED)
# Changeover minutes between setup families (process:material:colour) on one machine.


@dataclass(frozen=True)
class PlanningProblem:
    problem: sp.Problem
    origin: datetime
    op_rows: dict[str, int]  # scheduler op id -> Operation row id
    line_of_job: dict[str, int]  # scheduler job id -> OrderLine id
    plates: PlatePlan | None = None  # batched print jobs, their member operations and layouts
    pins: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # op key -> where wanted


def op_key(op_id: int) -> str:
    return f"op{op_id}"


def job_key(line_id: int) -> str:
    return f"line{line_id}"


def minutes(origin: datetime, at: datetime | None) -> int | None:
    return None if at is None else int((at - origin).total_seconds() // 60)


def at_minute(origin: datetime, m: int) -> datetime:
    return origin + timedelta(minutes=m)


def changeover(a: str, b: str) -> int:
    """Same family: none; same process+material (colour change) or a full material change."""
    if a == b:
        return 0
    pa, ma, _ = (a.split(":") + ["", ""])[:3]
    pb, mb, _ = (b.split(":") + ["", ""])[:3]
    minutes = shop_numbers().changeover_for(pb)
    return minutes.colour_minutes if (pa, ma) == (pb, mb) else minutes.material_minutes


def off_shift_windows(machine: Machine, origin: datetime, horizon: int) -> list[sp.Window]:
    """Unavailable time outside the machine's weekly shifts, over the horizon."""
    cal = machine.calendar
    if cal is None or not cal.shifts:
        return []
    tz = ZoneInfo(cal.timezone)
    end = origin + timedelta(minutes=horizon)
    day = origin.astimezone(tz).date() - timedelta(days=1)
    open_: list[tuple[int, int]] = []
    while datetime.combine(day, time(0), tz) < end:
        for sh in cal.shifts:
            if int(sh["weekday"]) == day.weekday():
                a = datetime.combine(day, time.fromisoformat(sh["start"]), tz)
                b = datetime.combine(day, time.fromisoformat(sh["end"]), tz)
                b = b if b > a else b + timedelta(days=1)
                open_.append((minutes(origin, a) or 0, minutes(origin, b) or 0))
        day += timedelta(days=1)
    windows, cursor = [], min(0, *(s for s, _ in open_)) if open_ else 0
    for s, e in sorted(open_):
        if s > cursor:
            windows.append(sp.Window(cursor, s, "off shift"))
        cursor = max(cursor, e)
    if cursor < horizon:
        windows.append(sp.Window(cursor, horizon, "off shift"))
    return [sp.Window(max(0, w.start), w.end, w.reason) for w in windows if w.end > 0]


def machine_windows(machine: Machine, origin: datetime, horizon: int) -> tuple[sp.Window, ...]:
    wins = off_shift_windows(machine, origin, horizon)
    for w in machine.windows:
        s = minutes(origin, w.start) or 0
        e = horizon if w.end is None else (minutes(origin, w.end) or 0)
        if e > max(s, 0):
            wins.append(sp.Window(max(s, 0), e, w.kind.value))
    if machine.state == MachineState.DOWN:
        wins.append(sp.Window(0, horizon, "machine down"))
    return tuple(sorted(wins, key=lambda w: (w.start, w.end)))


def released_assignments(session: Session) -> dict[int, Assignment]:
    current = session.scalars(
        select(Schedule)
        .where(Schedule.state == ScheduleState.RELEASED)
        .order_by(Schedule.version.desc())
        .limit(1)
    ).first()
    return {a.operation_id: a for a in current.assignments} if current else {}


def _frozen(
    op: Operation, origin: datetime, released: dict[int, Assignment], down: set[str]
) -> sp.FrozenAssignment | None:
    """Started work stays where it runs, unless its machine broke down: then it is planned again."""
    if op.status in STARTED and op.started_at is not None:
        machine = released[op.id].machine_id if op.id in released else op.pinned_machine_id
        if machine and machine in op.eligible and machine not in down:
            return sp.FrozenAssignment(machine, minutes(origin, op.started_at) or 0, running=True)
    return None


def _pinned(op: Operation, down: set[str]) -> str | None:
    """The machine a planner pinned this (not started) operation to, if it can run there."""
    if op.status in STARTED or not op.pinned_machine_id or op.pinned_start is None:
        return None
    if op.pinned_machine_id not in op.eligible or op.pinned_machine_id in down:
        return None
    return op.pinned_machine_id


def _placed(
    op: Operation, origin: datetime, released: dict[int, Assignment], down: set[str], relax: bool
) -> tuple[sp.FrozenAssignment | None, str | None]:
    """(frozen slot, pinned machine). A pin whose start is still ahead is frozen there ("keep it
    here"); one whose start has passed, or `relax`ed after a failed solve, keeps only its
    machine, so the work starts there no earlier than now instead of making the plan infeasible."""
    frozen = _frozen(op, origin, released, down)
    machine = None if frozen else _pinned(op, down)
    if machine and op.pinned_start is not None and op.pinned_start >= origin and not relax:
        frozen = sp.FrozenAssignment(machine, minutes(origin, op.pinned_start) or 0)
    return frozen, machine


def _plate_pins_taken(
    kept: list[sp.Job],
    members: dict[str, list[int]],
    ops: dict[int, Operation],
    plate_pins: dict[int, PlatePin],
) -> dict[str, tuple[str, datetime]]:
    """Plate op key -> (machine, wanted start) for released plates that took a member's pin,
    so a pin that cannot be kept is named for the plate like any other."""
    out: dict[str, tuple[str, datetime]] = {}
    for job in kept:
        op = job.operations[0]
        for member in members.get(op.id, []):
            pin, row = plate_pins.get(member), ops[member]
            if pin and set(op.eligible) == {pin.machine_id} and row.pinned_start is not None:
                out[op.id] = (pin.machine_id, row.pinned_start)
                break
    return out


def _pin_minute(op: Operation, origin: datetime, relax: bool) -> int | None:
    """The pinned start as a minute to freeze at, or None when only the machine is kept."""
    if relax or op.pinned_start is None or op.pinned_start < origin:
        return None
    return minutes(origin, op.pinned_start) or 0


def _eligible(op: Operation, usable: set[str]) -> dict[str, int]:
    return {m: d for m, d in op.eligible.items() if m in usable}


def build_problem(
    session: Session,
    now: datetime,
    horizon_days: int = 21,
    batch: bool = False,
    relax_pins: bool = False,
) -> PlanningProblem:
    """Every open operation of every line, with calendars and changeovers, as a scheduler Problem.

    With `batch`, pending FDM prints of one material and colour are packed onto plates first;
    with `relax_pins`, pinned operations keep their machine but not their start.
    """
    origin = now.astimezone(UTC).replace(second=0, microsecond=0)
    horizon = horizon_days * 24 * 60
    machines = list(session.scalars(select(Machine).order_by(Machine.id)))
    usable = {m.id for m in machines}
    released = released_assignments(session)
    ops = session.scalars(
        select(Operation)
        .where(Operation.status.in_(PLANNABLE))
        .order_by(Operation.order_line_id, Operation.seq)
    ).all()
    by_line: dict[int, list[Operation]] = {}
    for op in ops:
        by_line.setdefault(op.order_line_id, []).append(op)
    lines = {
        ln.id: ln for ln in session.scalars(select(OrderLine).where(OrderLine.id.in_(by_line)))
    }
    release = {
        o.id: max(0, minutes(origin, by_line[o.order_line_id][0].release_at) or 0) for o in ops
    }
    due = {o.id: minutes(origin, by_line[o.order_line_id][0].due_at) for o in ops}
    weight = {o.id: shop_numbers().weight(lines[o.order_line_id].tier) for o in ops}
    plates = plan_plates(session, list(ops), release, due, weight) if batch else PlatePlan()
    started = {
        o.id: minutes(origin, o.started_at) or 0
        for o in ops
        if o.status in STARTED and o.started_at is not None
    }
    # A machine that broke down, or lost its power, has its running work planned again.
    down = {m.id for m in machines if m.state == MachineState.DOWN} | unpowered(
        session, machines, origin
    )
    plate_pins = {
        o.id: PlatePin(machine, _pin_minute(o, origin, relax_pins))
        for o in ops
        if (machine := _pinned(o, down)) is not None
    }
    kept, kept_replaced, kept_members = released_plate_jobs(
        [o for o in ops if o.id not in plates.replaced], released, started, machines, plate_pins
    )
    plates.jobs.extend(kept)
    plates.replaced.update(kept_replaced)
    plates.members.update(kept_members)
    replaced = plates.replaced
    jobs, op_rows, line_of_job = [], {}, {}
    pins = _plate_pins_taken(kept, kept_members, {o.id: o for o in ops}, plate_pins)
    for line_id, line_ops in by_line.items():
        jk = job_key(line_id)
        sops: list[sp.Operation] = []
        after: tuple[str, ...] = ()
        for op in line_ops:
            if op.id in replaced:
                after = (replaced[op.id],)
                continue
            frozen, pinned = _placed(op, origin, released, down, relax_pins)
            if pinned and op.pinned_start is not None:
                pins[op_key(op.id)] = (pinned, op.pinned_start)
            sops.append(
                sp.Operation(
                    op_key(op.id),
                    jk,
                    _eligible(op, {pinned} if pinned else usable),
                    op.setup_family,
                    frozen,
                    after if not sops else (),
                )
            )
            op_rows[op_key(op.id)] = op.id
        first = line_ops[0].id
        jobs.append(sp.Job(jk, tuple(sops), release[first], due[first], weight[first]))
        line_of_job[jk] = line_id
    jobs.extend(plates.jobs)
    families = sorted({op.setup_family for op in ops if op.setup_family})
    matrix = {a: {b: changeover(a, b) for b in families} for a in families}
    power = power_plan(session, machines, origin, horizon)
    running = _running_spans(jobs)
    smachines = [
        sp.Machine(
            m.id,
            machine_windows(m, origin, horizon)
            + _clear_of(power.windows.get(m.id, []), running.get(m.id, [])),
            name=m.name,
        )
        for m in machines
    ]
    setups = {m.id: sp.SetupMatrix(m.id, matrix) for m in machines if families}
    problem = sp.Problem(
        tuple(jobs),
        tuple(smachines),
        setups,
        horizon=horizon,
        now=0,
        origin=origin,
        name=f"shop@{origin.isoformat()}",
        power=power.limits,
    )
    return PlanningProblem(problem, origin, op_rows, line_of_job, plates, pins)


def _running_spans(jobs: list[sp.Job]) -> dict[str, list[tuple[int, int]]]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for job in jobs:
        for op in job.operations:
            if op.frozen is not None:
                end = op.frozen.start + op.eligible[op.frozen.machine_id]
                spans.setdefault(op.frozen.machine_id, []).append((op.frozen.start, end))
    return spans


def _clear_of(windows: list[sp.Window], fixed: list[tuple[int, int]]) -> tuple[sp.Window, ...]:
    """An outage announced over work already placed starts, for planning, when that work ends:
    the work stays a fact (the floor reports the cut, if any, as "power lost")."""
    out = []
    for w in windows:
        start = max([w.start] + [e for s, e in fixed if s < w.end and w.start < e])
        if start < w.end:
            out.append(sp.Window(start, w.end, w.reason))
    return tuple(out)
