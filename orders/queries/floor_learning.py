"""What the floor teaches about run times: estimated against actual minutes of finished jobs.

WHY: the quote's machine time is a model (the slicer's estimate, a removal rate, a cut speed),
and a shop's machines run faster or slower than any model. Start and completion events stamp
each operation; comparing them with the minutes the plan gave the operation on the machine
it ran on yields a per-family correction that quotes and promises apply, and a report that
shows the planner where the model is wrong. Plate members are left out: a plate's time is
shared by its parts, so it says nothing about one part's estimate.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.models import Assignment, Operation, OrderLine, ProductConfiguration, Schedule
from orders.models.operations import OperationStatus
from orders.shop import shop_numbers


@dataclass(frozen=True)
class Sample:
    """One finished shaping job: its family, process and machine, and both times."""

    family_key: str
    process: str
    machine_id: str
    estimated_minutes: float
    actual_minutes: float

    @property
    def ratio(self) -> float:
        return self.actual_minutes / self.estimated_minutes


@dataclass(frozen=True)
class Correction:
    """The factor to apply to estimated run time (1.0 until enough jobs have finished)."""

    factor: float
    jobs: int


def samples(session: Session, limit: int = 2000) -> list[Sample]:
    """Finished shaping jobs, newest first, on the machine their released plan gave them."""
    rows = session.execute(
        select(Operation, Assignment.machine_id, ProductConfiguration.family_key)
        .join(Assignment, Assignment.operation_id == Operation.id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .join(OrderLine, OrderLine.id == Operation.order_line_id)
        .join(ProductConfiguration, ProductConfiguration.id == OrderLine.configuration_id)
        .where(
            Operation.status == OperationStatus.DONE,
            Operation.setup_family.is_not(None),
            Operation.started_at.is_not(None),
            Operation.ended_at.is_not(None),
            Assignment.plate_key.is_(None),
            Schedule.state.in_(("released", "superseded")),
            Schedule.released_at.is_not(None),  # superseded proposals never ran
        )
        .order_by(Operation.ended_at.desc(), Schedule.version.desc())
        .limit(limit)
    )
    seen: set[int] = set()
    out: list[Sample] = []
    for op, machine_id, family_key in rows:
        if op.id in seen:  # the newest plan that placed it is where it ran
            continue
        seen.add(op.id)
        estimated = op.eligible.get(machine_id)
        actual = (op.ended_at - op.started_at).total_seconds() / 60
        if estimated and estimated > 0 and actual > 0:
            out.append(Sample(family_key, op.process, machine_id, float(estimated), actual))
    return out


def time_correction(session: Session, family_key: str, process: str) -> Correction:
    """Median actual / estimated of the family's last finished jobs on this process, bounded."""
    rules = shop_numbers().learning
    mine = [s for s in samples(session) if s.family_key == family_key and s.process == process]
    mine = mine[: rules.window_jobs]
    if len(mine) < rules.min_jobs:
        return Correction(1.0, len(mine))
    return Correction(round(rules.bounded(statistics.median(s.ratio for s in mine)), 3), len(mine))


def accuracy(session: Session) -> list[tuple[str, float]]:
    """Per family and machine: median actual / estimated, for the planner's report."""
    groups: dict[tuple[str, str], list[float]] = {}
    for s in samples(session):
        groups.setdefault((s.family_key, s.machine_id), []).append(s.ratio)
    return [
        (f"{family} on {machine} ({len(ratios)} jobs)", round(statistics.median(ratios), 3))
        for (family, machine), ratios in sorted(groups.items())
    ]
