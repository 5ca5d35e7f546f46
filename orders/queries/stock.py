"""Filament stock as the floor and the planner need it: what each open job needs, what the
released plan reserves, whether a printer's loaded spool can finish a job, and low-stock alerts.

Grams come from the slicer: the design's STEP artifact carries `filament_g` per unit (the same
number the job order's `grams` field carries), marked an estimate when the analytic model made
it (`slicer = "analytic"`, no PrusaSlicer). Reserved grams are computed here from the released
plan and the ledger's consumed parts, never stored. Tracking is opt-in per printer: a printer
with no loaded spool recorded is never checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes_bridge.job_order_ids import job_order_id
from orders.models import (
    Artifact,
    Assignment,
    Machine,
    Operation,
    OperationStatus,
    OrderLine,
    ProductConfiguration,
    Schedule,
    StockItem,
    StockKind,
    StockMove,
)
from orders.queries.catalog import load_config
from orders.queries.plans import current_release
from orders.shop import ShopDataError, shop_data

OPEN = (OperationStatus.RELEASED, OperationStatus.RUNNING, OperationStatus.PAUSED)
ACTIVE = (OperationStatus.RUNNING, OperationStatus.PAUSED)
UNPLANNED = (OperationStatus.PENDING, OperationStatus.SCHEDULED)
STOCK_KEYS = (
    "margin_percent",
    "margin_g",
    "spool_tare_g",
    "standard_spool_g",
    "low_stock_days",
    "low_stock_spare_g",
)


@dataclass(frozen=True)
class StockRules:
    """[stock] in data/shop.toml: the start margin, the default tare, alert and reorder sizes."""

    margin_percent: float
    margin_g: float
    spool_tare_g: float
    standard_spool_g: float
    low_stock_days: int
    low_stock_spare_g: float

    def with_margin(self, grams: float) -> float:
        return round(grams * (1 + self.margin_percent / 100) + self.margin_g, 1)


@cache
def stock_rules() -> StockRules:
    raw = shop_data().get("stock", {})
    values = {}
    for key in STOCK_KEYS:
        v = raw.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ShopDataError(f"stock.{key} must be a number >= 0, got {v!r}")
        values[key] = v
    if values["standard_spool_g"] <= 0:
        raise ShopDataError("stock.standard_spool_g must be more than 0")
    return StockRules(
        margin_percent=float(values["margin_percent"]),
        margin_g=float(values["margin_g"]),
        spool_tare_g=float(values["spool_tare_g"]),
        standard_spool_g=float(values["standard_spool_g"]),
        low_stock_days=int(values["low_stock_days"]),
        low_stock_spare_g=float(values["low_stock_spare_g"]),
    )


@dataclass(frozen=True)
class Need:
    """What one printing operation still needs: `grams` for its parts not yet accounted for."""

    operation_id: int
    material: str
    colour: str
    grams_per_unit: float
    parts_open: int
    estimate: bool  # True: the analytic model's grams, not PrusaSlicer's

    @property
    def grams(self) -> float:
        return round(self.grams_per_unit * self.parts_open, 2)


def _consumed_parts(session: Session, op_id: int) -> int:
    done = session.scalar(
        select(func.coalesce(func.sum(StockMove.parts), 0)).where(StockMove.operation_id == op_id)
    )
    return int(done or 0)


def need_of(session: Session, op: Operation) -> Need | None:
    """The filament an FDM shaping operation still needs; None for any other step."""
    if op.process != "fdm" or op.setup_family is None:
        return None
    line = session.get_one(OrderLine, op.order_line_id)
    config = session.get_one(ProductConfiguration, line.configuration_id)
    values = load_config(config).values
    step = session.scalars(
        select(Artifact).where(Artifact.configuration_id == config.id, Artifact.kind == "step")
    ).first()
    meta = (step.meta or {}) if step is not None else {}
    per_unit = float(meta.get("filament_g") or 0.0)
    estimate = step is None or meta.get("slicer") in (None, "analytic")
    parts = max(op.quantity - _consumed_parts(session, op.id), 0)
    return Need(
        op.id,
        str(values.get("material", "")),
        str(values.get("colour", "")),
        per_unit,
        parts,
        estimate,
    )


@dataclass(frozen=True)
class Reservation:
    """A released job's need and where and when the plan runs it."""

    need: Need
    job_order_id: str
    machine_id: str
    start: datetime
    status: OperationStatus


def reservations(session: Session) -> list[Reservation]:
    """The released plan's open FDM jobs, by start: what the plan reserves."""
    plan = current_release(session)
    if plan is None:
        return []
    out = []
    for a in sorted(plan.assignments, key=lambda x: x.start):
        op = session.get_one(Operation, a.operation_id)
        if op.status not in OPEN:
            continue
        need = need_of(session, op)
        if need is not None and need.parts_open:
            out.append(
                Reservation(
                    need, job_order_id(op.id, plan.version), a.machine_id, a.start, op.status
                )
            )
    return out


def job_need(session: Session, op: Operation, plan: Schedule) -> tuple[float, Need | None]:
    """Grams the job order of `op` still needs (a plate: all its members) and one member's need."""
    mine = next(a for a in plan.assignments if a.operation_id == op.id)
    members = [mine]
    if mine.plate_key:
        members = [a for a in plan.assignments if a.plate_key == mine.plate_key]
    needs = [need_of(session, session.get_one(Operation, a.operation_id)) for a in members]
    found = [n for n in needs if n is not None]
    return round(sum(n.grams for n in found), 2), (found[0] if found else None)


def loaded_spool(session: Session, machine_id: str) -> StockItem | None:
    return session.scalar(select(StockItem).where(StockItem.machine_id == machine_id))


def busy_machines(session: Session) -> set[str]:
    """Printers running or pausing a job of the released plan (their spool is in use)."""
    plan = current_release(session)
    if plan is None:
        return set()
    return set(
        session.scalars(
            select(Assignment.machine_id)
            .join(Operation, Operation.id == Assignment.operation_id)
            .where(Assignment.schedule_id == plan.id, Operation.status.in_(ACTIVE))
        )
    )


def spool_label(item: StockItem) -> str:
    where = f"on {item.machine_id}" if item.machine_id else (item.location or "no location")
    return (
        f"spool #{item.id} ({item.material_id} {item.colour}, {item.grams_left:g} g left, {where})"
    )


def spool_that_fits(
    session: Session, material: str, colour: str, grams: float, machine_id: str
) -> StockItem | None:
    """The smallest spool of that material and colour holding `grams`, on the shelf or on an idle
    printer (never one a running job uses): finishing small spools first saves shelf space."""
    busy = busy_machines(session)
    rows = session.scalars(
        select(StockItem)
        .where(
            StockItem.kind == StockKind.SPOOL,
            StockItem.material_id == material,
            StockItem.colour == colour,
            StockItem.grams_left >= grams,
        )
        .order_by(StockItem.machine_id.is_not(None), StockItem.grams_left, StockItem.id)
    )
    return next((r for r in rows if r.machine_id != machine_id and r.machine_id not in busy), None)


def start_refusal(session: Session, op: Operation, machine_id: str, plan: Schedule) -> str:
    """Why this printer's loaded spool cannot run the job order ('' when it can, or when the
    printer has no spool recorded: tracking is opt-in). The message names a spool that can."""
    spool = loaded_spool(session, machine_id)
    if spool is None:
        return ""
    grams, need = job_need(session, op, plan)
    if need is None:
        return ""
    rules = stock_rules()
    wanted = rules.with_margin(grams) if grams > 0 else 0.0
    job = job_order_id(op.id, plan.version)
    what = f"{need.material} {need.colour}"
    if (spool.material_id, spool.colour) != (need.material, need.colour):
        problem = f"{machine_id} has {spool_label(spool)} loaded but {job} needs {what}"
    elif spool.grams_left < wanted:
        problem = (
            f"{spool_label(spool)} cannot finish {job}: it needs {wanted:g} g "
            f"({grams:g} g{' estimated' if need.estimate else ''} plus margin)"
        )
    else:
        return ""
    other = spool_that_fits(session, need.material, need.colour, wanted, machine_id)
    if other is None:
        return f"{problem}. No spool of {what} has {wanted:g} g: receive or weigh one in."
    return f"{problem}. Load {spool_label(other)} instead."


@dataclass(frozen=True)
class FloorWarning:
    job_order_id: str
    machine_id: str
    message: str


def floor_warnings(session: Session) -> list[FloorWarning]:
    """The start check for every released job not yet started on a printer with a spool: the
    planner sees what the operator would be refused."""
    plan = current_release(session)
    if plan is None:
        return []
    out, seen = [], set()
    for r in reservations(session):
        if r.status != OperationStatus.RELEASED or r.job_order_id in seen:
            continue
        op = session.get_one(Operation, r.need.operation_id)
        message = start_refusal(session, op, r.machine_id, plan)
        if message:
            out.append(FloorWarning(r.job_order_id, r.machine_id, message))
        seen.add(r.job_order_id)
    return out


@dataclass(frozen=True)
class MaterialBalance:
    """One material and colour: grams on hand against what the plan and due work will use."""

    material: str
    colour: str
    on_hand_g: float
    reserved_g: float
    demand_g: float
    spools: int
    estimate: bool
    level: str  # ok | low | short
    reorder_spools: int

    @property
    def free_g(self) -> float:
        return round(self.on_hand_g - self.reserved_g, 1)


def _unplanned(session: Session, until: datetime) -> list[Need]:
    """Open FDM work not in the released plan (waiting for a plan) due by `until`."""
    ops = session.scalars(
        select(Operation).where(
            Operation.status.in_(UNPLANNED),
            Operation.process == "fdm",
            (Operation.due_at.is_(None)) | (Operation.due_at <= until),
        )
    )
    return [n for n in (need_of(session, op) for op in ops) if n is not None and n.parts_open]


def balances(session: Session, now: datetime | None = None) -> list[MaterialBalance]:
    """Per material and colour, shortest first. Empty while no spool was ever recorded."""
    spools = session.scalars(select(StockItem).where(StockItem.kind == StockKind.SPOOL)).all()
    if not spools:
        return []
    rules = stock_rules()
    until = (now or datetime.now(UTC)) + timedelta(days=rules.low_stock_days)
    reserved = [r.need for r in reservations(session)]
    unplanned = _unplanned(session, until)
    keys = {(s.material_id, s.colour) for s in spools} | {
        (n.material, n.colour) for n in reserved + unplanned
    }
    out = []
    for material, colour in keys:
        mine = [s for s in spools if (s.material_id, s.colour) == (material, colour)]
        on_hand = round(sum(s.grams_left for s in mine), 1)
        res = [n for n in reserved if (n.material, n.colour) == (material, colour)]
        dem = [n for n in unplanned if (n.material, n.colour) == (material, colour)]
        reserved_g = round(sum(n.grams for n in res), 1)
        demand_g = round(sum(n.grams for n in dem), 1)
        gap = reserved_g + demand_g + rules.low_stock_spare_g - on_hand
        level = "short" if on_hand < reserved_g else "low" if gap > 0 else "ok"
        out.append(
            MaterialBalance(
                material,
                colour,
                on_hand,
                reserved_g,
                demand_g,
                sum(1 for s in mine if s.grams_left > 0),
                any(n.estimate for n in res + dem),
                level,
                math.ceil(gap / rules.standard_spool_g) if gap > 0 else 0,
            )
        )
    order = {"short": 0, "low": 1, "ok": 2}
    return sorted(out, key=lambda b: (order[b.level], b.free_g, b.material, b.colour))


def stock_items(session: Session) -> list[StockItem]:
    """Every item, spools first, loaded ones first, then by material and colour."""
    return list(
        session.scalars(
            select(StockItem).order_by(
                StockItem.kind.desc(),
                StockItem.machine_id.is_(None),
                StockItem.material_id,
                StockItem.colour,
                StockItem.id,
            )
        )
    )


def fdm_machines(session: Session) -> list[Machine]:
    return list(
        session.scalars(select(Machine).where(Machine.process == "fdm").order_by(Machine.id))
    )
