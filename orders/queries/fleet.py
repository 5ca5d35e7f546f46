"""The fleet board's rows: every printer's live status beside what the shop expects of it.

Live fields come from `printer_status` (written by the fleet poller, `adapters/fleet_poll.py`);
the job the plan has on the printer comes from the released plan (the running or paused job,
else the next released one, named as the station names it: a plate by its first member); the
loaded spool comes from stock. The board refreshes this every second for every open page, so
it is a fixed handful of queries for the whole fleet, never a query per printer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes_bridge.job_order_ids import job_order_id
from orders.models import (
    Assignment,
    Event,
    Machine,
    Operation,
    OperationStatus,
    PrinterStatusRow,
    Schedule,
    StockItem,
)
from orders.plate_gate import last_prints
from orders.queries.plans import current_release
from orders.queries.station import PRINT_PROCESSES

#: A row not heard from for this long is shown as stale (the poller refreshes `read_at` every 10 s).
STALE_AFTER = timedelta(seconds=30)
OPEN = (OperationStatus.RUNNING, OperationStatus.PAUSED, OperationStatus.RELEASED)
ACTIVE = ("running", "paused")


@dataclass(frozen=True)
class PlannedJob:
    job_order_id: str
    status: str  # running, paused or released (next)
    start: datetime


@dataclass(frozen=True)
class FleetRow:
    """One printer on the board; `live` is False until the poller has read it once."""

    machine_id: str
    name: str
    process: str
    transport: str
    machine_state: str  # up / down, as the planner set it
    live: bool
    connection: str
    job_state: str
    printer_job: str  # what the printer says it is printing
    progress: float | None
    eta_s: float | None
    nozzle_c: float | None
    bed_c: float | None
    material: str  # as the printer reports it
    error: str
    last_error: str
    last_error_at: datetime | None
    monitor_only: str
    changed_at: datetime | None
    read_at: datetime | None
    stale: bool
    planned: PlannedJob | None
    spool_id: int | None
    spool: str  # "petg orange, 812 g left"
    bed_clear_needed: bool


def _planned(session: Session, plan: Schedule | None) -> dict[str, PlannedJob]:
    """Per machine: the running/paused job of the released plan, else the next released one."""
    if plan is None:
        return {}
    rows = session.execute(
        select(Assignment.machine_id, Assignment.plate_key, Assignment.start, Operation)
        .join(Operation, Operation.id == Assignment.operation_id)
        .where(Assignment.schedule_id == plan.id, Operation.status.in_(OPEN))
        .order_by(Assignment.machine_id, Assignment.start, Assignment.operation_id)
    )
    firsts: dict[tuple[str, str], PlannedJob] = {}
    for machine_id, plate_key, start, op in rows:
        key = (machine_id, plate_key or f"op:{op.id}")
        if key not in firsts:  # a plate is one job order, named by its first member
            firsts[key] = PlannedJob(job_order_id(op.id, plan.version), op.status.value, start)
    out: dict[str, PlannedJob] = {}
    for (machine_id, _), job in firsts.items():
        best = out.get(machine_id)
        rank = (job.status not in ACTIVE, job.start)
        if best is None or rank < (best.status not in ACTIVE, best.start):
            out[machine_id] = job
    return out


def _needs_bed_clear(session: Session) -> set[str]:
    """Printers whose last finished print came after their last bed-clear confirmation (the
    station's rule, `plate_gate.bed_clear_needed`, for the whole fleet in a few queries)."""
    last_print = last_prints(session)  # where each print ran, as the station's gate reads it
    if not last_print:
        return set()
    clears = {
        m: at
        for m, at in session.execute(
            select(Event.entity_id, func.max(Event.at))
            .where(Event.entity_type == "bed_clear", Event.entity_id.in_(list(last_print)))
            .group_by(Event.entity_id)
        )
    }
    return {m for m, at in last_print.items() if clears.get(m) is None or clears[m] < at}


def fleet(session: Session, now: datetime | None = None) -> list[FleetRow]:
    """Every printer (print processes, or any machine the poller has a status for), by id."""
    now = now or datetime.now(UTC)
    status = {r.machine_id: r for r in session.scalars(select(PrinterStatusRow))}
    machines = session.scalars(
        select(Machine)
        .where(Machine.process.in_(PRINT_PROCESSES) | Machine.id.in_(list(status)))
        .order_by(Machine.id)
    ).all()
    spools = {
        i.machine_id: i
        for i in session.scalars(select(StockItem).where(StockItem.machine_id.is_not(None)))
    }
    planned = _planned(session, current_release(session))
    needs_clear = _needs_bed_clear(session)
    out = []
    for m in machines:
        st, spool = status.get(m.id), spools.get(m.id)
        out.append(
            FleetRow(
                machine_id=m.id,
                name=m.name,
                process=m.process,
                transport=m.transport,
                machine_state=m.state.value,
                live=st is not None,
                connection=st.connection.value if st else "",
                job_state=st.job_state.value if st else "",
                printer_job=st.job_id if st else "",
                progress=st.progress if st else None,
                eta_s=st.eta_s if st else None,
                nozzle_c=st.nozzle_c if st else None,
                bed_c=st.bed_c if st else None,
                material=st.material if st else "",
                error=st.error if st else "",
                last_error=st.last_error if st else "",
                last_error_at=st.last_error_at if st else None,
                monitor_only=st.monitor_only if st else "",
                changed_at=st.changed_at if st else None,
                read_at=st.read_at if st else None,
                stale=st is not None and now - st.read_at > STALE_AFTER,
                planned=planned.get(m.id),
                spool_id=spool.id if spool else None,
                spool=(
                    f"{spool.material_id} {spool.colour}, {spool.grams_left:g} g left".strip()
                    if spool
                    else ""
                ),
                bed_clear_needed=m.id in needs_clear,
            )
        )
    return out


def as_json(row: FleetRow) -> dict[str, Any]:
    """A row for `/planner/fleet.json`: datetimes as ISO strings, the planned job flattened."""
    out = asdict(row)
    for key in ("last_error_at", "changed_at", "read_at"):
        value = getattr(row, key)
        out[key] = value.isoformat() if value else None
    planned = row.planned
    out["planned"] = (
        {"job_order_id": planned.job_order_id, "status": planned.status} if planned else None
    )
    return out
