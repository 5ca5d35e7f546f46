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
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.models import Assignment, Operation, OrderLine, ProductConfiguration, Schedule
from orders.models.operations import OperationStatus
from orders.shop import shop_numbers

MAX_ROWS = 2000  # the most finished-job rows one question reads


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


def _finished(
    session: Session, where: tuple[Any, ...], lo: int, hi: int
) -> list[tuple[int, Sample | None]]:
    """Rows lo..hi of the finished shaping jobs (newest first) as samples; an operation counts
    once, on the machine of the newest released plan that placed it (where it ran)."""
    rows = session.execute(
        select(
            Operation.id,
            Operation.process,
            Operation.eligible,
            Operation.started_at,
            Operation.ended_at,
            Assignment.machine_id,
            ProductConfiguration.family_key,
        )
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
            *where,
        )
        .order_by(Operation.ended_at.desc(), Operation.id.desc(), Schedule.version.desc())
        .offset(lo)
        .limit(hi - lo)
    ).all()
    return [(op_id, _sample(*rest)) for op_id, *rest in rows]


def _sample(
    process: str,
    eligible: dict[str, int],
    started: datetime,
    ended: datetime,
    machine_id: str,
    family_key: str,
) -> Sample | None:
    estimated = eligible.get(machine_id)
    actual = (ended - started).total_seconds() / 60
    if estimated and estimated > 0 and actual > 0:
        return Sample(family_key, process, machine_id, float(estimated), actual)
    return None


def _collect(
    session: Session, where: tuple[Any, ...], wanted: int, page: int, pages: int | None = None
) -> list[Sample]:
    """Up to `wanted` samples, newest first, read a page of rows at a time (at most `pages`)."""
    seen: set[int] = set()
    out: list[Sample] = []
    lo = 0
    while len(out) < wanted:
        rows = _finished(session, where, lo, lo + page)
        for op_id, sample in rows:
            if op_id in seen:  # the newest plan that placed it is where it ran
                continue
            seen.add(op_id)
            if sample is not None and len(out) < wanted:
                out.append(sample)
        lo += page
        if len(rows) < page or (pages is not None and lo >= pages * page):
            break
    return out


def samples(session: Session, limit: int = MAX_ROWS) -> list[Sample]:
    """Finished shaping jobs, newest first, on the machine their released plan gave them."""
    return _collect(session, (), limit, limit, pages=1)


def time_correction(session: Session, family_key: str, process: str) -> Correction:
    """Median actual / estimated of the family's last finished jobs on this process, bounded.

    Only this family's and process's newest jobs are read (a quote asks on every keystroke),
    not the shop's whole history."""
    rules = shop_numbers().learning
    where = (ProductConfiguration.family_key == family_key, Operation.process == process)
    page = 2 * rules.window_jobs  # room for a job placed by two plans, or one without estimate
    mine = _collect(session, where, rules.window_jobs, page, pages=max(1, MAX_ROWS // page))
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
