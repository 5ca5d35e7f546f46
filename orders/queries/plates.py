"""Plate batching for planning: pending FDM print operations of the same material and colour are
packed onto build plates (the scheduler's MaxRects packer) and planned as one print job each.
Every part keeps its order line: a plate's assignment is recorded on each member operation."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import scheduler.problem as sp
from orders.models import Artifact, Machine, MachineState, Operation, OperationStatus, OrderLine
from orders.shop import shop_numbers
from scheduler.batching import BatchReport, Part, PlateSpec, batch_parts


@dataclass
class PlatePlan:
    jobs: list[sp.Job] = field(default_factory=list)
    members: dict[str, list[int]] = field(default_factory=dict)  # plate op id -> Operation ids
    layouts: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    replaced: dict[int, str] = field(default_factory=dict)  # Operation id -> plate op id
    setups_saved: int = 0
    minutes_saved: int = 0


def _footprint(session: Session, line: OrderLine) -> tuple[float, float] | None:
    meta = session.scalar(
        select(Artifact.meta).where(
            Artifact.configuration_id == line.configuration_id, Artifact.kind == "step"
        )
    )
    bbox = ((meta or {}).get("metrics") or {}).get("bbox_mm")
    return (float(bbox[0]), float(bbox[1])) if bbox else None


def _bed_groups(machines: list[Machine]) -> dict[tuple[float, float], list[Machine]]:
    groups: dict[tuple[float, float], list[Machine]] = defaultdict(list)
    for m in machines:
        if m.process == "fdm":
            groups[(m.build_x_mm, m.build_y_mm)].append(m)
    return groups


def plan_plates(
    session: Session,
    ops: list[Operation],
    release: dict[int, int],
    due: dict[int, int | None],
    weight: dict[int, int],
) -> PlatePlan:
    """Batch pending FDM print ops onto plates per bed size; a plate of one part is not made."""
    plan = PlatePlan()
    candidates = [
        o
        for o in ops
        if o.process == "fdm"
        and o.setup_family
        and o.status == OperationStatus.PENDING
        and not o.pinned_machine_id
    ]
    machines = list(session.scalars(select(Machine)))
    for (bx, by), bed_machines in sorted(_bed_groups(machines).items()):
        ids = {m.id for m in bed_machines}
        mine = [o for o in candidates if o.id not in plan.replaced and ids & set(o.eligible)]
        parts, per_op = _parts(session, mine)
        report = batch_parts(
            parts, PlateSpec(bx, by, overhead_minutes=shop_numbers().plate_overhead_minutes)
        )
        _add_plates(plan, report, per_op, {m.id: m for m in bed_machines}, release, due, weight)
    return plan


def _parts(session: Session, ops: list[Operation]) -> tuple[list[Part], dict[str, Operation]]:
    parts, per_part = [], {}
    for op in ops:
        line = session.get_one(OrderLine, op.order_line_id)
        fp = _footprint(session, line)
        if fp is None or not op.eligible or not op.setup_family:
            continue
        _, material, colour = (op.setup_family.split(":") + ["", ""])[:3]
        # the line's own print setup (heat, level, cool) becomes the plate's one overhead
        run = max(1, min(op.eligible.values()) - shop_numbers().plate_overhead_minutes)
        minutes = max(1, math.ceil(run / op.quantity))
        for k in range(op.quantity):
            pid = f"op{op.id}.{k}"
            parts.append(Part(pid, str(line.id), "fdm", material, colour, fp[0], fp[1], minutes))
            per_part[pid] = op
    return parts, per_part


def _add_plates(
    plan: PlatePlan,
    report: BatchReport,
    per_part: dict[str, Operation],
    machines: dict[str, Machine],
    release: dict[int, int],
    due: dict[int, int | None],
    weight: dict[int, int],
) -> None:
    for n, plate in enumerate(report.plates):
        ops = {per_part[p.part_id].id: per_part[p.part_id] for p in plate.placements}
        if len(ops) < 2:
            continue  # one line alone on a plate plans as it is
        eligible = set.intersection(*(set(o.eligible) for o in ops.values())) & set(machines)
        if not eligible:
            continue
        pid = f"plate{len(plan.jobs) + 1}-{n}"
        family = next(iter(ops.values())).setup_family
        durations = {
            m: max(1, math.ceil(plate.minutes / machines[m].speed_factor)) for m in eligible
        }
        dues = [d for i in ops if (d := due.get(i)) is not None]
        job = sp.Job(
            pid,
            (sp.Operation(f"{pid}.print", pid, durations, family),),
            release=max(release.get(i, 0) for i in ops),
            due=min(dues) if dues else None,
            weight=max(weight.get(i, 1) for i in ops),
        )
        plan.jobs.append(job)
        plan.members[f"{pid}.print"] = sorted(ops)
        plan.layouts[f"{pid}.print"] = [
            {
                "order_line_id": p.order_line_id,
                "part": p.part_id,
                "x_mm": p.x,
                "y_mm": p.y,
                "w_mm": p.width,
                "h_mm": p.depth,
            }
            for p in plate.placements
        ]
        for oid in ops:
            plan.replaced[oid] = f"{pid}.print"
        plan.setups_saved += len(ops) - 1
        plan.minutes_saved += sum(min(o.eligible.values()) for o in ops.values()) - plate.minutes


@dataclass(frozen=True)
class PlatePin:
    """A planner's pin on a member of a released plate, which moves the whole plate."""

    machine_id: str
    start: int | None  # minute from the origin to freeze at; None: only the machine is kept


def _pinned_slot(
    group: list[Operation], pins: dict[int, PlatePin], bed: list[Machine]
) -> PlatePin | None:
    """The pin of the plate's first pinned member, if its machine has the plate's bed and works
    (the pin command refuses another bed; a machine down since waits for the rescheduling)."""
    usable = {m.id for m in bed if m.state != MachineState.DOWN}
    for op in sorted(group, key=lambda o: o.id):
        pin = pins.get(op.id)
        if pin is not None and pin.machine_id in usable:
            return pin
    return None


def released_plate_jobs(
    ops: list[Operation],
    released: dict[int, Any],
    frozen_start: dict[int, int],
    machines: list[Machine],
    pins: dict[int, PlatePin] | None = None,
) -> tuple[list[sp.Job], dict[int, str], dict[str, list[int]]]:
    """Plates already released stay plates: their members are planned as one job again.

    `frozen_start` holds start minutes of started ops. A plate stays on its machine; if that
    machine is down, the plate (started or not) may move to a working machine with the same bed.
    A plate not yet started goes where a planner pinned one of its members (`pins`): the parts
    share one print, so they move together.
    """
    groups: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        a = released.get(op.id)
        if a is not None and a.plate_key:
            groups[a.plate_key].append(op)
    by_id = {m.id: m for m in machines}
    beds = _bed_groups(machines)
    jobs, replaced, members = [], {}, {}
    for key, group in groups.items():
        a = released[group[0].id]
        pid = f"re-{key}"
        duration = max(1, int((a.end - a.start).total_seconds() // 60))
        started = [frozen_start[o.id] for o in group if o.id in frozen_start]
        home = by_id.get(a.machine_id)
        if home is not None and home.state == MachineState.DOWN:
            same_bed = beds.get((home.build_x_mm, home.build_y_mm), [])
            eligible = {m.id: duration for m in same_bed if m.state != MachineState.DOWN}
            eligible = eligible or {a.machine_id: duration}  # none left: it waits for the repair
            frozen = None  # the interrupted print is run again in full
        elif not started and home is not None and (pin := _plate_pin(group, pins, beds, home)):
            eligible = {pin.machine_id: duration}
            start = pin.start
            frozen = sp.FrozenAssignment(pin.machine_id, start) if start is not None else None
        else:
            eligible = {a.machine_id: duration}
            frozen = (
                sp.FrozenAssignment(a.machine_id, min(started), running=True) if started else None
            )
        plate_op = sp.Operation(f"{pid}.print", pid, eligible, group[0].setup_family, frozen)
        jobs.append(sp.Job(pid, (plate_op,), release=0))
        members[f"{pid}.print"] = sorted(o.id for o in group)
        for o in group:
            replaced[o.id] = f"{pid}.print"
    return jobs, replaced, members


def _plate_pin(
    group: list[Operation],
    pins: dict[int, PlatePin] | None,
    beds: dict[tuple[float, float], list[Machine]],
    home: Machine,
) -> PlatePin | None:
    if not pins:
        return None
    return _pinned_slot(group, pins, beds.get((home.build_x_mm, home.build_y_mm), []))
