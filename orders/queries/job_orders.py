"""Job orders as the floor receives them, built from the plan's rows.

The one place a job order, and a plate's bed map, is assembled: the release writes it to the
outbox, and the operator's packet rebuilds it when nothing was delivered yet.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mes_bridge.job_order_ids import job_order_id
from mes_bridge.packets import ArtifactRef, JobOrder, PlatePart
from orders.models import Artifact, Assignment, Operation, OrderLine, ProductConfiguration, Schedule
from orders.queries.catalog import load_config
from orders.shop import shop_numbers

FILE_KINDS = ("gcode", "stl", "3mf", "dxf", "step")


def _artifacts(session: Session, configuration_id: int, base_url: str) -> list[ArtifactRef]:
    rows = session.scalars(
        select(Artifact).where(
            Artifact.configuration_id == configuration_id, Artifact.kind.in_(FILE_KINDS)
        )
    )
    return [
        ArtifactRef(a.kind, f"{base_url}/api/artifacts/{a.id}", a.sha256, a.bytes) for a in rows
    ]


def build_job_order(
    session: Session, schedule: Schedule, assignment: Assignment, base_url: str
) -> JobOrder:
    """The job order for one assignment; a plate's assignment gives the whole plate's."""
    job = _single(session, schedule, assignment, base_url)
    if not assignment.plate_key:
        return job
    layouts = (schedule.kpis or {}).get("plates", {}).get("layouts", {})
    return _as_plate(
        session, schedule, assignment.plate_key, job, layouts.get(assignment.plate_key, [])
    )


def _single(
    session: Session, schedule: Schedule, assignment: Assignment, base_url: str
) -> JobOrder:
    op = session.get_one(Operation, assignment.operation_id)
    line = session.get_one(OrderLine, op.order_line_id)
    config = session.get_one(ProductConfiguration, line.configuration_id)
    values = load_config(config).values
    grams = 0.0
    step = session.scalars(
        select(Artifact).where(Artifact.configuration_id == config.id, Artifact.kind == "step")
    ).first()
    primary = op.setup_family is not None  # shaping steps carry a setup family
    if step is not None and primary:
        grams = float((step.meta or {}).get("filament_g") or 0.0) * op.quantity
    return JobOrder(
        job_order_id=job_order_id(op.id, schedule.version),
        family_key=config.family_key,
        family_version=str(config.family_version),
        machine_id=assignment.machine_id,
        material=str(values.get("material", "-")),
        colour=str(values.get("colour", "")),
        grams=round(grams, 2),
        parameters=dict(values),
        scheduled_start=assignment.start,
        scheduled_end=assignment.end,
        priority=shop_numbers().priority(line.tier),
        artifacts=tuple(_artifacts(session, config.id, base_url)) if primary else (),
        order_line_url=f"{base_url}/orders/{line.order_id}#line-{line.id}",
        description=f"{op.step} for order {line.order_id} line {line.id}",
        quantity=op.quantity,
    )


def _as_plate(
    session: Session,
    schedule: Schedule,
    plate_key: str,
    job: JobOrder,
    layout: list[dict[str, Any]],
) -> JobOrder:
    """The plate's job order: every member's quantity, and the bed map of which part is whose."""
    members = [x for x in schedule.assignments if x.plate_key == plate_key]
    qty = sum(session.get_one(Operation, x.operation_id).quantity for x in members)
    parts = tuple(
        PlatePart(
            str(p["order_line_id"]),
            float(p["x_mm"]),
            float(p["y_mm"]),
            float(p["w_mm"]),
            float(p["h_mm"]),
            str(p.get("part", "")),
        )
        for p in layout
    )
    return replace(
        job,
        quantity=qty,
        plate=parts,
        description=f"plate {plate_key}: {len(members)} order lines, {qty} parts",
    )
