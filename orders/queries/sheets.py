"""Sheet stock as laser jobs use it: which stack a laser job cuts from and how many whole sheets
its parts take. The rule is the quote's (`configurator/pricing.material_cost_per_unit`): a
part's outline box times the laser `nesting_factor`, as a share of the material's sheet size.
Parts already accounted for are the ledger's (`stock_moves.parts`), as for filament.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from configurator.materials import materials
from configurator.pricebook import pricebook
from configurator.processes import Process
from orders.models import (
    Artifact,
    Operation,
    OrderLine,
    ProductConfiguration,
    StockItem,
    StockKind,
    StockMove,
)
from orders.queries.catalog import load_config


def _consumed_parts(session: Session, op_id: int) -> int:
    done = session.scalar(
        select(func.coalesce(func.sum(StockMove.parts), 0)).where(StockMove.operation_id == op_id)
    )
    return int(done or 0)


@dataclass(frozen=True)
class SheetNeed:
    """What one laser cutting operation still takes from a sheet stack: the pricing's rule
    (the part's outline box times `nesting_factor`, as a share of the material's sheet)."""

    operation_id: int
    material: str
    colour: str
    thickness_mm: float
    share_per_unit: float  # of one sheet
    parts_open: int

    def sheets(self, parts: int) -> int:
        """Whole sheets `parts` parts use: a job starts its own sheet, its offcut is not reused."""
        return math.ceil(round(self.share_per_unit * parts, 6)) if parts > 0 else 0


def sheet_need_of(session: Session, op: Operation) -> SheetNeed | None:
    """The sheet a laser shaping operation cuts from; None for another step, a design not yet
    built (no outline size) or a material without a sheet size."""
    if op.process != "laser" or op.setup_family is None:
        return None
    line = session.get_one(OrderLine, op.order_line_id)
    config = session.get_one(ProductConfiguration, line.configuration_id)
    values = load_config(config).values
    step = session.scalars(
        select(Artifact).where(Artifact.configuration_id == config.id, Artifact.kind == "step")
    ).first()
    bbox = ((step.meta or {}).get("metrics") or {}).get("bbox_mm") if step is not None else None
    mat = materials().get(str(values.get("material", "")))
    if not bbox or len(bbox) < 3 or mat is None or not mat.sheet_size_mm:
        return None
    nesting = float(pricebook().process[Process.LASER]["nesting_factor"])
    sheet_area = mat.sheet_size_mm[0] * mat.sheet_size_mm[1]
    thickness = float(values.get("thickness") or bbox[2])
    return SheetNeed(
        op.id,
        mat.key,
        str(values.get("colour", "") or ""),
        thickness,
        float(bbox[0]) * float(bbox[1]) * nesting / sheet_area,
        max(op.quantity - _consumed_parts(session, op.id), 0),
    )


def sheet_stack_for(session: Session, need: SheetNeed) -> StockItem | None:
    """The stack a laser job cuts from: same material and thickness, the job's colour or a stack
    with none recorded; an opened stack (fewest sheets, but not empty) first, then the oldest.
    None when no stack of that sheet is recorded (sheet tracking is opt-in per sheet)."""
    rows = session.scalars(
        select(StockItem)
        .where(
            StockItem.kind == StockKind.SHEET,
            StockItem.material_id == need.material,
            StockItem.colour.in_({need.colour, ""}),
            func.abs(StockItem.thickness_mm - need.thickness_mm) < 0.01,
        )
        .order_by(StockItem.sheets_left == 0, StockItem.sheets_left, StockItem.id)
    ).all()
    return rows[0] if rows else None
